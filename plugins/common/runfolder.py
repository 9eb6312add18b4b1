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

from vlmdata.io.atomic import atomic_write_json, atomic_write_text
from vlmdata.train.runfolder import check_run_dir, checkpoint_step  # noqa: F401 - checkpoint_step re-exported

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


def prepare_run_dir(output_dir: Path, resume: str | None, data_manifest: dict[str, Any]) -> int | None:
    """Check the folder against the resume setting (`vlmdata.train.runfolder`, the rule `--dry-run` checks
    too); on a resume, drop the log rows written after the checkpoint. Returns the resumed step."""
    step = check_run_dir(output_dir, resume, data_manifest)
    if step is None:
        return None
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
