"""One measured training run in its own process (clean peak-memory counters, no state shared between runs).

    python -m benchmarks.train_gpu.worker vlmdata RUN.yaml RESULT.json
    python -m benchmarks.train_gpu.worker swift RUN.yaml RESULT.json EXPORT.jsonl
    python -m benchmarks.train_gpu.worker swift_grpo RUN.yaml RESULT.json ROWS.jsonl

`vlmdata`: what `vlmdata train --config RUN.yaml` does in-process (`plan_run` + the plugin's `run`), with a
`StepMeter` among the trainer's callbacks. `swift`: plain ms-swift SFT (`SwiftSft`, no vlmdata code in the
loop) on the `vlmdata export` JSONL; `swift_grpo`: plain ms-swift GRPO (`SwiftRLHF`) on the prompt rows of the
same records, with the reward library registered in ms-swift's reward registry as an external plugin would.
Both peers get exactly the ms-swift arguments the vlmdata plan resolved for RUN.yaml (same model, tuner,
batch, learning rate, checkpointing, image budget, generation settings), only the dataset swapped and
ms-swift's shuffles off (the files are already in the trainer's stream order).

`StepMeter` times optimiser steps as the wall time between consecutive `on_step_end` calls, after a CUDA
synchronise (so data loading, generation, forward, backward and the optimiser all count); counts the tokens
the trained model received in its training forwards through a forward pre-hook (real = attention-mask sum,
padded = mask size, supervised = labels != -100); records the logged loss and rewards of every step; and sums
model FLOPs per step (`flops.FlopMeter`, every Qwen3-VL model in the process). For GRPO the step is split
into generation, reward scoring, the reference/old-policy forwards (no gradient) and the rest of the batch
preparation (encoding), each timed around ms-swift's own methods with a CUDA synchronise; training is the
remainder of the step. The first interval (from `on_train_begin`) is dropped; the driver drops the warm-up.
After every step the figures so far are written to RESULT.json.partial, so a run stopped by a time limit
still leaves its measured steps.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

PHASES: dict[str, float] = {}
GENERATED: list[int] = []


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _timed(name: str, fn: Any, when: Any = None) -> Any:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if when is not None and not when():
            return fn(self, *args, **kwargs)
        _sync()
        start = time.perf_counter()
        try:
            return fn(self, *args, **kwargs)
        finally:
            _sync()
            PHASES[name] = PHASES.get(name, 0.0) + time.perf_counter() - start

    return wrapper


def instrument_grpo() -> None:
    """Time ms-swift's GRPO stages (shared by vlmdata's trainer, a subclass, and the plain peer)."""
    import torch
    from swift.rlhf_trainers.grpo_trainer import GRPOTrainer

    generate = GRPOTrainer._generate_completions

    def tokens(ids: Any) -> int:  # one turn's ids, or a list of turns
        return sum(tokens(x) for x in ids) if ids and isinstance(ids[0], list) else len(ids or [])

    def generate_and_count(self: Any, samples: Any) -> Any:
        out = generate(self, samples)
        GENERATED.append(sum(tokens(s.response_token_ids) for s in out))
        return out

    GRPOTrainer._generate_completions = _timed("generation", generate_and_count)
    GRPOTrainer._score_completions = _timed("reward", GRPOTrainer._score_completions)
    GRPOTrainer._prepare_batch_inputs = _timed("prepare_batch", GRPOTrainer._prepare_batch_inputs)
    GRPOTrainer._get_per_token_logps_and_entropies = _timed(
        "ref_old_forward",
        GRPOTrainer._get_per_token_logps_and_entropies,
        when=lambda: not torch.is_grad_enabled(),
    )


class StepMeter(TrainerCallback):
    def __init__(self, partial: Path | None = None) -> None:
        from benchmarks.train_gpu.flops import FlopMeter

        self.partial = partial
        self.step_seconds: list[float] = []
        self.real: list[int] = []
        self.padded: list[int] = []
        self.supervised: list[int] = []
        self.batch_rows: list[int] = []
        self.losses: list[float | None] = []
        self.logged: list[dict[str, float]] = []
        self.flops: list[dict[str, float]] = []
        self.phases: list[dict[str, float]] = []
        self.generated: list[int] = []
        self._pending: list[tuple[Any, Any, Any, int]] = []
        self._last = 0.0
        self._handle: Any = None
        self.flop_meter = FlopMeter()

    def _hook(self, module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        import torch

        if not module.training or not torch.is_grad_enabled():
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
        self.flop_meter.attach()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        _sync()
        PHASES.clear()
        GENERATED.clear()
        self.flop_meter.take()
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
        self.flops.append(self.flop_meter.take())
        self.phases.append(dict(PHASES))
        PHASES.clear()
        self.generated.append(sum(GENERATED))
        GENERATED.clear()
        if self.partial is not None:
            from vlmdata.io.atomic import atomic_write_text

            atomic_write_text(self.partial, json.dumps(self.result()) + "\n")

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if not logs or "loss" not in logs:
            return
        self.losses.append(float(logs["loss"]))
        self.logged.append(
            {k: float(v) for k, v in logs.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        )

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self.flop_meter.detach()

    def result(self) -> dict[str, Any]:
        import torch

        out: dict[str, Any] = {
            "step_seconds": self.step_seconds,
            "real_tokens": self.real,
            "padded_tokens": self.padded,
            "supervised_tokens": self.supervised,
            "batch_rows": self.batch_rows,
            "losses": self.losses,
            "logged": self.logged,
            "flops": self.flops,
            "phases": self.phases,
            "generated_tokens": self.generated,
            "models_metered": self.flop_meter.models,
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


def swift_arguments(config: str, data: str) -> tuple[dict[str, Any], dict[str, str]]:
    from vlmdata.train.launch import plan_run

    _, plan = plan_run(config)
    kwargs = {k: v for k, v in plan.backend_args.items() if not k.startswith("vlmdata_")}
    kwargs.update(
        dataset=[data],
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


def run_swift_grpo(config: str, rows: str, meter: StepMeter) -> None:
    from swift.arguments import RLHFArguments
    from swift.pipelines.train.rlhf import SwiftRLHF
    from vlmdata_plugins.common.env import image_env
    from vlmdata_plugins.grpo.pipeline import register_rewards

    class MeteredRLHF(SwiftRLHF):
        def train(self, trainer: Any) -> Any:
            trainer.add_callback(meter)
            return super().train(trainer)

    kwargs, env = swift_arguments(config, rows)
    register_rewards([name.split(".", 1)[1] for name in kwargs["reward_funcs"]])
    with image_env(env):
        MeteredRLHF(RLHFArguments(**kwargs)).main()


def main(argv: list[str]) -> int:
    kind, config, result = argv[0], argv[1], Path(argv[2])
    from vlmdata.config import load_run_config

    if kind == "swift_grpo" or load_run_config(config).plugin == "grpo":
        instrument_grpo()
    meter = StepMeter(result.with_name(result.name + ".partial"))
    started = time.perf_counter()
    if kind == "vlmdata":
        run_vlmdata(config, meter)
    elif kind == "swift":
        run_swift(config, argv[3], meter)
    elif kind == "swift_grpo":
        run_swift_grpo(config, argv[3], meter)
    else:
        raise SystemExit(f"unknown worker kind {kind!r}")
    out = meter.result()
    out.update(kind=kind, config=config, wall_seconds=time.perf_counter() - started)
    result.write_text(json.dumps(out) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
