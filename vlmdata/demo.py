"""`vlmdata demo`: the main job end to end on embedded defaults, on a CPU in a few minutes.

Every stage calls the library function of its area; nothing is simulated:

1. synth     `vlmdata.synth.generate`: a BBU target set (with a val split) and an RRU source set, small images
2. validate  `vlmdata.validate.validate_files`: JSONL → Arrow datasets, rejects accounted for
3. augment   `vlmdata.augment.augment_record`: a few records before/after, drawn (`vlmdata.viz`) side by side
4. fuse      `vlmdata.fuse.fuse_epoch`: the embedded fusion config → one fused Arrow dataset + manifest
5. model     `vlmdata.models.tiny.build_tiny_model`: a random Qwen3-VL of a few million parameters
6. audit     `vlmdata.audit.audit_dataset` with `write_lengths`: exact lengths, none over the limit
7. report    `vlmdata.viz.report.write_report`: the data report page, `OUT/report/index.html`
8. train     `vlmdata.train.launch.plan_run` + the `sft` plugin's `run`: LoRA for a few steps
9. summary   counts, lengths, losses and where the adapter is (`OUT/demo_report.json` and the terminal)

The console gets one line per stage with its result, then the output root, every artefact and three next
commands (the CLI renders `DemoReport.artefacts` and `next_commands`). Everything the libraries print on the way (ms-swift's argument dump, logging,
warnings, tqdm bars) goes to `OUT/demo.log` and the run's `backend.log` (`vlmdata.train.quiet`;
`--verbose` keeps it on the console).

The embedded configs (`RUN_CONFIG`, `FUSION_CONFIG`) are written into OUT so the run can be repeated by hand
with `vlmdata train --config OUT/run.yaml`; `configs/demo/sft.yaml` carries the same training settings
(a test keeps them equal). OUT is a workspace under the `--out` rule (`vlmdata.io.output`): new, empty or an
earlier demo's folder; every stage writes its own output inside it under the same rule. A stage that needs the
`train` extra stops the demo with the install command (VD006, exit 2) after the log has named the stage.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vlmdata.errors import VlmdataError
from vlmdata.train import codes

RUN_CONFIG: dict[str, Any] = {
    "plugin": "sft",
    "model": {"path": "tiny-model", "dtype": "float32", "attn_impl": "sdpa"},
    "template": {"name": "target_dense_bbu", "max_pixels": 65536, "min_pixels": 3136},
    "global_max_length": 2048,
    "data": {"train": ["fused/data"], "val": ["validated/bbu/val"]},
    "augmentation": {
        "seed": 0,
        "bypass_prob": 0.2,
        "ops": [
            {"name": "hflip", "params": {"p": 0.5}},
            {"name": "rotate", "params": {"p": 0.5, "angle_range": [-8, 8]}},
        ],
    },
    "tuner": {
        "train_type": "lora",
        "freeze_llm": False,
        "freeze_vit": True,
        "freeze_aligner": False,
        "target_modules": ["all-linear"],
        "lora_rank": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
    },
    "training": {
        "output_dir": "run",
        "max_steps": 6,
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "learning_rate": 3.0e-3,
        "lr_scheduler_type": "cosine",
        "warmup_ratio": 0.0,
        "weight_decay": 0.0,
        "gradient_checkpointing": False,
        "logging_steps": 1,
        "save_steps": 6,
        "eval_steps": 6,
        "dataloader_num_workers": 0,
        "seed": 0,
        "report_to": ["tensorboard"],
    },
}

FUSION_CONFIG: dict[str, Any] = {
    "seed": 0,
    "targets": [
        {
            "name": "bbu",
            "data": "validated/bbu/data",
            "val": "validated/bbu/val",
            "mode": "dense",
            "template": "target_dense_bbu",
            "ratio": 1.0,
            "augment": True,
        },
    ],
    "sources": [
        {
            "name": "rru",
            "data": "validated/rru/data",
            "mode": "dense",
            "template": "target_dense_rru",
            "ratio": 0.5,
            "augment": False,
        },
    ],
}

SYNTH = {"bbu": {"n": 24, "seed": 0, "val_fraction": 0.2}, "rru": {"n": 12, "seed": 1, "val_fraction": 0.0}}
SYNTH_SIZE = {"min_size": 96, "max_size": 192, "max_objects": 6}
PREVIEWS = 3
PREVIEW_SIDE = 384


@dataclass
class DemoReport:
    out: str
    synth: dict[str, int] = field(default_factory=dict)
    validate: dict[str, dict[str, int]] = field(default_factory=dict)
    augment_previews: list[str] = field(default_factory=list)
    fused: dict[str, int] = field(default_factory=dict)
    lengths: dict[str, Any] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)
    eval_loss: float | None = None
    adapter_dir: str | None = None
    log_file: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    results: dict[str, str] = field(default_factory=dict)  # the one line each stage printed
    artefacts: dict[str, list[str]] = field(default_factory=dict)  # kind -> paths (relative to `out`)


def run_demo(
    out: str | Path = "runs/demo",
    log: Callable[[str], None] = print,
    working: Callable[[str], Any] | None = None,
) -> DemoReport:
    """Run every stage into `out` and return what happened.

    `out` must be new, empty, or an earlier demo's folder (the `--out` rule's workspace marker): a rerun
    replaces every stage's output, the previous training run included, and never touches a folder the demo
    did not make. `log` gets one line per finished stage; `working(stage)`, when given, is a context manager
    held while the stage runs (the CLI shows a transient spinner on a terminal).
    """
    import contextlib

    from vlmdata.io.atomic import atomic_write_json
    from vlmdata.io.output import workspace
    from vlmdata.train.quiet import quiet_backend

    out = Path(os.path.abspath(out))  # not resolved: the `--out` rule refuses a symlink itself
    with workspace(out, command="demo"):
        report = DemoReport(out=str(out))
        stages: list[tuple[str, Callable[[Path, DemoReport], None]]] = [
            ("synth", _synth),
            ("validate", _validate),
            ("augment", _augment_preview),
            ("fuse", _fuse),
            ("model", _model),
            ("audit", _audit),
            ("report", _report),
            ("train", _train),
        ]
        width = max(len(name) for name, _ in stages)
        with quiet_backend(out / "demo.log", progress=False):
            for name, stage in stages:
                start = time.perf_counter()
                try:
                    with working(name) if working is not None else contextlib.nullcontext():
                        stage(out, report)
                except BaseException:
                    log(
                        f"{name:<{width}}  stopped  ({time.perf_counter() - start:.1f} s)"
                    )  # the error follows
                    raise
                report.seconds[name] = round(time.perf_counter() - start, 2)
                log(f"{name:<{width}}  {report.results.get(name, 'done')}  ({report.seconds[name]:.1f} s)")
        report.artefacts = _artefacts(out, report)
        atomic_write_json(out / "demo_report.json", asdict(report))
    return report


def _rel(out: Path, path: str | Path) -> str:
    p = Path(path)
    try:
        return str(p.relative_to(out)) + ("/" if p.is_dir() else "")
    except ValueError:
        return str(p)


def _artefacts(out: Path, report: DemoReport) -> dict[str, list[str]]:
    """Everything the demo left for the user, by kind, relative to `out` (only paths that exist)."""
    candidates = {
        "datasets": [
            *(out / "validated" / d / split for d in SYNTH for split in ("data", "val")),
            out / "fused" / "data",
        ],
        "configs": [out / "run.yaml", out / "fusion.yaml"],
        "reports": [out / "report" / "index.html", out / "audit.json", out / "demo_report.json"],
        "adapter": [Path(report.adapter_dir)] if report.adapter_dir else [],
        "logs": [
            *([Path(report.log_file)] if report.log_file else []),
            out / "run" / "backend.log",
            out / "demo.log",
        ],
        "previews": [Path(p) for p in report.augment_previews],
    }
    found = {
        kind: [_rel(out, p) for p in paths if p.exists() or p.name == "demo_report.json"]
        for kind, paths in candidates.items()
    }
    return {kind: paths for kind, paths in found.items() if paths}


def next_commands(report: DemoReport) -> list[str]:
    """Three commands to try next on the demo's own outputs."""
    out = Path(report.out)
    adapter = report.adapter_dir or str(out / "run")
    return [
        f"vlmdata train --config {out / 'run.yaml'} --dry-run",
        f"vlmdata infer {out / 'validated' / 'bbu' / 'val'} --model {out / 'tiny-model'} --adapter {adapter}"
        f" --out {out / 'preds.jsonl'}",
        f"vlmdata eval {out / 'preds.jsonl'} --gt {out / 'validated' / 'bbu' / 'val'}",
    ]


