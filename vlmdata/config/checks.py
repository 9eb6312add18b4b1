"""Semantic checks of the run config: one section at a time, then across sections.

Field-level rules (types, ranges, allowed values) live in the pydantic models of `vlmdata.config.run`; the
rules here need several fields and carry their own error codes (VD640–VD649, VD660–VD669) and fixes.
"""

from __future__ import annotations

from typing import Any

from vlmdata.config import run_codes as rc
from vlmdata.config.run import SCHEDULERS_WITH_FLOOR, RunConfig
from vlmdata.errors import VlmdataError
from vlmdata.io.layered import ConfigProblem, KeyPath, Layered


def problem(
    layered: Layered, path: KeyPath, message: str, code: Any, fix: str | None = None
) -> ConfigProblem:
    return ConfigProblem(path, message, layered.origin_of(path), fix, code.code)


def section_checks(sections: dict[str, Any], layered: Layered) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    data, tuner, training = sections.get("data"), sections.get("tuner"), sections.get("training")
    if data is not None:
        if data.fusion is not None and (data.train or data.val):
            problems.append(
                problem(
                    layered,
                    ("data", "fusion"),
                    "`fusion` replaces `train`/`val`; both given",
                    rc.DATA_SOURCES,
                )
            )
        elif data.fusion is None and not data.train:
            problems.append(
                problem(
                    layered,
                    ("data",),
                    "no training data: give `data.train` or `data.fusion`",
                    rc.DATA_SOURCES,
                )
            )
    if tuner is not None:
        set_keys = tuner.model_fields_set
        if tuner.train_type == "full":
            lora_only = sorted(
                k
                for k in set_keys
                if k
                in ("use_dora", "target_modules", "target_regex", "lora_rank", "lora_alpha", "lora_dropout")
            )
            for key in lora_only:
                problems.append(
                    problem(layered, ("tuner", key), "LoRA setting in a full fine-tune", rc.TUNER)
                )
            if tuner.freeze_llm and tuner.freeze_vit and tuner.freeze_aligner and not tuner.modules_to_save:
                problems.append(
                    problem(
                        layered,
                        ("tuner",),
                        "full fine-tune with LLM, ViT and aligner all frozen",
                        rc.NOTHING_TRAINABLE,
                    )
                )
        else:
            if "target_regex" in set_keys and "target_modules" in set_keys and tuner.target_regex is not None:
                problems.append(
                    problem(
                        layered,
                        ("tuner", "target_regex"),
                        "`target_regex` and `target_modules` both given",
                        rc.TUNER,
                        "keep one: target_regex replaces target_modules",
                    )
                )
            only_all_linear = tuner.target_regex is None and tuner.target_modules == ["all-linear"]
            if (
                only_all_linear
                and tuner.freeze_llm
                and tuner.freeze_vit
                and tuner.freeze_aligner
                and not tuner.modules_to_save
            ):
                problems.append(
                    problem(
                        layered,
                        ("tuner",),
                        "`all-linear` with LLM, ViT and aligner all frozen selects no module",
                        rc.NOTHING_TRAINABLE,
                    )
                )
    if training is not None:
        if training.effective_batch_size is not None and training.gradient_accumulation_steps is not None:
            problems.append(
                problem(
                    layered,
                    ("training", "effective_batch_size"),
                    "both `effective_batch_size` and `gradient_accumulation_steps` given",
                    rc.BATCH_SIZE,
                )
            )
        elif training.effective_batch_size is not None:
            per_step = training.per_device_train_batch_size * training.world_size
            if training.effective_batch_size % per_step:
                problems.append(
                    problem(
                        layered,
                        ("training", "effective_batch_size"),
                        f"{training.effective_batch_size} is not a multiple of per_device_train_batch_size × world size = {per_step}",
                        rc.BATCH_SIZE,
                        f"use a multiple of {per_step}, e.g. {max(per_step, training.effective_batch_size // per_step * per_step)}",
                    )
                )
        if training.min_lr is not None and training.min_lr_ratio is not None:
            problems.append(
                problem(
                    layered, ("training", "min_lr"), "both `min_lr` and `min_lr_ratio` given", rc.SCHEDULER
                )
            )
        floor = training.min_lr is not None or training.min_lr_ratio is not None
        if floor and training.lr_scheduler_type not in SCHEDULERS_WITH_FLOOR:
            problems.append(
                problem(
                    layered,
                    ("training", "lr_scheduler_type"),
                    f"{training.lr_scheduler_type!r} has no LR floor",
                    rc.SCHEDULER,
                )
            )
        if training.lr_scheduler_type == "cosine_with_min_lr" and not floor:
            problems.append(
                problem(
                    layered,
                    ("training", "lr_scheduler_type"),
                    "`cosine_with_min_lr` needs `min_lr` or `min_lr_ratio`",
                    rc.SCHEDULER,
                )
            )
        if training.resume_from_checkpoint is not None and training.init_from_checkpoint is not None:
            problems.append(
                problem(
                    layered,
                    ("training", "init_from_checkpoint"),
                    "both `resume_from_checkpoint` and `init_from_checkpoint` given",
                    rc.RESUME,
                )
            )
        if training.nnodes > 1 and training.master_addr in ("127.0.0.1", "localhost", "::1"):
            problems.append(
                problem(
                    layered,
                    ("training", "master_addr"),
                    f"{training.nnodes} nodes cannot meet at the loopback address {training.master_addr}",
                    rc.DISTRIBUTED,
                    "set master_addr to node 0's address, reachable from every node",
                )
            )
        problems += best_checkpoint_checks(training, layered)
        if training.node_rank >= training.nnodes:
            problems.append(
                problem(
                    layered,
                    ("training", "node_rank"),
                    f"node_rank {training.node_rank} with nnodes {training.nnodes}",
                    rc.DISTRIBUTED,
                )
            )
    return problems


