"""DeepSpeed ZeRO presets as config dicts (resolved in `plan()`, so `--dry-run` shows exactly what runs).

Presets are ms-swift's own files (`swift/config/zero2.json`, `zero3.json`, …), read without importing
ms-swift; a `.json` path is read as given. Values left as `"auto"` are filled by transformers from the
training arguments (batch sizes, accumulation, clipping, bf16), so the preset never disagrees with the run.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

# Used when ms-swift is not installed (a planning-only machine): the same content as ms-swift 4.6.0's files.
_FALLBACK: dict[str, dict[str, Any]] = {
    "zero2": {
        "bf16": {"enabled": "auto"},
        "fp16": {"enabled": "auto"},
        "zero_optimization": {
            "stage": 2,
            "offload_optimizer": {"device": "none", "pin_memory": True},
            "allgather_partitions": True,
            "allgather_bucket_size": 2e8,
            "overlap_comm": False,
            "reduce_scatter": True,
            "reduce_bucket_size": 2e8,
            "contiguous_gradients": True,
        },
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "steps_per_print": 2000,
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
        "wall_clock_breakdown": False,
    },
    "zero3": {
        "bf16": {"enabled": "auto"},
        "fp16": {"enabled": "auto"},
        "zero_optimization": {
            "stage": 3,
            "offload_optimizer": {"device": "none", "pin_memory": True},
            "offload_param": {"device": "none", "pin_memory": True},
            "overlap_comm": False,
            "contiguous_gradients": True,
            "sub_group_size": 1e9,
            "reduce_bucket_size": "auto",
            "stage3_prefetch_bucket_size": "auto",
            "stage3_param_persistence_threshold": "auto",
            "stage3_max_live_parameters": 1e9,
            "stage3_max_reuse_distance": 1e9,
            "stage3_gather_16bit_weights_on_model_save": True,
        },
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "steps_per_print": 2000,
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
        "wall_clock_breakdown": False,
    },
}


def _swift_config_dir() -> Path | None:
    spec = importlib.util.find_spec("swift")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "config"


def deepspeed_config(value: str) -> dict[str, Any]:
    """The DeepSpeed config dict for a preset name (`zero2`, `zero3`, …) or a JSON file path."""
    if value.endswith(".json"):
        return json.loads(Path(value).read_text(encoding="utf-8"))
    folder = _swift_config_dir()
    if folder is not None and (folder / f"{value}.json").is_file():
        return json.loads((folder / f"{value}.json").read_text(encoding="utf-8"))
    if value in _FALLBACK:
        return json.loads(json.dumps(_FALLBACK[value]))
    raise ValueError(f"unknown DeepSpeed preset {value!r}")