def _synth(out: Path, report: DemoReport) -> None:
    from vlmdata.synth import generate

    for domain, opts in SYNTH.items():
        result = generate(
            out / "synth" / domain,
            int(opts["n"]),
            seed=int(opts["seed"]),
            domain=domain,
            val_fraction=opts["val_fraction"],
            **SYNTH_SIZE,
        )
        report.synth[domain] = result.records + result.val_records
    counts = ", ".join(f"{d} {n}" for d, n in report.synth.items())
    report.results["synth"] = f"{sum(report.synth.values())} records ({counts}) → synth/"


def _validate(out: Path, report: DemoReport) -> None:
    from vlmdata.validate import ValidateOptions, validate_files

    for domain in SYNTH:
        folder = out / "synth" / domain
        val = [folder / "val.jsonl"] if (folder / "val.jsonl").exists() else []
        result = validate_files([folder / "data.jsonl"], out / "validated" / domain, ValidateOptions(val=val))
        counts = {"lines": 0, "valid": 0, "rejected": 0}
        for f in result.files:
            counts["lines"] += f.lines
            counts["valid"] += f.valid
            counts["rejected"] += f.rejected
        report.validate[domain] = counts
        if counts["valid"] == 0:
            raise VlmdataError(
                codes.DEMO_STAGE_FAILED, f"validate kept no {domain} record", details=[str(result.files)]
            )
    valid = sum(c["valid"] for c in report.validate.values())
    rejected = sum(c["rejected"] for c in report.validate.values())
    report.results["validate"] = f"{valid} valid, {rejected} rejected → validated/{{{','.join(SYNTH)}}}/"


