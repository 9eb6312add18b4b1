"""The `rlhf:` section of a GKD run, validated before anything loads."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from vlmdata.config.base import ConfigModel


class VisualTarget(ConfigModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    weight: float = Field(1.0, ge=0)
    distance: Literal["mse", "cosine"] = "mse"


class VisualKDConfig(ConfigModel):
    """Feature distillation points: the ViT output before the aligner, the aligner, the deepstack mergers."""

    model_config = ConfigDict(extra="forbid")

    vit: VisualTarget = Field(default_factory=VisualTarget)
    aligner: VisualTarget = Field(default_factory=VisualTarget)
    deepstack: VisualTarget = Field(default_factory=VisualTarget)

    def enabled_targets(self) -> dict[str, VisualTarget]:
        return {
            name: t
            for name, t in (("vit", self.vit), ("aligner", self.aligner), ("deepstack", self.deepstack))
            if t.enabled and t.weight > 0
        }


class GkdConfig(ConfigModel):
    model_config = ConfigDict(extra="forbid")

    teacher_model: str = Field(..., description="Local teacher model folder (same tokenizer as the student).")
    beta: float = Field(0.5, ge=0, le=1, description="JSD interpolation: 0 forward KL, 1 reverse KL.")
    sft_alpha: float = Field(0.0, ge=0, description="Weight of the ground-truth cross-entropy term.")
    llm_kd_weight: float = Field(1.0, ge=0, description="Weight of the LM distillation term; 0 disables it.")
    lmbda: float = Field(
        0.0, ge=0, le=1, description="Share of on-policy (student-generated) batches; 0 = forward-only."
    )
    seq_kd: bool = Field(
        False, description="Teacher-generated sequences; not supported by the backend (must stay false)."
    )
    temperature: float = Field(1.0, gt=0)
    max_completion_length: int = Field(512, gt=0, description="Generation budget of on-policy batches.")
    logits_topk: int | None = Field(None, gt=0, description="Distil on the teacher's top-k logits only.")
    eval_teacher: bool = Field(
        False,
        description="Run the teacher in evaluation too: adds eval/llm_kd_loss and eval/vision_kd_loss "
        "(a teacher/template mismatch shows as a jump); off, evaluation is cross-entropy only.",
    )
    visual_kd: VisualKDConfig = Field(default_factory=VisualKDConfig)
