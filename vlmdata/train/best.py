"""Best-checkpoint selection: which evaluation metric, which direction, checked before anything loads.

`training.metric_for_best_model` names a logged evaluation metric in any of the spellings a user sees —
`eval/token_acc` (logging.jsonl), `eval_token_acc` (transformers), `token_acc` — and is stored as
transformers' `eval_<name>`. `training.greater_is_better` is inferred from the name when not given:

| metric (without `eval_`) | better |
|---|---|
| ends in `loss` (`loss`, `sft_loss`, `bbu_loss`, `llm_kd_loss`, …), `kl` | lower |
| ends in `acc` (`token_acc`, `bbu_token_acc`), `reward`, `rewards/<name>/mean` | higher |
| anything else (`reward_std`, `completions/mean_length`, …) | not inferred: set `greater_is_better` |

A name must be one the run logs: the plugin lists its evaluation metrics (`TrainerPlugin.eval_metrics`), and
runs that read several datasets add `{name}_loss` / `{name}_token_acc` for each evaluation dataset (the same
names `sft` and `gkd` log; finding them may open the datasets, only when such a name is asked for). A third-party
plugin that lists nothing accepts any name. `load_best_model_at_end` without a metric selects on `eval_loss`
(transformers' rule). Every rank takes the same decision: the metrics are reduced across ranks before it
(`eval_loss` gathered by transformers, custom metrics as (sum, count) pairs), and the trainer mixin makes rank
0's decision everyone's (`plugins/common/best.py`).
"""

from __future__ import annotations

from typing import Any

from vlmdata.config.run import hf_metric_name

LOWER = ("loss",)
HIGHER = ("acc",)


def bare_metric_name(name: str) -> str:
    return hf_metric_name(name)[len("eval_") :]


def infer_greater_is_better(name: str) -> bool | None:
    """True (higher is better), False (lower is better), or None when the name does not say (see the table)."""
    bare = bare_metric_name(name)
    if bare.endswith(LOWER) or bare == "kl":
        return False
    if bare.endswith(HIGHER) or bare == "reward" or (bare.startswith("rewards/") and bare.endswith("/mean")):
        return True
    return None


def selected_metric(training: Any) -> str | None:
    """The metric the run selects on: the configured one, or `eval_loss` when only `load_best_model_at_end`."""
    if training.metric_for_best_model is not None:
        return hf_metric_name(training.metric_for_best_model)
    return "eval_loss" if training.load_best_model_at_end else None


def best_model_args(config: Any, has_val: bool) -> dict[str, Any]:
    """The transformers arguments of best-checkpoint selection and the save/evaluation cadence."""
    t = config.training
    eval_strategy = t.eval_strategy or ("steps" if has_val else "no")
    out: dict[str, Any] = {"save_strategy": t.save_strategy, "eval_strategy": eval_strategy}
    if eval_strategy == "steps":
        out["eval_steps"] = t.eval_steps or t.save_steps
    metric = selected_metric(t)
    if metric is not None and eval_strategy != "no":
        better = t.greater_is_better if t.greater_is_better is not None else infer_greater_is_better(metric)
        out.update(metric_for_best_model=metric, greater_is_better=bool(better))
        out["load_best_model_at_end"] = t.load_best_model_at_end
    return out


def eval_channels(config: Any) -> list[str]:
    """The datasets a run logs per-dataset evaluation metrics for ([] when it logs none)."""
    from vlmdata.train.dataset import open_train_data

    data = open_train_data(config, check_lengths=False)
    if data.val is None or not data.multi_source:
        return []
    names: list[str] = []
    for source in data.val.items:
        names += [n for n in source.channels() if n not in names]
    return names


def known_eval_metrics(trainer: Any, config: Any, with_channels: bool) -> list[str] | None:
    """The bare evaluation metric names the run logs, or None when the plugin does not list them."""
    names = trainer.eval_metrics(config)
    if names is None:
        return None
    names = list(names)
    if with_channels and trainer.per_source_eval:
        for channel in eval_channels(config):
            names += [f"{channel}_loss", f"{channel}_token_acc"]
    return names


def best_model_problems(trainer: Any, config: Any, has_val: bool) -> list[tuple[tuple[str, ...], str, str]]:
    """Problems of the best-checkpoint settings that need the plugin or the data: (key path, message, fix)."""
    t = config.training
    metric = selected_metric(t)
    if metric is None:
        return []
    key = ("training", "metric_for_best_model" if t.metric_for_best_model else "load_best_model_at_end")
    eval_strategy = t.eval_strategy or ("steps" if has_val else "no")
    if eval_strategy == "no" or not has_val:
        return [
            (
                key,
                "selecting the best checkpoint needs an evaluation, and the run has "
                + ("no evaluation data" if not has_val else "eval_strategy: no"),
                "give evaluation data (`data.val`, or `val` sets in the fusion config) and an eval_strategy",
            )
        ]
    problems: list[tuple[tuple[str, ...], str, str]] = []
    bare = bare_metric_name(metric)
    known = known_eval_metrics(trainer, config, with_channels=False)
    if known is not None and bare not in known:
        known = known_eval_metrics(trainer, config, with_channels=True)
        if known is not None and bare not in known:
            problems.append(
                (
                    key,
                    f"the run logs no evaluation metric {metric!r}",
                    "use one of: " + ", ".join("eval_" + k for k in known),
                )
            )
    if t.greater_is_better is None and infer_greater_is_better(metric) is None:
        problems.append(
            (
                ("training", "greater_is_better"),
                f"cannot tell from its name whether a higher {metric!r} is better",
                "set training.greater_is_better: true or false",
            )
        )
    return problems
