"""The run folder's start rule, without writing anything: what a fresh run or a resume may start in.

A folder that already holds a run (a `checkpoint-N` or a `logging.jsonl`) is refused unless the config resumes
it (VD735); a resume must name a real checkpoint (VD731) and read the same data stream (same sources, sizes,
fingerprints, fusion config, sample limit and seed) as the run that wrote it, checked against its `data_manifest.json`
(VD732). `vlmdata train --dry-run` and the real run both call `check_run_dir`; the plugins then write the run
files (`vlmdata_plugins.common.runfolder`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vlmdata.errors import Location, VlmdataError
from vlmdata.train import codes


def stream_identity(manifest: dict[str, Any]) -> Any:
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


def holds_run(output_dir: Path) -> bool:
    return output_dir.is_dir() and (
        any(output_dir.glob("checkpoint-*")) or (output_dir / "logging.jsonl").exists()
    )


def check_run_dir(output_dir: Path, resume: str | None, data_manifest: dict[str, Any]) -> int | None:
    """Refuse a folder the run may not start in; return the resumed step (None for a fresh run)."""
    if resume is None:
        if holds_run(output_dir):
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
        before = stream_identity(json.loads(previous.read_text(encoding="utf-8")))
        now = stream_identity(json.loads(json.dumps(data_manifest)))
        if before != now:
            raise VlmdataError(
                codes.RESUME_DATA_CHANGED,
                f"the data stream differs from the one recorded in {previous}",
                where=Location(field="training.resume_from_checkpoint"),
                value=resume,
            )
    return step