def _augment_preview(out: Path, report: DemoReport) -> None:
    from vlmdata.augment import AugmentPipeline, augment_record
    from vlmdata.io.atomic import atomic_write_bytes
    from vlmdata.io.dataset import open_dataset

    pipeline = AugmentPipeline.from_config(RUN_CONFIG["augmentation"])
    dataset = open_dataset(out / "validated" / "bbu")
    preview = out / "augment_preview"
    preview.mkdir(exist_ok=True)
    for record in dataset:
        if len(report.augment_previews) == PREVIEWS:
            break
        if not record["images"] or not record["objects"]:
            continue
        result = augment_record(record, None, pipeline, epoch=1)
        png = _side_by_side(record, result)
        path = atomic_write_bytes(preview / f"{record['id']}.png", png)
        report.augment_previews.append(str(path))
    report.results["augment"] = f"{len(report.augment_previews)} before | after previews → augment_preview/"


def _side_by_side(record: dict[str, Any], result: Any) -> bytes:
    """Before | after, each with its objects drawn by `vlmdata.viz` (the drawing `vlmdata render` uses)."""
    import io

    from PIL import Image, ImageOps

    from vlmdata.viz.draw import draw_objects

    def drawn(image: Image.Image, objects: list[dict[str, Any]]) -> Image.Image:
        scale = max(1, PREVIEW_SIDE // max(image.size))  # the demo's images are small: enlarge for reading
        image = image.convert("RGB").resize(
            (image.width * scale, image.height * scale), Image.Resampling.NEAREST
        )
        return draw_objects(image, objects, scale=float(scale))

    with Image.open(record["images"][0]) as im:
        before = drawn(ImageOps.exif_transpose(im), record["objects"])
    after_image = result.images[0]
    after = drawn(
        after_image if isinstance(after_image, Image.Image) else Image.fromarray(after_image), result.objects
    )
    canvas = Image.new("RGB", (before.width + after.width + 8, max(before.height, after.height)), "white")
    canvas.paste(before, (0, 0))
    canvas.paste(after, (before.width + 8, 0))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


def _fuse(out: Path, report: DemoReport) -> None:
    import yaml

    from vlmdata.fuse import fuse_epoch, load_fusion_config
    from vlmdata.io.atomic import atomic_write_text

    path = atomic_write_text(out / "fusion.yaml", yaml.safe_dump(FUSION_CONFIG, sort_keys=False))
    result = fuse_epoch(load_fusion_config(path), out / "fused", epoch=0)
    report.fused = {row.name: row.realised for row in result.entries}
    report.fused["total"] = result.total
    parts = ", ".join(f"{k} {v}" for k, v in report.fused.items() if k != "total")
    report.results["fuse"] = f"{result.total} records ({parts}) → fused/data"


def _model(out: Path, report: DemoReport) -> None:
    from vlmdata.models.tiny import build_tiny_model

    if not (out / "tiny-model" / "config.json").exists():
        build_tiny_model(out / "tiny-model", seed=0)
    report.results["model"] = "tiny random Qwen3-VL (offline) → tiny-model/"


def _write_run_config(out: Path) -> Path:
    import yaml

    from vlmdata.io.atomic import atomic_write_text

    text = "# written by `vlmdata demo`; repeat the training with: vlmdata train --config run.yaml\n"
    return atomic_write_text(out / "run.yaml", text + yaml.safe_dump(RUN_CONFIG, sort_keys=False))


def _audit(out: Path, report: DemoReport) -> None:
    from vlmdata.audit.audit import audit_dataset, write_lengths
    from vlmdata.io.atomic import atomic_write_json
    from vlmdata.train.config import load_train_config

    config = load_train_config(_write_run_config(out))
    paths = [out / "fused" / "data", *(Path(p) for p in config.data.val)]
    result = audit_dataset([str(p) for p in paths], config)
    atomic_write_json(out / "audit.json", result.to_dict())
    if not result.ok:
        over = result.over_limit()
        details = [f"{r['dataset']} id={r['id']} length={r['length']}" for r in over[:10]]
        raise VlmdataError(
            codes.DEMO_STAGE_FAILED,
            f"audit: {len(over)} over-length, {len(result.errors)} unsized",
            details=details,
        )
    write_lengths(result)
    stats = result.stats()["all"]
    report.lengths = {k: stats[k] for k in ("count", "min", "p50", "max", "image_token_share") if k in stats}
    report.lengths["limit"] = result.global_max_length
    lg = report.lengths
    report.results["audit"] = (
        f"{lg.get('count')} records, {lg.get('min')}–{lg.get('max')} tokens (p50 {lg.get('p50')}), "
        f"none over {lg['limit']} → audit.json"
    )


def _report(out: Path, report: DemoReport) -> None:
    from vlmdata.viz.report import write_report

    datasets = [out / "validated" / domain for domain in SYNTH] + [out / "fused"]
    result = write_report(datasets, out / "report", audit=out / "audit.json", gallery=24)
    report.results["report"] = (
        f"{result['records']} records, {result['categories']} categories, {result['gallery']} in the gallery"
        " → report/index.html (open it in a browser)"
    )


def _train(out: Path, report: DemoReport) -> None:
    from vlmdata.train.launch import plan_run, run_plan

    trainer, plan = plan_run(_write_run_config(out))
    if plan.output_dir.exists():  # the previous demo's run: a demo always trains from scratch
        import shutil

        shutil.rmtree(plan.output_dir)
    result = run_plan(trainer, plan)
    report.adapter_dir = str(result.adapter_dir or result.checkpoint_dir)
    report.log_file = str(result.log_file) if result.log_file else None
    if result.log_file is None or not Path(result.log_file).exists():
        raise VlmdataError(codes.DEMO_STAGE_FAILED, "training wrote no logging.jsonl")
    for line in Path(result.log_file).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if "train/loss" in row or "loss" in row:
            report.losses.append(float(row.get("train/loss", row.get("loss"))))
        if "eval/loss" in row:
            report.eval_loss = float(row["eval/loss"])
    loss = f", loss {report.losses[0]:.3f} → {report.losses[-1]:.3f}" if report.losses else ""
    evaluation = f", eval {report.eval_loss:.3f}" if report.eval_loss is not None else ""
    report.results["train"] = (
        f"{result.global_step} LoRA steps{loss}{evaluation} → {_rel(out, report.adapter_dir)}"
    )
