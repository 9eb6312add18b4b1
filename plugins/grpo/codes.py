"""Error codes of the GRPO plugin (VD750–VD759)."""

from vlmdata.errors import define

VLLM_MISSING = define(
    "VD750",
    "A vLLM rollout is configured but the vllm package is not installed",
    "On the CUDA training machine: `pip install vllm` (ms-swift 4.6.0 supports vllm >= 0.5.1 and recommends "
    "0.11.0 or 0.23.0), or set `rlhf.rollout: hf`.",
)
VLLM_SETTINGS = define(
    "VD751",
    "vLLM settings do not fit the rollout mode",
    "`rlhf.vllm.gpu_memory_utilization`/`tensor_parallel_size` belong to `rollout: vllm_colocate`, "
    "`server_host`/`server_port`/`server_timeout` to `rollout: vllm_server`; remove the others.",
)
