"""The preflight: everything a run refuses before its first step, checked without loading a model.

`vlmdata train --dry-run` and the real run call the same function, so a config the dry run passes is not
refused later for a reason the dry run could have seen, and both refuse with the same code:

| check | code |
|---|---|
| the backend packages the plugin needs are installed (looked up, not imported) | VD730, VD734 (DeepSpeed) |
| every model folder the run loads (the student, a gkd teacher) has a config and weights | VD644 |
| every `training.report_to` logger is installed | VD716 |
| the data opens: dataset folders, a `data.train`/`data.val` JSONL (validated on the fly under `data.max_image_pixels`, as fusion entries are; rejected lines refuse the run with the fix), the fusion config | VD520, VD524 … |
| no record's audited `length` reaches `global_max_length` | VD551 |
| every record's images can be resized under the run's pixel budget (`vlmdata.train.data.preflight`) | VD431, VD433, VD434 |
| the run folder: a fresh run needs a folder without a run; a resume names a checkpoint and reads the same data stream | VD735, VD731, VD732 |

Whether a model path exists (VD644) or a hub id is cached (VD669), and the plugins' own model checks (gkd's
teacher vocabulary), are config checks. Then it works out what the run will do: records per dataset and epoch (the fusion plan's counts for
a fusion run), optimizer steps per epoch and in total, the effective batch, the image-token range per image
under the template's pixel bounds, and the longest audited length.

A plugin decides how much of this applies (`TrainerPlugin.preflight`): the built-in ones, which read their
data through `vlmdata.train.dataset`, run all of it; the default for a third-party plugin only computes the
figures that need no data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from vlmdata.errors import EXIT_USAGE, Location, VlmdataError
from vlmdata.train import codes

REPORTER_MODULES: dict[str, tuple[str, ...]] = {
    "tensorboard": ("tensorboard", "tensorboardX"),
    "wandb": ("wandb",),
    "swanlab": ("swanlab",),
}
SHOWN_EPOCHS = 3


@dataclass
class Preflight:
    plugin: str
    output_dir: str
    world_size: int
    per_device_batch: int
    gradient_accumulation_steps: int
    image_tokens: tuple[int, int]
    pixel_bounds: tuple[int, int]
    global_max_length: int
    checked: list[str] = field(default_factory=list)
    records: dict[str, list[int]] = field(default_factory=dict)  # train source -> records in epochs 0, 1, …
    val_records: dict[str, int] = field(default_factory=dict)
    epochs: int | None = None
    steps_per_epoch: int | None = None
    total_steps: int | None = None
    longest_audited: int | None = None
    unaudited: list[str] = field(default_factory=list)
    resume_step: int | None = None

    @property
    def effective_batch(self) -> int:
        return self.per_device_batch * self.world_size * self.gradient_accumulation_steps

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": list(self.checked),
            "records_per_epoch": {k: list(v) for k, v in self.records.items()},
            "val_records": dict(self.val_records),
            "epochs": self.epochs,
            "steps_per_epoch": self.steps_per_epoch,
            "total_steps": self.total_steps,
            "effective_batch": self.effective_batch,
            "image_tokens_per_image": list(self.image_tokens),
            "longest_audited_length": self.longest_audited,
            "global_max_length": self.global_max_length,
            "run_folder": self.output_dir,
            "resume_step": self.resume_step,
        }

    def lines(self) -> list[str]:
        """The human summary `--dry-run` prints (as YAML comments above the plan)."""
        out = [
            f"preflight passed: {', '.join(self.checked)}" if self.checked else "preflight: no data checks"
        ]
        if self.records:
            per_epoch = [
                sum(v[i] for v in self.records.values())
                for i in range(len(next(iter(self.records.values()))))
            ]
            out.append(f"train records per epoch: {_epochs(per_epoch)}")
            width = max(len(n) for n in self.records)
            out += [f"  {name:<{width}}  {_epochs(v)}" for name, v in self.records.items()]
        if self.val_records:
            out.append("val records: " + ", ".join(f"{k} {v}" for k, v in self.val_records.items()))
        if self.total_steps is not None:
            out.append(
                f"optimizer steps: {self.steps_per_epoch} per epoch, {self.total_steps} in total"
                f" ({self.epochs} epoch(s) touched)"
            )
        out.append(
            f"effective batch: {self.per_device_batch} per device × {self.world_size} process(es) × "
            f"{self.gradient_accumulation_steps} accumulation = {self.effective_batch}"
        )
        lo, hi = self.image_tokens
        out.append(
            f"image tokens per image: {lo}–{hi} (pixel bounds {self.pixel_bounds[0]}–{self.pixel_bounds[1]})"
        )
        if self.longest_audited is not None:
            out.append(
                f"longest audited record: {self.longest_audited} < global_max_length {self.global_max_length}"
            )
        if self.unaudited:
            out.append(
                f"not audited (no `length` column; over-length records stop the run when met): "
                f"{', '.join(self.unaudited)} — run `vlmdata audit DATASET --config RUN.yaml --write-lengths`"
            )
        resume = f"resumes at step {self.resume_step}" if self.resume_step is not None else "a fresh run"
        out.append(f"run folder: {self.output_dir} ({resume})")
        return out


def _epochs(counts: list[int]) -> str:
    if len(set(counts)) <= 1:
        return f"{counts[0] if counts else 0} per epoch"
    return ", ".join(f"epoch {i}: {c}" for i, c in enumerate(counts))


def check_backend(plan: Any, modules: tuple[str, ...]) -> None:
    missing = [m for m in modules if find_spec(m) is None]
    if missing:
        raise VlmdataError(
            codes.BACKEND_MISSING,
            f"cannot import the training backend: no module named {missing[0]!r}",
            hint="pip install 'vlmdata[train]'",
            exit_code=EXIT_USAGE,
        )
    if plan.backend_args.get("deepspeed") and find_spec("deepspeed") is None:
        raise VlmdataError(
            codes.DEEPSPEED_MISSING,
            "the config sets `deepspeed` but the package is missing",
            exit_code=EXIT_USAGE,
        )


def check_reporters(config: Any) -> None:
    for i, name in enumerate(config.training.report_to):
        modules = REPORTER_MODULES.get(name)
        if modules and not any(find_spec(m) is not None for m in modules):
            raise VlmdataError(
                codes.REPORTER_MISSING,
                f"`report_to: {name}` needs the package {modules[0]!r}, which is not installed",
                where=Location(field=f"training.report_to[{i}]"),
                hint=f"pip install {modules[0]}, or remove {name!r} from training.report_to",
                exit_code=EXIT_USAGE,
            )


def model_folders(plan: Any) -> list[tuple[str, str]]:
    """(config key, folder) of every model the run loads: `model.path` and plugin fields naming a model."""
    config = plan.config
    out = [("model.path", str(config.model.path))]
    rlhf = getattr(config, "rlhf", None)
    for key in getattr(rlhf, "model_fields", {}) or {}:
        value = getattr(rlhf, key, None)
        if "model" in key and isinstance(value, str) and value:
            out.append((f"rlhf.{key}", value))
    return out


def check_model_folders(plan: Any) -> None:
    from vlmdata.config.run_codes import PATH_MISSING
    from vlmdata.io.model_ref import model_folder_problem

    for key, folder in model_folders(plan):
        problem = model_folder_problem(folder)
        if problem is not None:
            raise VlmdataError(
                PATH_MISSING,
                problem,
                where=Location(field=key),
                hint="point it at a complete model folder (config.json, weights, tokenizer)",
            )


def _basic(plan: Any) -> Preflight:
    from vlmdata.models.qwen import bound_tokens, effective_pixel_bounds

    config = plan.config
    return Preflight(
        plugin=plan.plugin,
        output_dir=str(plan.output_dir),
        world_size=int(plan.world_size),
        per_device_batch=int(config.training.per_device_train_batch_size),
        gradient_accumulation_steps=int(plan.gradient_accumulation_steps),
        image_tokens=bound_tokens(config.template),
        pixel_bounds=effective_pixel_bounds(config.template),
        global_max_length=int(config.global_max_length),
    )


def basic_preflight(plan: Any) -> Preflight:
    """The figures that need no data (the default for plugins that do not read `vlmdata.train.dataset`)."""
    return _basic(plan)


def preflight(plan: Any, backend: tuple[str, ...] = ("swift", "torch")) -> tuple[Preflight, Any]:
    """Every check of the module docstring, then the figures; returns (report, the opened `TrainData`)."""
    from vlmdata.train.dataset import open_train_data
    from vlmdata.train.runfolder import check_run_dir

    report = _basic(plan)
    config = plan.config
    check_backend(plan, backend)
    report.checked.append("backend installed")
    check_model_folders(plan)
    report.checked.append("model folders complete")
    check_reporters(config)
    report.checked.append("loggers installed")
    # opens every dataset (a JSONL is validated on the fly), refuses VD551 and images the resize cannot encode
    data = open_train_data(config)
    report.checked += ["data opens", "audited lengths fit", "image sizes encodable"]
    report.resume_step = check_run_dir(
        Path(plan.output_dir), plan.backend_args.get("resume_from_checkpoint"), data.manifest()
    )
    report.checked.append("run folder")
    _figures(report, plan, data)
    return report, data


def _figures(report: Preflight, plan: Any, data: Any) -> None:
    config = plan.config
    sampler = data.sampler(
        report.per_device_batch,
        world_size=report.world_size,
        gradient_accumulation_steps=report.gradient_accumulation_steps,
        group_lengths=False,
    )
    per_epoch = max(1, sampler.updates_per_epoch())
    max_steps = int(config.training.max_steps)
    total = max_steps if max_steps > 0 else math.ceil(per_epoch * float(config.training.num_train_epochs))
    report.steps_per_epoch, report.total_steps = per_epoch, total
    report.epochs = max(1, math.ceil(total / per_epoch))
    shown = min(report.epochs, SHOWN_EPOCHS)
    if data.train.fusion is not None:
        from vlmdata.fuse.plan import plan_epoch

        counts = [plan_epoch(data.train.fusion, data.train.sizes(), e).counts() for e in range(shown)]
        report.records = {name: [int(c.get(name, 0)) for c in counts] for name in data.train.names}
    else:
        report.records = {name: [size] * shown for name, size in data.train.sizes().items()}
    if data.val is not None:
        report.val_records = {name: int(size) for name, size in data.val.sizes().items()}
    longest = [int(s.lengths.max()) for s in data.train.items if s.lengths is not None and len(s.lengths)]
    report.longest_audited = max(longest) if longest else None
    report.unaudited = [s.name for s in data.train.items if s.lengths is None]
