"""Telemetry: `logging.jsonl` rows and a rich progress display (replacing ms-swift's tqdm bar and printer).

One JSON object per logging step (rank 0 only), keys prefixed exactly once:

    {"step": 12, "epoch": 0.48, "train/loss": 1.93, "train/learning_rate": 9.1e-05, "train/grad_norm": 0.8,
     "train/token_acc": 0.61, "train/samples_per_second": 3.2, "train/steps_per_second": 0.4,
     "memory_gib": 21.7, "train/bbu_dense_loss": 1.7, "train/bbu_dense_token_acc": 0.64, ...}

- `step`, `epoch`, `memory_gib` (peak reserved CUDA memory, or the process's peak RSS on a CPU) are plain;
- the trainer's keys get `train/`, its `eval_*` keys become `eval/*`, keys that already carry `train/` or
  `eval/` are kept (plugins that log prefixed metrics are never double-prefixed);
- the end-of-training summary row keeps its `train/runtime`-style keys (`train_loss` → `train/average_loss`).

ms-swift's own ProgressCallbackNew/PrinterCallbackNew also append to `logging.jsonl` (with a different
layout, and a final blob of the whole log history); the pipeline removes them so the file has one schema.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

PLAIN = {"step", "epoch"}
RENAMES = {"train_loss": "train/average_loss"}


def metric_key(key: str) -> str:
    if key in RENAMES:
        return RENAMES[key]
    if key.startswith(("train/", "eval/")) or key in PLAIN:
        return key
    if key.startswith("eval_"):
        return "eval/" + key[len("eval_") :]
    if key.startswith("train_"):
        return "train/" + key[len("train_") :]
    return "train/" + key


def peak_memory_gib() -> float:
    try:
        import torch

        if torch.cuda.is_available():
            return round(torch.cuda.max_memory_reserved() / 2**30, 3)
    except ImportError:  # pragma: no cover
        pass
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss_kib / 2**20, 3)


class TelemetryCallback(TrainerCallback):
    def __init__(
        self,
        output_dir: str | Path,
        samples_per_step: int,
        show_progress: bool = True,
        stream: Any = None,
    ) -> None:
        self.path = Path(output_dir) / "logging.jsonl"
        self.stream = stream  # where progress goes (None: stderr at train begin)
        self.samples_per_step = samples_per_step
        self.show_progress = show_progress
        self._progress: Any = None
        self._task: Any = None
        self._last_time = 0.0
        self._last_step = 0
        self.rows: list[dict[str, Any]] = []

    # -- progress ---------------------------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._last_time = time.time()
        self._last_step = state.global_step
        if not (self.show_progress and state.is_world_process_zero):
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(file=self.stream or sys.stderr)
        if not console.is_terminal:
            return
        self._progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task(
            "train", total=state.max_steps, completed=state.global_step, info=""
        )
        self._progress.start()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    # -- logging.jsonl ----------------------------------------------------------------------------------
    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        now = time.time()
        row: dict[str, Any] = {"step": int(state.global_step), "epoch": round(float(state.epoch or 0.0), 6)}
        for key, value in logs.items():
            if isinstance(value, (int, float, str, bool)) or value is None:
                row[metric_key(key)] = value
        is_step_row = "train/loss" in row
        if is_step_row:
            steps = state.global_step - self._last_step
            elapsed = max(now - self._last_time, 1e-9)
            if steps > 0:
                row["train/steps_per_second"] = round(steps / elapsed, 6)
                row["train/samples_per_second"] = round(steps * self.samples_per_step / elapsed, 6)
            self._last_step, self._last_time = state.global_step, now
        row["memory_gib"] = peak_memory_gib()
        self.rows.append(row)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
        if self._progress is not None and is_step_row:
            self._progress.update(self._task, info=f"loss {row['train/loss']:.4g}")
        elif self._progress is None and self.show_progress:
            shown = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}
            print(json.dumps(shown, ensure_ascii=False), file=self.stream or sys.stderr, flush=True)
