"""Model FLOPs of Qwen3-VL forward passes, counted from what the models actually received, and MFU.

The convention (written down in docs/performance.md, "MFU"):

- text model, per row of a forward: q real new tokens attending to ctx real tokens (q = ctx for a full
  sequence; q = 1 per decoding step with a KV cache):
      forward = 2 · N_text · q + 4 · layers · d_attn · q · ctx
  N_text = the matmul weights of the decoder layers (q, k, v, o, gate, up, down) plus the output projection
  (vocabulary × hidden, counted for every token, tied or not; embedding lookups are not matmuls);
  d_attn = heads × head_dim; the attention term counts QKᵀ and AV over the whole ctx × ctx score matrix
  (PaLM's convention, not halved for the causal mask);
- a forward with gradients is trained: 3× its forward FLOPs (forward + backward, i.e. 6·N·tokens +
  12·layers·d_attn·q·ctx); a forward without gradients (GKD teacher, GRPO reference/old policy, generation)
  counts once; gradient-checkpointing recomputation is never counted (model FLOPs, not hardware FLOPs);
- vision tower, per image of P patches, forward only (it is frozen in every benchmark run; the trained merger's
  backward is < 1 % and not counted):
      2 · N_blocks · P + 2 · N_mergers · P / merge² + 4 · depth · d_vision · P²
  N_blocks = patch embedding + per block qkv, proj, fc1, fc2; N_mergers = the merger and every deepstack merger.
  Image tokens are counted twice in that sense: as patches in the vision tower and as tokens of the text
  sequence (they are in the real-token count).
- MFU = model FLOPs of the measured steps / (wall time of those steps × peak); the peak is the datasheet dense
  bf16 rate of the device (H100/H200 SXM: 989.4 TFLOP/s).

`FlopMeter` attaches forward hooks to every Qwen3-VL text model and vision tower alive in the process (student,
teacher, reference) and sums the FLOPs of each forward per optimiser step. With LoRA the weight gradients of
the frozen base weights are not computed, so the 6·N convention counts more than the GPU executes: MFU
here is the conventional model-FLOPs figure, comparable across runs and papers, not a hardware counter.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

PEAK_BF16 = {"H100": 989.4e12, "H200": 989.4e12, "A100": 312e12}


def peak_flops(device: str | None) -> float | None:
    for name, value in PEAK_BF16.items():
        if device and name in device:
            return value
    return None


@dataclass(frozen=True)
class TextDims:
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int

    @classmethod
    def of(cls, cfg: Any) -> TextDims:
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        return cls(
            cfg.num_hidden_layers,
            cfg.hidden_size,
            cfg.num_attention_heads,
            cfg.num_key_value_heads,
            head_dim,
            cfg.intermediate_size,
            cfg.vocab_size,
        )

    @property
    def d_attn(self) -> int:
        return self.heads * self.head_dim

    @property
    def matmul_params(self) -> int:
        per_layer = (
            self.hidden * self.d_attn  # q
            + 2 * self.hidden * self.kv_heads * self.head_dim  # k, v
            + self.d_attn * self.hidden  # o
            + 3 * self.hidden * self.intermediate  # gate, up, down
        )
        return self.layers * per_layer + self.vocab * self.hidden

    def forward(self, q: int, ctx: int) -> float:
        return 2.0 * self.matmul_params * q + 4.0 * self.layers * self.d_attn * q * ctx


@dataclass(frozen=True)
class VisionDims:
    depth: int
    hidden: int
    intermediate: int
    patch_inputs: int  # in_channels × temporal_patch × patch²
    merge: int
    out: int
    mergers: int  # the merger plus the deepstack mergers

    @classmethod
    def of(cls, cfg: Any) -> VisionDims:
        return cls(
            cfg.depth,
            cfg.hidden_size,
            cfg.intermediate_size,
            cfg.in_channels * cfg.temporal_patch_size * cfg.patch_size**2,
            cfg.spatial_merge_size,
            cfg.out_hidden_size,
            1 + len(getattr(cfg, "deepstack_visual_indexes", None) or []),
        )

    @property
    def block_params(self) -> int:
        d = self.hidden
        return self.patch_inputs * d + self.depth * (4 * d * d + 2 * d * self.intermediate)

    @property
    def merger_params(self) -> int:
        wide = self.hidden * self.merge**2
        return self.mergers * (wide * wide + wide * self.out)

    def forward(self, patches: int) -> float:
        merged = patches / self.merge**2
        return (
            2.0 * self.block_params * patches
            + 2.0 * self.merger_params * merged
            + 4.0 * self.depth * self.hidden * patches * patches
        )


def text_rows(kwargs: dict[str, Any], args: tuple[Any, ...]) -> list[tuple[int, int]]:
    """(q real new tokens, ctx real tokens) per row of a text-model forward."""
    embeds = kwargs.get("inputs_embeds")
    ids = kwargs.get("input_ids", args[0] if args else None)
    source = embeds if embeds is not None else ids
    if source is None:
        return []
    batch, q = int(source.shape[0]), int(source.shape[1])
    mask = kwargs.get("attention_mask")
    if mask is None or not hasattr(mask, "dim") or mask.dim() != 2:
        cache = kwargs.get("past_key_values")
        past = int(cache.get_seq_length()) if cache is not None and hasattr(cache, "get_seq_length") else 0
        return [(q, q + past)] * batch
    ctx = mask.sum(1).tolist()
    new = mask[:, -q:].sum(1).tolist()
    return [(int(n), int(c)) for n, c in zip(new, ctx, strict=True)]


class FlopMeter:
    """Model FLOPs per step of every Qwen3-VL text model and vision tower in the process (forward hooks)."""

    TEXT = ("Qwen3VLTextModel", "Qwen3VLMoeTextModel")
    VISION = ("Qwen3VLVisionModel", "Qwen3VLMoeVisionModel")

    def __init__(self) -> None:
        self.step = {"train": 0.0, "forward": 0.0}
        self.handles: list[Any] = []
        self.models = 0

    def attach(self) -> None:
        seen: set[int] = set()
        for obj in gc.get_objects():
            name = type(obj).__name__
            if (name in self.TEXT or name in self.VISION) and id(obj) not in seen:
                seen.add(id(obj))
                if name in self.TEXT:
                    dims: Any = TextDims.of(obj.config)
                    hook = self._text_hook(dims)
                else:
                    dims = VisionDims.of(obj.config)
                    hook = self._vision_hook(dims)
                self.handles.append(obj.register_forward_pre_hook(hook, with_kwargs=True))
                self.models += 1

    def detach(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []

    def _add(self, flops: float) -> None:
        import torch

        if torch.is_grad_enabled():
            self.step["train"] += 3.0 * flops
        else:
            self.step["forward"] += flops

    def _text_hook(self, dims: TextDims) -> Any:
        def hook(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
            self._add(sum(dims.forward(q, ctx) for q, ctx in text_rows(kwargs, args)))

        return hook

    def _vision_hook(self, dims: VisionDims) -> Any:
        def hook(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
            grid = kwargs.get("grid_thw", args[1] if len(args) > 1 else None)
            if grid is None:
                return
            patches = [int(t) * int(h) * int(w) for t, h, w in grid.tolist()]
            flops = sum(dims.forward(p) for p in patches)
            # the frozen tower: forward only, whatever the grad mode (no parameter of it trains)
            self.step["forward"] += flops

        return hook

    def take(self) -> dict[str, float]:
        out, self.step = self.step, {"train": 0.0, "forward": 0.0}
        return out