def cross_checks(config: RunConfig, layered: Layered) -> list[ConfigProblem]:
    problems = []
    if config.training.bf16 and config.model.dtype != "bfloat16":
        problems.append(
            problem(layered, ("training", "bf16"), f"bf16 with model.dtype {config.model.dtype}", rc.DTYPE)
        )
    problems += template_problems(config, layered)
    return problems


def template_problems(config: Any, layered: Layered) -> list[ConfigProblem]:
    """`template.name` names a known template (`config` is a `RunConfig` or a view holding `template`)."""
    from vlmdata.render import get_template
    from vlmdata.render.user import is_template_path

    if is_template_path(config.template.name):  # a file that did not load: reported with its own problems
        return []
    try:
        get_template(config.template.name)
    except VlmdataError as exc:
        return [problem(layered, ("template", "name"), exc.message, rc.UNKNOWN_TEMPLATE, exc.hint)]
    return []


def best_checkpoint_checks(training: Any, layered: Layered) -> list[ConfigProblem]:
    """Best-checkpoint settings that only involve `training` (the metric's name is checked against what the
    plugin logs in `vlmdata.train.best`)."""
    problems = []
    selecting = training.metric_for_best_model is not None or training.load_best_model_at_end
    if training.greater_is_better is not None and not selecting:
        problems.append(
            problem(
                layered,
                ("training", "greater_is_better"),
                "`greater_is_better` without `metric_for_best_model`",
                rc.BEST_CHECKPOINT,
                "name the metric it applies to, or delete the key",
            )
        )
    if selecting and training.eval_strategy == "no":
        problems.append(
            problem(
                layered,
                ("training", "eval_strategy"),
                "selecting the best checkpoint needs an evaluation, but eval_strategy is `no`",
                rc.BEST_CHECKPOINT,
            )
        )
    if training.load_best_model_at_end and training.eval_strategy != "no":
        evaluation = training.eval_strategy or "steps"
        if evaluation != training.save_strategy:
            problems.append(
                problem(
                    layered,
                    ("training", "save_strategy"),
                    f"load_best_model_at_end needs saving and evaluating on one schedule: save_strategy "
                    f"{training.save_strategy}, eval_strategy {evaluation}",
                    rc.BEST_CHECKPOINT,
                    f"set eval_strategy: {training.save_strategy}"
                    if training.eval_strategy is None
                    else "give both the same value",
                )
            )
        elif evaluation == "steps":
            every = training.eval_steps or training.save_steps
            if training.save_steps % every:
                problems.append(
                    problem(
                        layered,
                        ("training", "save_steps"),
                        f"load_best_model_at_end needs save_steps ({training.save_steps}) to be a multiple of "
                        f"eval_steps ({every}): a checkpoint is only kept where it was evaluated",
                        rc.BEST_CHECKPOINT,
                    )
                )
    return problems
