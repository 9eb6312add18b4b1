"""Visual feature distillation: forward hooks on the student's and the teacher's vision tower.

Targets (Qwen3-VL module names, found by suffix so PEFT wrappers do not matter):
- `vit`: the output of the last vision block (`visual.blocks.<last>`), i.e. the ViT features before the aligner;
- `aligner`: the output of `visual.merger`;
- `deepstack`: the output of every `visual.deepstack_merger_list.<i>` (their mean distance).
Student captures keep their graph (gradients flow back into the student's vision tower and mergers — the
known failure of detaching the student side is avoided by construction and checked by a test); teacher
captures come from a `torch.no_grad` forward. A forward without images fires no hook, so the term is skipped
for text-only batches. When teacher and student are the same module tree (a LoRA student distilled from its
own frozen base), `side("teacher")` routes the captures of the adapter-disabled forward to the teacher.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

_PATTERNS = {
    "aligner": re.compile(r"(^|\.)visual\.merger$"),
    "deepstack": re.compile(r"(^|\.)visual\.deepstack_merger_list\.\d+$"),
}
_BLOCK = re.compile(r"(^|\.)visual\.blocks\.(\d+)$")


def find_targets(model: Any) -> dict[str, list[tuple[str, Any]]]:
    found: dict[str, list[tuple[str, Any]]] = {"vit": [], "aligner": [], "deepstack": []}
    blocks: list[tuple[int, str, Any]] = []
    for name, module in model.named_modules():
        if "modules_to_save" in name or "original_module" in name:
            continue
        m = _BLOCK.search(name)
        if m:
            blocks.append((int(m.group(2)), name, module))
            continue
        for key, pattern in _PATTERNS.items():
            if pattern.search(name):
                found[key].append((name, module))
    if blocks:
        _, name, module = max(blocks, key=lambda b: b[0])
        found["vit"].append((name, module))
    return found


def _first_tensor(output: Any) -> Any:
    if isinstance(output, (tuple, list)):
        return output[0]
    return getattr(output, "last_hidden_state", output)


class VisualKD:
    def __init__(self, student: Any, teacher: Any | None, targets: dict[str, Any]) -> None:
        self.targets = targets  # name -> VisualTarget (enabled, weight, distance)
        self.captures: dict[str, dict[str, list[Any]]] = {"student": {}, "teacher": {}}
        self._side = "student"
        self._handles: list[Any] = []
        self.same_tree = teacher is None
        self._attach(student, fixed_side=None if self.same_tree else "student")
        if teacher is not None:
            self._attach(teacher, fixed_side="teacher")

    def _attach(self, model: Any, fixed_side: str | None) -> None:
        found = find_targets(model)
        for name in self.targets:
            if not found[name]:
                from vlmdata_plugins.gkd.codes import VISUAL_TARGET_MISSING

                from vlmdata.errors import VlmdataError

                raise VlmdataError(
                    VISUAL_TARGET_MISSING, f"visual KD target {name!r}: no matching module in the model"
                )
            for _, module in found[name]:
                self._handles.append(module.register_forward_hook(self._hook(name, fixed_side)))

    def _hook(self, name: str, fixed_side: str | None) -> Any:
        def hook(module: Any, args: Any, output: Any) -> None:
            side = fixed_side or self._side
            self.captures[side].setdefault(name, []).append(_first_tensor(output))

        return hook

    @contextlib.contextmanager
    def side(self, side: str) -> Iterator[None]:
        previous, self._side = self._side, side
        try:
            yield
        finally:
            self._side = previous

    def clear(self) -> None:
        self.captures = {"student": {}, "teacher": {}}

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def losses(self) -> dict[str, Any]:
        """Per-target weighted distances of the last student/teacher forwards ({} when no image was seen)."""
        import torch.nn.functional as F

        out = {}
        for name, target in self.targets.items():
            student = self.captures["student"].get(name) or []
            teacher = self.captures["teacher"].get(name) or []
            if not student or len(student) != len(teacher):
                continue
            terms = []
            for s, t in zip(student, teacher, strict=True):
                t = t.detach().to(s.dtype)
                if target.distance == "mse":
                    terms.append(F.mse_loss(s.float(), t.float()))
                else:
                    terms.append((1 - F.cosine_similarity(s.float(), t.float(), dim=-1)).mean())
            out[name] = target.weight * sum(terms) / len(terms)
        return out
