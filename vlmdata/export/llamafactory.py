"""Export a vlmdata dataset for LLaMA-Factory (`vlmdata export --format llamafactory`).

LLaMA-Factory reads multimodal SFT data in its sharegpt format with OpenAI-style turns: a JSON list of
`{"messages": [{"role": ..., "content": ...}, ...], "images": [...]}`, where the user turn holds one `<image>`
tag per image, registered in a `dataset_info.json` beside the data under a dataset name:

    "NAME": {"file_name": "OUT.json", "formatting": "sharegpt",
             "columns": {"messages": "messages", "images": "images"},
             "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                      "assistant_tag": "assistant", "system_tag": "system"}}

The conversations are exactly the ms-swift export's (`vlmdata.export.export_line`: same templates, same system
prompt, absolute image paths), so the three exports train on the same text. Per-record pixel bounds
(`metadata.min_pixels`/`max_pixels`) have no per-sample form in LLaMA-Factory: they are counted in the result
(`records_with_own_pixel_bounds`) and the run-wide bounds go to `image_min_pixels`/`image_max_pixels` in the
training YAML. Only the entry NAME of `dataset_info.json` is written: an existing file keeps every other
entry, an identical entry is left as it is, and a different entry under NAME is refused (VD450). Both files
are written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmdata.errors import Location, UsageError, VlmdataError
from vlmdata.export.codes import INFO_CONFLICT, INFO_NOT_OBJECT

TAGS = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
    "system_tag": "system",
}


@dataclass
class LlamaFactoryResult:
    out: str
    dataset_info: str
    name: str
    records: int = 0
    images: int = 0
    templates: dict[str, int] = field(default_factory=dict)
    records_with_own_pixel_bounds: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": self.out,
            "format": "llamafactory",
            "dataset_info": self.dataset_info,
            "name": self.name,
            "records": self.records,
            "images": self.images,
            "templates": self.templates,
            "records_with_own_pixel_bounds": self.records_with_own_pixel_bounds,
        }


def dataset_info_entry(file_name: str) -> dict[str, Any]:
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": dict(TAGS),
    }


def _merge_info(path: Path, name: str, entry: dict[str, Any]) -> bytes | None:
    """The new dataset_info.json bytes, or None when the same entry is already there."""
    info: dict[str, Any] = {}
    if path.exists():
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise VlmdataError(INFO_NOT_OBJECT, f"not JSON: {exc}", where=Location(file=str(path))) from None
        if not isinstance(info, dict):
            raise VlmdataError(INFO_NOT_OBJECT, "not a JSON object", where=Location(file=str(path)))
        if name in info:
            if info[name] == entry:
                return None
            raise VlmdataError(
                INFO_CONFLICT,
                f"entry {name!r} exists and differs",
                where=Location(file=str(path), field=name),
                exit_code=2,
            )
    info[name] = entry
    return (json.dumps(info, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def export_llamafactory(
    records: Iterable[Mapping[str, Any]],
    out: str | Path,
    template: str | None = None,
    system: str | None = None,
    check_images: bool = True,
    name: str | None = None,
    template_cfg: Any = None,
    inputs: Iterable[str | Path | None] = (),
    roots: Iterable[str | Path | None] = (),
) -> LlamaFactoryResult:
    """Write sharegpt JSON at `out` and its entry in `dataset_info.json` beside it, both through the `--out`
    rule: an existing `dataset_info.json` is extended only when vlmdata's export wrote it (a hand-kept one is
    refused, never rewritten; the entry to add by hand is in the error's hint)."""
    from vlmdata.export import collect_lines, template_config
    from vlmdata.io.output import check_out, write_output
    from vlmdata.models.qwen import effective_pixel_bounds

    out = Path(out)
    inputs, roots = list(inputs), list(roots)
    name = name or out.stem
    info_path = out.parent / "dataset_info.json"
    cfg = template_cfg if template_cfg is not None else template_config(None)
    result = LlamaFactoryResult(out=str(out), dataset_info=str(info_path), name=name)
    check_out(out, command="export", kind="file", inputs=inputs, roots=roots)  # refuse before the work
    try:
        check_out(info_path, command="export", kind="file", inputs=inputs, roots=roots)
    except UsageError as exc:
        entry = json.dumps({name: dataset_info_entry(out.name)}, ensure_ascii=False)
        raise UsageError(
            exc.message,
            hint=f"{exc.hint}; or add this entry to it by hand: {entry}",
            code=exc.code,
            where=exc.where,
        ) from exc
    info = _merge_info(info_path, name, dataset_info_entry(out.name))  # a clash fails before any work
    lines = []
    for line, template_name in collect_lines(
        records, template, system, check_images, effective_pixel_bounds(cfg)
    ):
        if line.pop("chat_template_kwargs", None) is not None:
            result.records_with_own_pixel_bounds += 1
        result.records += 1
        result.images += len(line["images"])
        result.templates[template_name] = result.templates.get(template_name, 0) + 1
        lines.append(json.dumps(line, ensure_ascii=False).encode("utf-8"))
    write_output(out, b"[\n" + b",\n".join(lines) + b"\n]\n", command="export", inputs=inputs, roots=roots)
    if info is not None:
        write_output(info_path, info, command="export", inputs=inputs, roots=roots)
    return result
