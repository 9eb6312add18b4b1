"""The per-key rules of `vlmdata config migrate` for `training`, `custom`, `rlhf` and `custom.augmentation`.

A rule is a target key path (moved as is), a string (dropped, with that reason) or a function
`(old key path, value)` that records what it did on the migrator (`migrate._Migrator`).
"""

from __future__ import annotations

from typing import Any

from vlmdata.config.removed import LENGTH_FIX, MINING_FIX

SEQ_KD_FIX = (
    "teacher-generated sequences are not supported by the backend: distil forward-only (`lmbda: 0`, the teacher "
    "scores the ground truth) or on-policy (`lmbda > 0`)"
)
# the original trainer's augmentation ops → vlmdata's (docs/augment.md); params: `prob` → `p`, `max_deg: d` →
# `angle_range: [-d, d]`, `lo`/`hi` → `<x>_range`, a `[lo, hi]` value → `<name>_range`, a number b on a colour
# factor → `[max(0, 1 - b), 1 + b]` (torchvision's convention), on hue → `[-b, b]`
AUGMENT_OPS = {
    "hflip": "hflip",
    "vflip": "vflip",
    "rotate": "rotate",
    "scale": "scale",
    "translate": "translate",
    "expand_to_fit_affine": "expand_to_fit",
    "expand_to_fit": "expand_to_fit",
    "resize_by_scale": "resize",
    "resize": "resize",
    "pad_to_multiple": "pad_to_multiple",
    "color_jitter": "color_jitter",
    "gamma": "gamma",
    "sharpness": "sharpness",
    "auto_contrast": "auto_contrast",
    "clahe": "clahe",
    "jpeg_quality": "jpeg_quality",
}
LO_HI = {"scale": "scale_range", "resize": "scale_range", "translate": "shift_range"}


def training_rules(m: Any) -> dict[str, Any]:
    def optimizer(here: Any, v: Any) -> None:
        if v == "multimodal":
            m.note(
                here,
                "dropped",
                "`vit_lr` / `aligner_lr` give the ViT and the aligner their own learning rates",
            )
        elif v in ("adamw", "adamw_torch", "adamw_torch_fused", "adamw_hf"):
            m.note(here, "dropped", "vlmdata trains with AdamW")
        else:
            m.note(here, "refused", f"optimizer {v!r}: vlmdata trains with AdamW")

    def scheduler(here: Any, v: Any) -> None:
        if v in ("cosine_warmup_with_min_lr", "cosine_with_min_lr"):
            m.move(here, ("training", "lr_scheduler_type"), "cosine", rewritten=True)
        else:
            m.move(here, here, v)

    def scheduler_kwargs(here: Any, v: Any) -> None:
        names = {"min_lr": "min_lr", "min_lr_rate": "min_lr_ratio", "min_lr_ratio": "min_lr_ratio"}
        for key, item in (v or {}).items():
            if key in names:
                m.move((*here, key), ("training", names[key]), item)
            else:
                m.note((*here, key), "refused", "vlmdata's schedules take only a minimum LR")

    def max_length(here: Any, v: Any) -> None:
        if "global_max_length" in m.new or "global_max_length" in m.old:
            m.note(here, "dropped", LENGTH_FIX)
        else:
            m.move(here, ("global_max_length",), v)

    def deepspeed(here: Any, v: Any) -> None:
        m._deepspeed(v)

    path = lambda here, v: m.move(here, here, m.path(here, v))  # noqa: E731
    return {
        "optimizer": optimizer,
        "lr_scheduler_type": scheduler,
        "lr_scheduler_kwargs": scheduler_kwargs,
        "max_length": max_length,
        "truncation_strategy": "vlmdata never truncates; over-length samples stop the run (VD550)",
        "deepspeed": deepspeed,
        "output_dir": path,
        "resume_from_checkpoint": path,
        "init_from_checkpoint": path,
        "torch_dtype": ("model", "dtype"),
        "evaluation_strategy": ("training", "eval_strategy"),
        "logging_dir": "TensorBoard events go to OUTPUT/runs",
        "run_name": "the run is named by its output_dir",
        "add_version": "the run folder is output_dir itself",
        "save_only_model": "checkpoints always keep the optimizer state, so any of them can be resumed",
        "dataloader_pin_memory": "vlmdata pins memory on CUDA by itself",
        "remove_unused_columns": "vlmdata feeds the trainer its own rows",
        "hard_sample_mining": lambda here, v: m.note(here, "refused", MINING_FIX),
    }


def custom_rules(m: Any, custom: dict[str, Any]) -> dict[str, Any]:
    fused = custom.get("fusion_config") is not None

    def split(name: str) -> Any:
        def rule(here: Any, v: Any) -> None:
            if fused:
                m.note(here, "dropped", "custom.fusion_config gives the training and evaluation sets")
            else:
                m.move(here, ("data", name), [m.path(here, p) for p in ([v] if isinstance(v, str) else v)])

        return rule

    def visual_kd(here: Any, v: Any) -> None:
        if not isinstance(v, dict) or not v.get("enabled", True):
            m.note(here, "dropped", "visual KD is disabled")
            return
        if m.new.get("plugin") != "gkd":
            m.note(here, "refused", "visual KD belongs to the gkd plugin (`rlhf.rlhf_type: gkd`)")
            return
        for target in ("vit", "aligner", "deepstack"):
            if isinstance(v.get(target), dict):
                block = {k: v[target][k] for k in ("enabled", "weight", "distance") if k in v[target]}
                m.move((*here, target), ("rlhf", "visual_kd", target), block)
        for key in set(v) - {"enabled", "vit", "aligner", "deepstack"}:
            m.note((*here, key), "refused", "visual KD targets are vit, aligner and deepstack")

    def variant(here: Any, v: Any) -> None:
        if v in ("gkd_monitor", "gkd", None):
            m.note(here, "dropped", "the gkd plugin logs its loss terms and token accuracy itself")
        else:
            m.note(here, "refused", f"trainer_variant {v!r}: the plugin (`plugin:`) is the trainer")

    return {
        "train_jsonl": split("train"),
        "val_jsonl": split("val"),
        "fusion_config": lambda here, v: m.move(here, ("data", "fusion"), m.path(here, v)),
        "sample_limit": ("data", "sample_limit"),
        "augmentation": lambda here, v: augmentation(m, here, v),
        "visual_kd": visual_kd,
        "trainer_variant": variant,
        "system_prompt": ("template", "system"),
        "hard_sample_mining": lambda here, v: m.note(here, "refused", MINING_FIX),
        "user_prompt": lambda here, v: m.note(
            here, "refused", "prompts come from the template (`template.name`, `vlmdata prompts list`)"
        ),
    }


