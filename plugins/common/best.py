"""One best-checkpoint decision for every rank, and `best_model.json` in the run folder.

transformers takes the decision on each rank from that rank's evaluation metrics. vlmdata's metrics are
reduced across ranks before it (transformers gathers `eval_loss`; `custom_metrics` all-reduce their (sum,
count) pairs, per-dataset ones included), so the ranks agree by construction — but a rank that disagreed would
keep a different `best_model_checkpoint`, load different weights at the end, or hang in a collective while
rotating checkpoints. After transformers' own decision every rank therefore all-gathers (value, best value,
best step, new best) and adopts rank 0's; differing values are logged as VD737, naming the metric.

Rank 0 writes `best_model.json` after each evaluation: the metric, its direction, the current best value and
step, and every evaluation with each rank's value (so agreement is visible, and tested on two CPU processes).
"""

from __future__ import annotations

import math
import os
from typing import Any

from vlmdata.config.run import hf_metric_name
from vlmdata.io.atomic import atomic_write_json

BEST_FILE = "best_model.json"


def _gather(item: Any) -> list[Any]:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [item]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, item)
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def agree_on_best(trainer: Any, metrics: dict[str, float], is_new: bool) -> bool:
    """Make rank 0's decision every rank's; record it. Returns the (shared) `is_new_best`."""
    args, state = trainer.args, trainer.state
    if args.metric_for_best_model is None:
        return is_new
    # ms-swift fills in `loss` (`reward` for GRPO) when the config names no metric: recorded as eval_<name>
    metric = hf_metric_name(args.metric_for_best_model)
    value = metrics.get(metric)
    mine = {
        "value": None if value is None else float(value),
        "best_metric": None if state.best_metric is None else float(state.best_metric),
        "best_global_step": state.best_global_step,
        "new_best": bool(is_new),
    }
    ranks = _gather(mine)
    chosen = ranks[0]
    if any(not _same(r["value"], chosen["value"]) for r in ranks):
        from swift.utils import get_logger

        from .codes import BEST_DISAGREE

        get_logger().warning(
            f"{BEST_DISAGREE.code}: ranks report different {metric}: {[r['value'] for r in ranks]}; "
            "every rank takes rank 0's decision"
        )
    state.best_metric = chosen["best_metric"]
    state.best_global_step = chosen["best_global_step"]
    history = getattr(trainer, "_vlmdata_best_history", None)
    if history is None:  # a resumed run continues the record (trimmed to its checkpoint by the run folder)
        history = trainer._vlmdata_best_history = read_best(args.output_dir).get("evaluations", [])
    history.append(
        {
            "step": int(state.global_step),
            "value": chosen["value"],
            "new_best": chosen["new_best"],
            "ranks": [{"rank": i, **r} for i, r in enumerate(ranks)],
        }
    )
    if state.is_world_process_zero:
        best_step = chosen["best_global_step"]
        atomic_write_json(
            os.path.join(args.output_dir, BEST_FILE),
            {
                "metric": metric,
                "greater_is_better": bool(args.greater_is_better),
                "load_best_model_at_end": bool(args.load_best_model_at_end),
                "best_metric": chosen["best_metric"],
                "best_global_step": best_step,
                "best_checkpoint": f"checkpoint-{best_step}" if best_step else None,
                "evaluations": history,
            },
        )
    return bool(chosen["new_best"])


def read_best(output_dir: str | os.PathLike[str]) -> dict[str, Any]:
    import json

    path = os.path.join(output_dir, BEST_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as fh:
        return dict(json.load(fh))


def trim_best(output_dir: str | os.PathLike[str], step: int) -> None:
    """Forget evaluations after `step` (a resume from checkpoint-`step`)."""
    data = read_best(output_dir)
    if data:
        data["evaluations"] = [e for e in data.get("evaluations", []) if int(e.get("step", 0)) <= step]
        atomic_write_json(os.path.join(output_dir, BEST_FILE), data)
