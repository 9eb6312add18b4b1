"""Export a vlmdata dataset: ms-swift's standard JSONL (this module), COCO (`coco.py`), LLaMA-Factory (`llamafactory.py`).

ms-swift, for training with plain `swift sft`:

Each line is `{"messages": [...], "images": [...]}` plus `"id"` (ms-swift drops it; it traces a line back to
its record): the conversation `vlmdata.render.build_messages` builds, flattened by `to_swift_standard` into
string contents with one `<image>` tag per image (the user turn reads `"<image>" * n + prompt`, exactly what
ms-swift derives from the item form in-process) and the image paths as absolute strings.

Templates resolve exactly as in training (`resolve_template`): a record's own `metadata._template` (fused
data) wins, a record with `messages` is `chat`, and every other record takes `--template`, else the run
config's `template.name`, else the neutral default `grounding`; the system prompt is the run config's
`template.system` when set, else the template's. The run config's template files (`templates:`) are
registered, so fused records naming a user template export with it.

Image sizes: a record with its own pixel bounds (`metadata.min_pixels` / `max_pixels`) carries
`"chat_template_kwargs": {"min_pixels": …, "max_pixels": …}` — both keys, the missing one filled with the
run's effective bound — which ms-swift passes to its Qwen3-VL resize, as the trainer plugins do. The run-wide
bounds are not a per-line field: `ExportResult.env` holds the environment (`vlmdata.audit.backend_image_env`)
that makes `swift sft` resize exactly like the audit computed; the CLI prints it as a ready command. Never pass
ms-swift's own `--max_pixels` (it adds a pre-resize the audit does not model).

The export is static (no augmentation, one line per record in dataset order). Every image path is checked to
exist (an ms-swift run would otherwise fail mid-epoch); all problems are reported together and nothing is
written unless every record renders. The input is any dataset form the one opener accepts. The file follows the
`--out` rule for single files (`vlmdata.io.output`): written atomically beside the target, never over an input,
a non-regular file or a file vlmdata did not write.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmdata.errors import UsageError, VlmdataError, at


@dataclass
class ExportResult:
    out: str
    records: int = 0
    images: int = 0
    templates: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": self.out,
            "records": self.records,
            "images": self.images,
            "templates": self.templates,
            "env": self.env,
        }

    def swift_command(self, model: str = "MODEL") -> str:
        env = " ".join(f"{k}={v}" for k, v in self.env.items())
        return f"{env} swift sft --model {model} --model_type qwen3_vl --dataset {self.out}".strip()


def template_config(config: str | Path | None) -> Any:
    """The run config's `template` section (defaults without a config), its template files registered, read by
    the run config's own reader (`vlmdata.config.load.load_run_sections`): an export does not need the model,
    the plugins or the data paths of the run to exist."""
    from vlmdata.config.load import load_template_section
    from vlmdata.config.run import TemplateConfig

    if config is None:
        return TemplateConfig()
    if not Path(config).is_file():
        raise UsageError(
            f"config not found: {config}", hint="pass the run YAML (the one `vlmdata train` takes)"
        )
    return load_template_section(config)


def export_line(
    record: Mapping[str, Any],
    template: str | None,
    system: str | None,
    check_images: bool = True,
    pixel_bounds: tuple[int, int] | None = None,
) -> tuple[dict[str, Any], str]:
    """One record → (the ms-swift standard JSON object, the template name used)."""
    from vlmdata.models.qwen import record_image_kwargs, record_pixel_bounds
    from vlmdata.render import build_messages, resolve_template, to_swift_standard
    from vlmdata.render import codes as rcodes
    from vlmdata.render.templates import where

    name = resolve_template(record, template)
    messages, images = to_swift_standard(build_messages(record, name, system=system))
    paths = [str(Path(p).resolve()) if isinstance(p, str) else p for p in images]
    if check_images:
        for i, p in enumerate(paths):
            if not isinstance(p, str) or not os.path.isfile(p):
                raise VlmdataError(
                    rcodes.EXPORT_IMAGE_MISSING,
                    "image file not found",
                    where=where(record, f"images[{i}]"),
                    value=p,
                )
    line: dict[str, Any] = {"messages": messages, "images": paths}
    if record_image_kwargs(record):
        try:
            lo, hi = record_pixel_bounds(record, pixel_bounds or _default_bounds())
        except ValueError as exc:
            raise VlmdataError(rcodes.BAD_PIXEL_BOUNDS, str(exc), where=where(record, "metadata")) from None
        line["chat_template_kwargs"] = {"min_pixels": lo, "max_pixels": hi}
    if record.get("id") is not None:
        line["id"] = record["id"]
    return line, name


def _default_bounds() -> tuple[int, int]:
    from vlmdata.models.qwen import effective_pixel_bounds

    return effective_pixel_bounds(template_config(None))


def collect_lines(
    records: Iterable[Mapping[str, Any]],
    template: str | None,
    system: str | None,
    check_images: bool,
    bounds: tuple[int, int],
) -> list[tuple[dict[str, Any], str]]:
    """(line, template name) per record; every record that cannot be exported is reported in one error."""
    if template is not None:
        from vlmdata.render import get_template

        get_template(template)
    lines: list[tuple[dict[str, Any], str]] = []
    problems: list[VlmdataError] = []
    for record in records:
        try:
            with at(record.get("source_file") or None, record.get("source_line"), str(record.get("id"))):
                lines.append(export_line(record, template, system, check_images, bounds))
        except VlmdataError as exc:
            problems.append(exc)
    if problems:
        first = problems[0]
        raise VlmdataError(
            first.code,
            f"{len(problems)} record(s) cannot be exported; first: {first.message}",
            where=first.where,
            value=first.value,
            hint=first.hint,
            details=[str(p).split("\n")[0] for p in problems[1:50]],
        )
    return lines


def export_records(
    records: Iterable[Mapping[str, Any]],
    out: str | Path,
    template: str | None = None,
    system: str | None = None,
    check_images: bool = True,
    template_cfg: Any = None,
    inputs: Iterable[str | Path | None] = (),
    roots: Iterable[str | Path | None] = (),
) -> ExportResult:
    """Write `records` as ms-swift standard JSONL at `out`; `inputs`/`roots` feed the `--out` rule."""
    from vlmdata.io.output import check_out, write_output
    from vlmdata.models.qwen import backend_image_env, effective_pixel_bounds

    inputs, roots = list(inputs), list(roots)
    check_out(out, command="export", kind="file", inputs=inputs, roots=roots)  # refuse before the work

    cfg = template_cfg if template_cfg is not None else template_config(None)
    bounds = effective_pixel_bounds(cfg)
    result = ExportResult(out=str(out), env=backend_image_env(cfg))
    lines: list[bytes] = []
    for line, name in collect_lines(records, template, system, check_images, bounds):
        result.records += 1
        result.images += len(line["images"])
        result.templates[name] = result.templates.get(name, 0) + 1
        lines.append(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n")
    write_output(out, b"".join(lines), command="export", inputs=inputs, roots=roots)
    return result


FORMATS = ("swift", "coco", "llamafactory")


def export_dataset(
    dataset: Any,
    out: str | Path,
    template: str | None = None,
    config: str | Path | None = None,
    system: str | None = None,
    check_images: bool = True,
    fmt: str = "swift",
    image_root: str | Path | None = None,
    name: str | None = None,
) -> Any:
    """A vlmdata dataset (a folder or a `datasets.Dataset`) → `fmt` at `out`.

    `swift`: ms-swift standard JSONL; `coco`: COCO instances JSON (`vlmdata.export.coco`; templates do not
    apply); `llamafactory`: sharegpt JSON + its `dataset_info.json` entry (`vlmdata.export.llamafactory`).
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}", hint="formats: " + ", ".join(FORMATS))
    inputs: list[str | Path | None] = [config]
    roots: list[str] = []
    if isinstance(dataset, (str, Path)):
        from vlmdata.io.dataset import image_dirs, locate_dataset, open_dataset

        inputs += [dataset, locate_dataset(dataset)]
        dataset = open_dataset(inputs[-1])  # type: ignore[arg-type]
        roots = image_dirs(dataset)
    if fmt == "coco":
        from vlmdata.export.coco import export_coco

        return export_coco(dataset, out, image_root=image_root, inputs=inputs, roots=roots)
    from vlmdata.render import known_templates

    cfg = template_config(config)
    if template is not None and template not in known_templates():
        raise UsageError(
            f"unknown template {template!r}",
            hint="known templates: " + ", ".join(known_templates()) + " (or give a template YAML file)",
        )
    template = template or cfg.name  # the run's template, else the neutral default
    if config is not None:
        system = system if system is not None else cfg.system
    if fmt == "llamafactory":
        from vlmdata.export.llamafactory import export_llamafactory

        return export_llamafactory(
            dataset,
            out,
            template=template,
            system=system,
            check_images=check_images,
            name=name,
            template_cfg=cfg,
            inputs=inputs,
            roots=roots,
        )
    return export_records(
        dataset,
        out,
        template=template,
        system=system,
        check_images=check_images,
        template_cfg=cfg,
        inputs=inputs,
        roots=roots,
    )
