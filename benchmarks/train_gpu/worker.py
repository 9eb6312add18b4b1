"""One measured training run in its own process (clean peak-memory counters, no state shared between runs).

    python -m benchmarks.train_gpu.worker vlmdata RUN.yaml RESULT.json
    python -m benchmarks.train_gpu.worker swift RUN.yaml RESULT.json EXPORT.jsonl

`vlmdata`: what `vlmdata train --config RUN.yaml` does in-process (`plan_run` + the plugin's `run`), with a
`StepMeter` among the trainer's callbacks. `swift`: plain ms-swift SFT (`SwiftSft`, no vlmdata code in the
loop) on the `vlmdata export` JSONL, with exactly the ms-swift arguments the vlmdata plan resolved for
RUN.yaml (same model, tuner, batch, learning rate, checkpointing, image budget), only the dataset swapped
and ms-swift's shuffles off (the export is already in the trainer's stream order).

`StepMeter` times optimiser steps as the wall time between consecutive `on_step_end` calls, after a CUDA
synchronise (so data loading, forward, backward and the optimiser all count), and counts the tokens the
model actually received through a forward pre-hook on the trained model: real tokens = attention-mask sum,
padded tokens = mask size, supervised tokens = labels != -100. The first interval (from `on_train_begin`)
is dropped; the driver drops the warm-up steps.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


class StepMeter(TrainerCallback):
    def __init__(self) -> None:
        self.step_seconds: list[float] = []
        self.real: list[int] = []
        self.padded: list[int] = []
        self.supervised: list[int] = []
        self.batch_rows: list[int] = []
        self._pending: list[tuple[Any, Any, Any, int]] = []
        self._last = 0.0
        self._handle: Any = None

    def _hook(self, module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        if not module.training:
            return
        ids = kwargs.get("input_ids")
        mask = kwargs.get("attention_mask")
        labels = kwargs.get("labels")
        if ids is None and args:
            ids = args[0]
        if ids is None:
            return
        real = mask.sum() if mask is not None else None
        sup = (labels != -100).sum() if labels is not None else None
        self._pending.append((real, int(ids.numel()), sup, int(ids.shape[0])))

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        import torch

        if model is not None:
            self._handle = model.register_forward_pre_hook(self._hook, with_kwargs=True)
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        _sync()
        self._last = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        _sync()
        now = time.perf_counter()
        self.step_seconds.append(now - self._last)
        self._last = now
        pending, self._pending = self._pending, []
        self.padded.append(sum(p[1] for p in pending))
        self.real.append(sum(int(p[0]) if p[0] is not None else p[1] for p in pending))
        self.supervised.append(sum(int(p[2]) for p in pending if p[2] is not None))
        self.batch_rows.append(sum(p[3] for p in pending))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def result(self) -> dict[str, Any]:
        import torch

        out: dict[str, Any] = {
            "step_seconds": self.step_seconds,
            "real_tokens": self.real,
            "padded_tokens": self.padded,
            "supervised_tokens": self.supervised,
            "batch_rows": self.batch_rows,
        }
        if torch.cuda.is_available():
            out["peak_allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
            out["peak_reserved_gib"] = torch.cuda.max_memory_reserved() / 2**30
            out["alloc_retries"] = int(torch.cuda.memory_stats().get("num_alloc_retries", 0))
            out["device"] = torch.cuda.get_device_name(0)
        else:
            import resource

            out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            out["device"] = "cpu"
        return out


def run_vlmdata(config: str, meter: StepMeter) -> None:
    from vlmdata.train.launch import plan_run

    trainer, plan = plan_run(config)
    trainer.run(plan, extra_callbacks=[meter])


def swift_arguments(config: str, export: str) -> tuple[dict[str, Any], dict[str, str]]:
    from vlmdata.train.launch import plan_run

    _, plan = plan_run(config)
    kwargs = dict(plan.backend_args)
    kwargs.update(
        dataset=[export],
        val_dataset=[],
        dataset_shuffle=False,
        train_dataloader_shuffle=False,
        output_dir=str(Path(plan.output_dir)),
        eval_strategy="no",
    )
    return kwargs, dict(plan.env)


def run_swift(config: str, export: str, meter: StepMeter) -> None:
    from swift.arguments import SftArguments
    from swift.pipelines.train.sft import SwiftSft
    from vlmdata_plugins.common.env import image_env

    class MeteredSft(SwiftSft):
        def train(self, trainer: Any) -> Any:
            trainer.add_callback(meter)
            return super().train(trainer)

    kwargs, env = swift_arguments(config, export)
    with image_env(env):
        MeteredSft(SftArguments(**kwargs)).main()


def main(argv: list[str]) -> int:
    kind, config, result = argv[0], argv[1], Path(argv[2])
    meter = StepMeter()
    started = time.perf_counter()
    if kind == "vlmdata":
        run_vlmdata(config, meter)
    elif kind == "swift":
        run_swift(config, argv[3], meter)
    else:
        raise SystemExit(f"unknown worker kind {kind!r}")
    out = meter.result()
    out.update(kind=kind, config=config, wall_seconds=time.perf_counter() - started)
    result.write_text(json.dumps(out) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
