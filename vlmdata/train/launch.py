"""From a config file to a running trainer: load + validate, plan, and (multi-GPU) the torchrun launch.

`vlmdata train` is one process per node. When `training.nproc_per_node > 1` or `training.nnodes > 1`, and the
process is not already a torchrun worker, it re-executes itself as

    python -m torch.distributed.run --nproc_per_node N --nnodes M --node_rank R \
        --master_addr A --master_port P -m vlmdata train --config … [--base-config …] [--plugin …]

and every worker loads the same config, plans, and calls the plugin's `run` in-process. A worker is
recognised by the `LOCAL_RANK` variable torchrun sets. Multi-node runs start the same command on every node
with that node's `node_rank` (a per-node `--base-config` is the natural place for it).

`run_plan` trains: `training.output_dir` follows the `--out` rule as a workspace (`vlmdata.io.output`): it may not
be, hold or lie inside the run's inputs (its config files, data, fusion config and entries, model), must be new,
empty or an earlier `vlmdata train` folder, and is locked for the run (a second run on it is refused, VD005).
Under torchrun only rank 0 claims it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from vlmdata.config.run import RunConfig
from vlmdata.errors import VlmdataError
from vlmdata.train import codes
from vlmdata.train.plugin import TrainerPlugin, TrainPlan


def plan_run(
    config_path: str | Path, base: str | Path | None = None, plugin: str | None = None
) -> tuple[TrainerPlugin, TrainPlan]:
    """Validate the config (every problem at once) and ask its plugin for the plan; nothing is loaded."""
    from vlmdata.train.config import load_train_config
    from vlmdata.train.registry import get_plugin

    config = load_train_config(config_path, base=base, plugin=plugin)
    trainer = get_plugin(config.plugin)
    try:
        plan = trainer.plan(config)
    except VlmdataError:
        raise
    except Exception as exc:  # a plugin bug, reported with the plugin's name
        raise VlmdataError(
            codes.PLAN_FAILED, f"plugin {trainer.name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(plan, TrainPlan):
        raise VlmdataError(
            codes.PLAN_FAILED,
            f"plugin {trainer.name!r}: plan() returned {type(plan).__name__}, not a TrainPlan",
        )
    return trainer, plan


def run_inputs(config: RunConfig) -> list[str]:
    """Every path a run reads: its YAML files, data, fusion config (and the fusion's files and entries), model."""
    paths = [*config.files, *config.data.train, *config.data.val, str(config.model.path)]
    if config.data.fusion:
        from vlmdata.fuse import load_fusion_config

        fusion = load_fusion_config(config.data.fusion)
        paths += [config.data.fusion, *fusion.files]
        paths += [p for _, e in fusion.entries() for p in (e.data, e.val) if p is not None]
    return paths


def dry_run(trainer: TrainerPlugin, plan: TrainPlan) -> Any:
    """Every check the real run makes before its first step, in its order, nothing written: the `--out` rule
    for `training.output_dir` (what `run_plan`'s workspace applies), then the plugin's preflight."""
    from vlmdata.io.output import check_out

    inputs = run_inputs(plan.config)
    check_out(plan.output_dir, command="train", kind="workspace", inputs=inputs, flag="training.output_dir")
    return trainer.preflight(plan)


def run_plan(trainer: TrainerPlugin, plan: TrainPlan) -> Any:
    """Train `plan` with `trainer` under the `--out` rule for `training.output_dir` (module docstring)."""
    from vlmdata.io.output import workspace

    if os.environ.get("RANK", "0") != "0":
        return trainer.run(plan)
    inputs = run_inputs(plan.config)
    with workspace(plan.output_dir, command="train", inputs=inputs, flag="training.output_dir", wait=False):
        return trainer.run(plan)


def is_worker() -> bool:
    return "LOCAL_RANK" in os.environ


def needs_launch(config: RunConfig) -> bool:
    training = config.training
    return (training.nproc_per_node > 1 or training.nnodes > 1) and not is_worker()


def torchrun_command(config: RunConfig, cli_args: list[str]) -> list[str]:
    """The command that starts this node's workers; `cli_args` are the `vlmdata train` flags to repeat."""
    t = config.training
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={t.nproc_per_node}",
        f"--nnodes={t.nnodes}",
        f"--node_rank={t.node_rank}",
        f"--master_addr={t.master_addr}",
        f"--master_port={t.master_port}",
        "-m",
        "vlmdata",
        "train",
        *cli_args,
    ]


def launch(config: RunConfig, cli_args: list[str]) -> int:
    """Run torchrun in the foreground; its exit status becomes ours (VD709 when non-zero)."""
    command = torchrun_command(config, cli_args)
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise VlmdataError(
            codes.LAUNCH_FAILED,
            f"torchrun exited with status {result.returncode}",
            details=["command: " + " ".join(command)],
        )
    return 0
