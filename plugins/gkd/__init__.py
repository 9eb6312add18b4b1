"""The `gkd` trainer plugin: distillation anchored to a frozen teacher, with visual feature KD, in-process.

Loss = `llm_kd_weight` × generalised JSD(student, teacher; `beta`) on the supervised tokens
     + `sft_alpha` × cross-entropy on the ground truth
     + Σ `weight` × distance(student, teacher) over the enabled visual targets (ViT output before the aligner,
       the aligner output, each deepstack merger output).
Forward-only (`lmbda: 0`, the default and the recommended recipe) scores the ground truth with the teacher;
`lmbda > 0` mixes in student generations. The teacher is loaded once, frozen, in eval mode and never saved;
evaluation skips it (cross-entropy only). Checked at config time: the teacher folder exists, its vocabulary
matches the student's, and visual KD targets have matching feature widths. Details: docs/gkd.md.
Importing this module does not import torch or ms-swift.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from vlmdata_plugins.gkd.config import GkdConfig

from vlmdata.models.qwen import over_length
from vlmdata.train.plugin import DebugSample, TrainerPlugin, TrainPlan, TrainResult


def _problem(config: Any, key: str, message: str, fix: str) -> Any:
    from vlmdata.io.layered import ConfigProblem

    files = getattr(config, "_files", None) or []
    return ConfigProblem(("rlhf", key), message, files[-1] if files else None, fix)


def _model_facts(path: str | Path) -> dict[str, Any] | None:
    """Vocabulary and visual widths from a model folder's config.json and tokenizer.json."""
    folder = Path(path)
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    text = cfg.get("text_config") or cfg
    vision = cfg.get("vision_config") or {}
    tokens = None
    try:
        tok = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        vocab = tok.get("model", {}).get("vocab", {})
        added = {t["id"] for t in tok.get("added_tokens", [])}
        tokens = len(set(vocab.values()) | added)
    except (OSError, ValueError, AttributeError):
        pass
    return {
        "vocab_size": text.get("vocab_size"),
        "tokenizer_size": tokens,
        "vision_hidden": vision.get("hidden_size"),
        "aligner_out": vision.get("out_hidden_size"),
        "deepstack": len(vision.get("deepstack_visual_indexes") or []),
    }


