"""What a run folder holds besides the backend's checkpoints, so any run can be reproduced.

    <output_dir>/
      config.yaml            the merged, validated run config (every default filled in)
      run.json               vlmdata + backend versions, plugin, world size, the exact backend arguments
      data_manifest.json     the data stream: sources (path, size, Arrow fingerprint, template, augment), seed
      fusion_manifest.json   fusion runs: the resolved fusion config and each epoch's plan digest; runs on a
                             dataset written by `vlmdata fuse`: a copy of that dataset's manifest.json
      logging.jsonl          one row per logging step (see callbacks)
      draws/rank-<r>.jsonl   rollout trainers (gkd, grpo): the record and augmentation draws of every step
      best_model.json        with metric_for_best_model: every evaluation of it (each rank's value), the best
      runs/                  TensorBoard events
      checkpoint-N/          adapters (LoRA/DoRA) or full weights, optimizer, scheduler, RNG, trainer state
      train_result.json      the final summary (last checkpoint, global step, final metrics)

A folder that already holds a run is refused unless the config resumes it; a resume must read the same data
stream (same sources, sizes, fingerprints, fusion config and seed), checked against `data_manifest.json`.
Rows of `logging.jsonl` and lines of the draw log written after the resumed checkpoint (by the interrupted
process) are dropped, so both read as one uninterrupted run.
"""

from __future__ import annotations

import json
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from vlmdata.errors import Location, VlmdataError
from vlmdata.io.atomic import atomic_write_json, atomic_write_text

from . import codes

PACKAGES = ("vlmdata", "ms-swift", "torch", "transformers", "peft", "trl", "accelerate", "datasets")


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    if out.get("vlmdata") is None:
        import vlmdata

        out["vlmdata"] = getattr(vlmdata, "__version__", None)
    return out


def _stream_identity(manifest: dict[str, Any]) -> Any:
    train = manifest.get("train") or {}
    return {
        "seed": train.get("seed"),
        "sample_limit": train.get("sample_limit"),
        "fusion": train.get("fusion"),
        "sources": [
            {k: s.get(k) for k in ("name", "size", "fingerprint", "template", "augment")}
            for s in train.get("sources", [])
        ],
    }


def checkpoint_step(checkpoint: Path) -> int:
    state = checkpoint / "trainer_state.json"
    if not state.is_file():
        raise VlmdataError(
            codes.RESUME_NOT_FOUND,
            f"{checkpoint} has no trainer_state.json",
            where=Location(field="training.resume_from_checkpoint"),
            value=str(checkpoint),
        )
    return int(json.loads(state.read_text(encoding="utf-8")).get("global_step", 0))


def prepare_run_dir(output_dir: Path, resume: str | None, data_manifest: dict[str, Any]) -> int | None:
    """Check the folder against the resume setting; returns the resumed step (None for a fresh run)."""
    busy = output_dir.is_dir() and (
        any(output_dir.glob("checkpoint-*")) or (output_dir / "logging.jsonl").exists()
    )
    if resume is None:
        if busy:
            raise VlmdataError(
                codes.RUN_DIR_IN_USE,
                f"{output_dir} already holds a run",
                where=Location(field="training.output_dir"),
                value=str(output_dir),
            )
        return None
    step = checkpoint_step(Path(resume))
    previous = Path(resume).parent / "data_manifest.json"  # the run that wrote the checkpoint
    if not previous.is_file():
        previous = output_dir / "data_manifest.json"
    if previous.is_file():
        before = _stream_identity(json.loads(previous.read_text(encoding="utf-8")))
        now = _stream_identity(json.loads(json.dumps(data_manifest)))
        if before != now:
            raise VlmdataError(
                codes.RESUME_DATA_CHANGED,
                f"the data stream differs from the one recorded in {previous}",
                where=Location(field="training.resume_from_checkpoint"),
                value=resume,
            )
    from .best import trim_best
    from .draws import trim_draws

    trim_draws(output_dir, step)
    trim_best(output_dir, step)
    log = output_dir / "logging.jsonl"
    if log.is_file():
        kept = [
            line
            for line in log.read_text(encoding="utf-8").splitlines()
            if line.strip() and int(json.loads(line).get("step", 0)) <= step
        ]
        atomic_write_text(log, "".join(line + "\n" for line in kept))
    return step


def write_run_files(
    output_dir: Path, plan: Any, data_manifest: dict[str, Any], fusion_plans: dict[str, Any] | None = None
) -> None:
    import yaml

    output_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        output_dir / "config.yaml", yaml.safe_dump(plan.config.to_dict(), sort_keys=False, allow_unicode=True)
    )
    atomic_write_json(
        output_dir / "run.json",
        {
            "plugin": plan.plugin,
            "versions": versions(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "argv": list(sys.argv),
            "config_files": list(getattr(plan.config, "files", [])),
            "world_size": plan.world_size,
            "gradient_accumulation_steps": plan.gradient_accumulation_steps,
            "env": dict(plan.env),
            "notes": list(plan.notes),
            "backend_args": plan.to_dict()["backend_args"],
        },
    )
    atomic_write_json(output_dir / "data_manifest.json", data_manifest)
    fusion = (data_manifest.get("train") or {}).get("fusion")
    if fusion is not None:
        atomic_write_json(
            output_dir / "fusion_manifest.json", {"config": fusion, "epochs": fusion_plans or {}}
        )
        return
    fused = {}
    for source in (data_manifest.get("train") or {}).get("sources", []):
        manifest = written_fusion_manifest(Path(source["path"]))
        if manifest is not None:
            fused[source["name"]] = manifest
    if fused:
        atomic_write_json(output_dir / "fusion_manifest.json", {"fused_datasets": fused})


def written_fusion_manifest(dataset: Path) -> Any:
    """The manifest `vlmdata fuse` wrote next to a fused dataset (`OUT/manifest.json` for `OUT/data`)."""
    for candidate in (dataset / "manifest.json", dataset.parent / "manifest.json"):
        if candidate.is_file() and (candidate.parent == dataset or dataset.name == "data"):
            try:
                return json.loads(candidate.read_text(encoding="utf-8"))
            except ValueError:
                return None
    return None
