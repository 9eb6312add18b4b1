"""The draw log of the rollout trainers (GKD, GRPO): which record each training step read, and how it was drawn.

Every process appends one line per distinct training row it reads to `OUTPUT/draws/rank-<r>.jsonl`:

    {"step": 3, "epoch": 1, "position": 0, "id": "bbu-7", "source": "bbu", "template": "target_dense_bbu",
     "augment": [{"name": "hflip", "params": {}}, {"name": "rotate", "params": {"angle": -3.2}}]}

`step` is the optimiser step that consumes the row (0-based, global across epochs: what the curriculum reads),
`position` its place in that epoch's stream (the fusion plan or the seeded order), `augment` the ops that fired
with their sampled parameters (`"bypassed"` when the record was left untouched this time, `null` when it was not
augmented at all: its source does not augment, or it has no image). Rows a round reads again (its repeats, a prompt's `num_generations` copies) are logged once.
So the run folder shows what every epoch drew, and two runs (or a run and its resume) can be compared line by
line. On a resume the lines of steps after the checkpoint are dropped, as in `logging.jsonl`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

DRAWS_DIR = "draws"


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _rounded(v) for k, v in value.items()}
    return value


def augment_summary(meta: dict[str, Any]) -> Any:
    """The applied ops of a record's `_augment` provenance, `"bypassed"`, or None (not augmented)."""
    prov = meta.get("_augment")
    if not isinstance(prov, dict):
        return None
    if prov.get("bypassed"):
        return "bypassed"
    return [
        {"name": op.get("name"), "params": _rounded(op.get("params") or {})}
        for op in prov.get("ops") or []
        if op.get("applied")
    ]


def draw_line(row: dict[str, Any]) -> dict[str, Any] | None:
    """The draw-log line of one training row (None for rows without a stream key)."""
    key = row.get("vlmdata_key")
    raw = row.get("vlmdata_record")
    if key is None or raw is None:
        return None
    record = json.loads(raw)
    meta = record.get("metadata") or {}
    meta = json.loads(meta) if isinstance(meta, str) else meta
    epoch, position, step = (int(k) for k in key)
    return {
        "step": step,
        "epoch": epoch,
        "position": position,
        "id": record.get("id"),
        "source": row.get("channel"),
        "template": meta.get("_template"),
        "augment": augment_summary(meta),
    }


class DrawLog:
    def __init__(self, output_dir: str | Path, rank: int) -> None:
        self.path = Path(output_dir) / DRAWS_DIR / f"rank-{int(rank)}.jsonl"
        self._last: set[tuple[int, int, int]] = set()

    def record(self, rows: list[Any]) -> None:
        keys = [tuple(r["vlmdata_key"]) for r in rows if isinstance(r, dict) and "vlmdata_key" in r]
        if not keys or set(keys) == self._last:  # a repeat of the round just logged
            return
        lines, seen = [], set()
        for row, key in zip(rows, keys, strict=False):
            if key in seen:
                continue
            seen.add(key)
            line = draw_line(row)
            if line is not None:
                lines.append(json.dumps(line, ensure_ascii=False))
        self._last = set(keys)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))


class DrawLogMixin:
    """Put in front of a rollout trainer: logs the training rows of every `_prepare_inputs` call."""

    vlmdata_draws: DrawLog | None = None

    def _prepare_inputs(self, inputs: Any) -> Any:
        if self.vlmdata_draws is not None and self.model.training and isinstance(inputs, list):  # type: ignore[attr-defined]
            self.vlmdata_draws.record(inputs)
        return super()._prepare_inputs(inputs)  # type: ignore[misc]


def trim_draws(output_dir: Path, step: int) -> None:
    """Drop the draw-log lines of steps at or after `step` (a resume from checkpoint-`step`)."""
    from vlmdata.io.atomic import atomic_write_text

    for path in sorted((output_dir / DRAWS_DIR).glob("rank-*.jsonl")):
        kept = [
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and int(json.loads(line).get("step", 0)) < step
        ]
        atomic_write_text(path, "".join(line + "\n" for line in kept))
