"""The model side of the fused loss (`fused.fused_linear_loss`): where its inputs come from.

- `install_fused_ce` gives a causal LM's instance a training forward whose loss is the fused cross-entropy
  (what Liger's Qwen3-VL patch does with a Triton kernel on a GPU): it returns `loss` and `logits=None`;
- `head_as_identity` switches the output projection off for one forward, so the model's `logits` output is its
  last hidden state (the GKD student and teacher);
- `HiddenCapture` keeps the last hidden state of a forward, so token accuracy and per-dataset metrics can be
  computed from it when there are no logits (`metrics_from_hidden`, the same chunked projection without
  gradients); `kept_positions` applies ms-swift's `logits_to_keep` trimming to it.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from .fused import fused_linear_loss


def unwrap_base(model: Any) -> Any:
    """The `PreTrainedModel` under PEFT / DDP / DeepSpeed wrappers."""
    seen = 0
    while seen < 8:
        seen += 1
        if hasattr(model, "module") and not hasattr(model, "get_output_embeddings"):
            model = model.module
        elif hasattr(model, "get_base_model"):
            model = model.get_base_model()
        else:
            break
    return model


def output_head(model: Any) -> Any:
    """The plain `nn.Linear` output projection of `model`, or None when it is wrapped (LoRA on lm_head, …)."""
    import torch

    head = unwrap_base(model).get_output_embeddings()
    if type(head) is not torch.nn.Linear or getattr(head, "bias", None) is not None:
        return None
    return head


def _identity(x: Any) -> Any:
    return x


@contextmanager
def head_as_identity(head: Any) -> Any:
    """While open, `head(x)` returns x: the model's `logits` output is then its last hidden state."""
    head.forward = _identity
    try:
        yield head
    finally:
        del head.forward


def shift_for_loss(hidden: Any, labels: Any) -> tuple[Any, Any, Any]:
    """Hidden states of the scored positions, their next-token targets, and the [B, S-1] mask."""
    mask = labels[:, 1:] != -100
    return hidden[:, :-1][mask], labels[:, 1:][mask], mask


def install_fused_ce(model: Any, token_chunk: int | None = None) -> bool:
    """Give the causal LM under `model` a training forward whose loss is `fused_linear_loss` (logits=None).

    Only training forwards with labels and gradients are changed; evaluation and generation keep the
    model's own forward. Returns False (nothing installed) when the output projection is not a plain Linear.
    """
    import torch

    base = unwrap_base(model)
    head = output_head(base)
    if head is None:
        return False
    if getattr(base, "_vlmdata_fused_ce", False):
        return True
    original = base.forward

    def forward(*args: Any, labels: Any = None, logits_to_keep: Any = 0, **kwargs: Any) -> Any:
        # `logits_to_keep` is named so ms-swift keeps trimming the positions before the first label
        if labels is None or not base.training or not torch.is_grad_enabled():
            return original(*args, labels=labels, logits_to_keep=logits_to_keep, **kwargs)
        num_items = kwargs.pop("num_items_in_batch", None)
        with head_as_identity(head):
            out = original(*args, logits_to_keep=logits_to_keep, **kwargs)
        hidden = out.logits
        if hidden.shape[:2] != labels.shape:
            raise ValueError(
                f"hidden states {tuple(hidden.shape)} do not line up with labels {tuple(labels.shape)}"
            )
        hs, targets, _ = shift_for_loss(hidden, labels.to(hidden.device))
        result = fused_linear_loss(hs, head.weight, targets, token_chunk=token_chunk)
        denom = num_items if num_items is not None else max(result.count, 1)
        out["loss"] = result.ce_sum / denom
        out["logits"] = None  # item, not attribute: a ModelOutput keeps a key whose attribute is set to None
        return out

    base.forward = forward
    base._vlmdata_fused_ce = True
    return True


class HiddenCapture:
    """Keeps the last hidden state of the next forward of the causal LM under `model` (a forward hook)."""

    def __init__(self, model: Any) -> None:
        base = unwrap_base(model)
        inner = getattr(base, getattr(base, "base_model_prefix", "model"), None)
        self.module = inner if inner is not None and inner is not base else None
        self.hidden: Any = None
        self._handle: Any = None

    def _hook(self, module: Any, args: Any, output: Any) -> None:
        value = getattr(output, "last_hidden_state", None)
        if value is None and isinstance(output, (tuple, list)) and output:
            value = output[0]
        self.hidden = value

    def __enter__(self) -> HiddenCapture:
        if self.module is not None:
            self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


def kept_positions(hidden: Any, logits_to_keep: Any) -> Any:
    """The positions of a full [B, S, H] hidden state that the model's logits covered (`logits_to_keep`)."""
    if logits_to_keep is None or (isinstance(logits_to_keep, int) and logits_to_keep == 0):
        return hidden
    if isinstance(logits_to_keep, int):
        return hidden[:, -logits_to_keep:]
    return hidden[:, logits_to_keep.to(hidden.device)]


def metrics_from_hidden(hidden: Any, weight: Any, labels: Any) -> tuple[Any, Any, Any]:
    """Per scored token: cross-entropy and argmax, no gradients; and the [B, S-1] mask they came from."""
    import torch

    with torch.no_grad():
        hs, targets, mask = shift_for_loss(hidden.detach(), labels.to(hidden.device))
        result = fused_linear_loss(hs, weight.detach(), targets)
    return result.token_ce, result.predictions, mask