class GkdPlugin(TrainerPlugin):
    name: ClassVar[str] = "gkd"
    description: ClassVar[str] = (
        "Distillation from a frozen teacher (JSD + CE + visual feature KD) on ms-swift, in-process"
    )
    config_model = GkdConfig
    path_fields: ClassVar[tuple[str, ...]] = ("teacher_model",)
    per_source_eval: ClassVar[bool] = True

    def eval_metrics(self, config: Any) -> list[str]:
        rl: GkdConfig = config.rlhf
        names = ["loss", "sft_loss", "token_acc"]
        if rl.eval_teacher:
            names += ["llm_kd_loss"] if rl.llm_kd_weight > 0 else []
            targets = list(rl.visual_kd.enabled_targets())
            names += ["vision_kd_loss", *(f"vision_kd_{t}" for t in targets)] if targets else []
        return names

    def validate(self, config: Any) -> list[Any]:
        rl: GkdConfig = config.rlhf
        problems = []
        teacher = _model_facts(rl.teacher_model)
        if teacher is None:
            return [
                _problem(
                    config,
                    "teacher_model",
                    f"no model folder (config.json) at {rl.teacher_model}",
                    "point teacher_model at a local model folder",
                )
            ]
        student = _model_facts(config.model.path)
        if student is not None:
            for key in ("vocab_size", "tokenizer_size"):
                if student[key] is not None and teacher[key] is not None and student[key] != teacher[key]:
                    problems.append(
                        _problem(
                            config,
                            "teacher_model",
                            f"teacher {key.replace('_', ' ')} {teacher[key]} != student {student[key]}",
                            "distillation compares token distributions: use a teacher with the student's tokenizer",
                        )
                    )
            widths = {"vit": "vision_hidden", "aligner": "aligner_out", "deepstack": "aligner_out"}
            for name in rl.visual_kd.enabled_targets():
                key = widths[name]
                if student[key] != teacher[key]:
                    problems.append(
                        _problem(
                            config,
                            f"visual_kd.{name}",
                            f"feature widths differ (student {student[key]}, teacher {teacher[key]})",
                            "visual KD compares features one to one: disable it or use a teacher of the same width",
                        )
                    )
            if "deepstack" in rl.visual_kd.enabled_targets() and student["deepstack"] != teacher["deepstack"]:
                problems.append(
                    _problem(
                        config,
                        "visual_kd.deepstack",
                        f"deepstack layer counts differ ({student['deepstack']} vs {teacher['deepstack']})",
                        "disable deepstack KD or use a teacher of the same family",
                    )
                )
        if rl.seq_kd:
            problems.append(
                _problem(
                    config,
                    "seq_kd",
                    "teacher-generated sequences are not supported by the backend",
                    "keep seq_kd: false; use lmbda for on-policy mixing",
                )
            )
        if rl.llm_kd_weight == 0 and rl.sft_alpha == 0 and not rl.visual_kd.enabled_targets():
            problems.append(
                _problem(
                    config,
                    "llm_kd_weight",
                    "every loss term is off",
                    "enable at least one of llm_kd_weight, sft_alpha, visual_kd",
                )
            )
        if rl.lmbda > 0 and over_length(rl.max_completion_length, config.global_max_length):
            problems.append(
                _problem(
                    config,
                    "max_completion_length",
                    f"max_completion_length {rl.max_completion_length} >= global_max_length",
                    "on-policy batches need room for the prompt",
                )
            )
        return problems

    def plan(self, config: Any) -> TrainPlan:
        from vlmdata_plugins.common.args import model_type_of
        from vlmdata_plugins.sft import sft_plan

        plan = sft_plan(config, self.name)
        rl: GkdConfig = config.rlhf
        t = config.training
        plan.backend_args.update(
            rlhf_type="gkd",
            teacher_model=str(rl.teacher_model),
            teacher_model_type=model_type_of(str(rl.teacher_model)),
            beta=rl.beta,
            sft_alpha=rl.sft_alpha,
            lmbda=rl.lmbda,
            seq_kd=False,
            temperature=rl.temperature,
            max_completion_length=rl.max_completion_length,
            gkd_logits_topk=rl.logits_topk,
            use_vllm=False,
            steps_per_generation=1,
            generation_batch_size=t.per_device_train_batch_size * plan.world_size,
        )
        args = plan.backend_args
        if args.get("vlmdata_fused") is not None:
            reason = None
            if rl.logits_topk is not None:
                reason = "top-k distillation keeps ms-swift's logits path"
            elif config.deepspeed and "zero3" in str(config.deepspeed):
                reason = "ZeRO-3 partitions the output projection the fused loss reads"
            if reason:
                args.pop("vlmdata_fused")
                args.pop("use_liger_kernel", None)
                plan.notes.append(f"liger_kernel is off for this run: {reason}")
            else:
                # vlmdata's own fused linear JSD on both machines; on CUDA ms-swift's switch adds Liger's
                # model kernels (RMSNorm, RoPE) to the student
                args["vlmdata_fused"] = "chunked"
                plan.notes = [n for n in plan.notes if "liger_kernel runs as" not in n]
                plan.notes.append(
                    "liger_kernel: the JSD and the cross-entropy come from the hidden states and the lm_head "
                    "weights in chunks (vlmdata's fused linear JSD; the logits are never materialised)"
                )
        plan.notes.append(
            "forward-only GKD (the teacher scores the ground truth)"
            if rl.lmbda == 0
            else f"on-policy GKD: {rl.lmbda:.0%} of batches are student generations"
        )
        plan.notes.append(
            "evaluation runs the teacher too (eval/llm_kd_loss, eval/vision_kd_loss)"
            if rl.eval_teacher
            else "evaluation skips the teacher (cross-entropy and token accuracy only)"
        )
        return plan

    def run(self, plan: TrainPlan, extra_callbacks: list[Any] | None = None) -> TrainResult:
        from vlmdata_plugins.gkd.pipeline import run_gkd

        return run_gkd(plan, extra_callbacks)

    def preflight(self, plan: TrainPlan) -> Any:
        from vlmdata_plugins.common.run import swift_preflight

        return swift_preflight(plan)

    def debug(self, plan: TrainPlan) -> DebugSample:
        from vlmdata_plugins.common.run import debug_sample

        return debug_sample(plan)


plugin = GkdPlugin
