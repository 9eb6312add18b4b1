"""The `rlhf:` section of a GRPO run, validated before anything loads."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from vlmdata.config.base import ConfigModel


class VllmConfig(ConfigModel):
    """vLLM settings of the rollout: `gpu_memory_utilization`/`tensor_parallel_size` for `vllm_colocate` (the
    engine runs inside the training processes), `server_*` for `vllm_server` (a `swift rollout` server)."""

    model_config = ConfigDict(extra="forbid")

    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    tensor_parallel_size: int = Field(1, ge=1)
    server_host: str = "127.0.0.1"
    server_port: int = Field(8000, gt=0, lt=65536)
    server_timeout: float = Field(240.0, gt=0, description="Seconds to wait for the server at start.")


COLOCATE_KEYS = ("gpu_memory_utilization", "tensor_parallel_size")
SERVER_KEYS = ("server_host", "server_port", "server_timeout")


class GrpoConfig(ConfigModel):
    model_config = ConfigDict(extra="forbid")

    reward_funcs: list[str] = Field(
        ..., min_length=1, description="Names from the reward library (docs/rewards.md)."
    )
    reward_weights: list[float] | None = Field(None, description="One weight per reward; default all 1.0.")
    num_generations: int = Field(4, ge=2, description="Completions per prompt (the group size).")
    generation_batch_size: int | None = Field(
        None,
        gt=0,
        description="Completions generated per generation round; default per_device_train_batch_size x world x accumulation.",
    )
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_completion_length: int = Field(512, gt=0)
    beta: float = Field(0.04, ge=0, description="KL coefficient; 0 drops the reference model entirely.")
    num_iterations: int = Field(1, gt=0)
    epsilon: float = Field(0.2, gt=0)
    scale_rewards: bool = True
    rollout: Literal["hf", "vllm_colocate", "vllm_server"] = Field(
        "hf",
        description="Who generates the completions: the training model (hf), a vLLM engine in the training "
        "processes (vllm_colocate), or a vLLM server started with `swift rollout` (vllm_server).",
    )
    vllm: VllmConfig = Field(default_factory=VllmConfig)
    rollout_dump_steps: int | None = Field(
        None,
        gt=0,
        description="Every N steps write prompts, completions, references and rewards to rollouts/step-N.jsonl.",
    )

    @model_validator(mode="after")
    def _weights_match(self) -> GrpoConfig:
        if self.reward_weights is not None and len(self.reward_weights) != len(self.reward_funcs):
            raise ValueError(
                f"reward_weights has {len(self.reward_weights)} entries but reward_funcs has {len(self.reward_funcs)}"
            )
        return self
