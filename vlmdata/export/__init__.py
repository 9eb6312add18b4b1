"""Export a vlmdata dataset to ms-swift's standard JSONL, for training with plain `swift sft`.

Each line is `{"messages": [...], "images": [...]}` (plus `"id"`, which ms-swift ignores): the conversation
`vlmdata.render.build_messages` builds, flattened by `to_swift_standard` into string contents with one
`<image>` tag per image (the user turn reads `"<image>" * n + prompt`, exactly what ms-swift derives from the
item form in-process) and the image paths as absolute strings. Templates resolve exactly as in training
(`resolve_template`): a record's own `metadata._template` (fused data) wins, a record with `messages` is
`chat`, and every other record takes `--template`, else the run config's `template.name`; the system
prompt is the run config's `template.system` when set, else the template's. The export is static: no
augmentation, one line per record in dataset order. Every image path is checked to exist (an ms-swift run would otherwise fail mid-epoch); all
problems are reported together and nothing is written unless every record renders. The file is written
atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmdata.errors import UsageError, VlmdataError


@dataclass
class ExportResult:
    out: str
    records: int = 0
    images: int = 0
    templates: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"out": self.out, "records": self.records, "images": self.images, "templates": self.templates}


def _config_template(config: str | Path) -> tuple[str | None, str | None]:
    """(template.name, template.system) of a run config.

    Only the `template` section is read and validated (with the config's `extends` chain): an export does not
    need the model, the plugins or the data paths of the run to exist.
    """
    from pydantic import ValidationError

    from vlmdata.config.layers import load_layered, problems_from_validation_error, raise_problems
    from vlmdata.config.run import TemplateConfig

    path = Path(config)
    if not path.is_file():
        raise UsageError(f"config not found: {path}", hint="pass the run YAML (the one `vlmdata train` takes)")
    layered = load_layered(path)
    try:
        tpl = TemplateConfig.model_validate(layered.data.get("template") or {})
    except ValidationError as exc:
        raise_problems(problems_from_validation_error(exc, layered, ("template",)), what="run config")
        raise  # unreachable: raise_problems raises on any problem
    return tpl.name, tpl.system


def export_line(record: Mapping[str, Any], template: str | None, system: str | None,
                check_images: bool = True) -> tuple[dict[str, Any], str]:
    """One record → (the ms-swift standard JSON object, the template name used)."""
    from vlmdata.render import build_messages, resolve_template, to_swift_standard
    from vlmdata.render import codes as rcodes
    from vlmdata.render.templates import where

    name = resolve_template(record, template)
    messages, images = to_swift_standard(build_messages(record, name, system=system))
    paths = [str(Path(p).resolve()) if isinstance(p, str) else p for p in images]
    if check_images:
        for i, p in enumerate(paths):
            if not isinstance(p, str) or not os.path.isfile(p):
                raise VlmdataError(rcodes.EXPORT_IMAGE_MISSING, "image file not found",
                                   where=where(record, f"images[{i}]"), value=p)
    line: dict[str, Any] = {"messages": messages, "images": paths}
    if record.get("id") is not None:
        line["id"] = record["id"]
    return line, name


def export_records(records: Iterable[Mapping[str, Any]], out: str | Path, template: str | None = None,
                   system: str | None = None, check_images: bool = True) -> ExportResult:
    from vlmdata.io.atomic import atomic_write_bytes

    if template is not None:
        from vlmdata.render import get_template

        get_template(template)
    result = ExportResult(out=str(out))
    lines: list[bytes] = []
    problems: list[VlmdataError] = []
    for record in records:
        try:
            line, name = export_line(record, template, system, check_images)
        except VlmdataError as exc:
            problems.append(exc)
            continue
        result.records += 1
        result.images += len(line["images"])
        result.templates[name] = result.templates.get(name, 0) + 1
        lines.append(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n")
    if problems:
        first = problems[0]
        raise VlmdataError(
            first.code, f"{len(problems)} record(s) cannot be exported; first: {first.message}",
            where=first.where, value=first.value, hint=first.hint,
            details=[str(p).split("\n")[0] for p in problems[1:50]],
        )
    atomic_write_bytes(out, b"".join(lines))
    return result


def export_dataset(dataset: Any, out: str | Path, template: str | None = None, config: str | Path | None = None,
                   system: str | None = None, check_images: bool = True) -> ExportResult:
    """A vlmdata dataset (a folder or a `datasets.Dataset`) → ms-swift standard JSONL at `out`."""
    if config is not None:
        cfg_name, cfg_system = _config_template(config)
        template = template or cfg_name
        system = system if system is not None else cfg_system
    if isinstance(dataset, (str, Path)):
        from vlmdata.io.dataset import load_dataset

        dataset = load_dataset(dataset)
    return export_records(dataset, out, template=template, system=system, check_images=check_images)
