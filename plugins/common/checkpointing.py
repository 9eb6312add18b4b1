"""Partial gradient checkpointing: recompute only every n-th decoder layer (`training.checkpoint_every_n_layers`).

ms-swift enables checkpointing on every layer when training starts (`_prepare_gradient_checkpointing`, called from
its `train`); transformers' own `every_n_layers` cannot be passed through it (ms-swift forwards
`gradient_checkpointing_kwargs` to `torch.utils.checkpoint`, which refuses the key). So after ms-swift has set the
flags, the layers of the language model whose index is not a multiple of n get `gradient_checkpointing = False`
and keep their activations for the backward pass; layer 0, n, 2n, … still recompute. The vision tower keeps
whatever ms-swift chose for it (`vit_gradient_checkpointing`). The arithmetic is unchanged (the same layers run
on the same inputs; only what is stored differs), so losses and gradients are equal to full checkpointing.
"""

from __future__ import annotations

from typing import Any


def language_layers(model: Any) -> list[Any]:
    """The checkpointable decoder layers of the model's language tower, in order."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    tower = model
    meta = getattr(model, "model_meta", None)
    arch = getattr(meta, "model_arch", None) if meta is not None else None
    if meta is not None and getattr(meta, "is_multimodal", False) and arch is not None:
        from swift.utils import deep_getattr

        names = arch.language_model if isinstance(arch.language_model, list) else [arch.language_model]
        towers = [deep_getattr(model, n) for n in names if n]
        towers = [t for t in towers if t is not None]
        if towers:
            tower = towers[0]
    return [m for m in tower.modules() if isinstance(m, GradientCheckpointingLayer)]


def thin_checkpointing(model: Any, every: int) -> tuple[int, int]:
    """Leave recomputation on layers 0, every, 2·every, … of the language tower; (recomputed, total) layers."""
    layers = language_layers(model)
    kept = 0
    for i, layer in enumerate(layers):
        on = bool(layer.gradient_checkpointing) and i % every == 0
        layer.gradient_checkpointing = on
        kept += int(on)
    return kept, len(layers)