def rlhf_rules(m: Any, rlhf: dict[str, Any]) -> dict[str, Any]:
    from vlmdata.train.registry import get_plugin

    plugin = m.new.get("plugin")
    model = get_plugin(plugin).config_model if plugin in ("gkd", "grpo") else None
    fields = set(model.model_fields) if model is not None else set()

    def rlhf_type(here: Any, v: Any) -> None:
        if v in ("gkd", "grpo"):
            m.note(here, "dropped", f"selects `plugin: {v}`")
        else:
            m.note(here, "refused", f"rlhf_type {v!r}: vlmdata's plugins are sft, gkd and grpo")

    def seq_kd(here: Any, v: Any) -> None:
        if v:
            m.note(here, "refused", SEQ_KD_FIX)
        else:
            m.move(here, here, False)

    def vllm(here: Any, v: Any) -> None:
        key = here[-1]
        if plugin != "grpo":
            m.note(here, "refused", "vLLM rollouts belong to the grpo plugin")
        elif key == "use_vllm":
            if not v:
                m.move(here, ("rlhf", "rollout"), "hf", rewritten=True)
            elif rlhf.get("vllm_mode") is None:
                m.note(here, "refused", "use_vllm without vllm_mode: say colocate or server")
        elif key == "vllm_mode":
            if rlhf.get("use_vllm", True):
                m.move(here, ("rlhf", "rollout"), f"vllm_{v}", rewritten=True)
        else:
            name = key[len("vllm_") :]
            value = v[0] if isinstance(v, list) and name in ("server_host", "server_port") and v else v
            if name in (
                "gpu_memory_utilization",
                "tensor_parallel_size",
                "server_host",
                "server_port",
                "server_timeout",
            ):
                m.move(here, ("rlhf", "vllm", name), value)
            else:
                m.note(here, "refused", f"vlmdata's vLLM rollout has no `{name}`")

    def rewards(here: Any, v: Any) -> None:
        names = [str(n).replace(".", "_") for n in ([v] if isinstance(v, str) else v)]
        m.move(here, here, names, rewritten=names != list(v))

    rules: dict[str, Any] = {
        "rlhf_type": rlhf_type,
        "seq_kd": seq_kd,
        "reward_funcs": rewards,
        "teacher_model": lambda here, v: m.move(here, here, m.path(here, v)),
    }
    for key in rlhf:
        if key == "use_vllm" or key.startswith("vllm_"):
            rules[key] = vllm
        elif key not in rules and key in fields:
            rules[key] = ("rlhf", key)
        elif key not in rules:
            rules[key] = lambda here, v: m.note(
                here, "refused", f"the {plugin} plugin has no `rlhf.{here[-1]}`"
            )
    return rules


def augmentation(m: Any, here: Any, value: Any) -> None:
    from vlmdata.augment.config import AugmentationConfig

    if not isinstance(value, dict) or not value.get("enabled", True):
        m.note(here, "dropped", "augmentation is disabled")
        return
    for key, item in value.items():
        if key == "enabled":
            continue
        if key == "ops":
            ops = [o for o in (_op(m, (*here, "ops", i), op) for i, op in enumerate(item or [])) if o]
            m.put(("augmentation", "ops"), ops)
            m.note((*here, "ops"), "rewritten", "augmentation.ops")
        elif key in AugmentationConfig.model_fields:
            m.move((*here, key), ("augmentation", key), item)
        else:
            m.note((*here, key), "refused", f"vlmdata's augmentation has no `{key}`")


def _op(m: Any, here: Any, op: Any) -> dict[str, Any] | None:
    from vlmdata.augment.ops import OPS

    name = op.get("name") if isinstance(op, dict) else None
    new = AUGMENT_OPS.get(str(name))
    if new is None:
        m.note(here, "refused", f"op {name!r} has no vlmdata equivalent (docs/augment.md lists the ops)")
        return None
    fields = set(OPS[new].params.model_fields)
    params: dict[str, Any] = {}
    raw = dict(op.get("params") or {})
    if "lo" in raw or "hi" in raw:
        params[LO_HI.get(new, "scale_range")] = [raw.pop("lo", None), raw.pop("hi", None)]
    for key, v in raw.items():
        if key in ("prob", "p"):
            params["p"] = v
        elif key == "max_deg":
            params["angle_range"] = [-abs(v), abs(v)]
        elif key in fields:
            params[key] = v
        elif f"{key}_range" in fields:
            params[f"{key}_range"] = _range(key, v)
        else:
            m.note((*here, "params", key), "refused", f"op {new} has no parameter `{key}`")
    return {"name": new, "params": params}


def _range(key: str, v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return list(v)
    if key == "hue":
        return [-abs(v), abs(v)]
    return [max(0.0, 1.0 - v), 1.0 + v]
