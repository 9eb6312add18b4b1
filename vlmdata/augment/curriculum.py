"""The curriculum: the parameters in force as a pure function of the training step.

Phases are keyframes. The config's own values (`bypass_prob`, op params) hold at step 0; phase i names the
values reached at its boundary (`until_step`, or `until_fraction · total_steps` rounded up), inheriting
anything it does not override from the phase before. Between two boundaries every numeric value (floats,
ints, both ends of `*_range`) moves linearly; after the last boundary the last values hold. Ints are rounded.

Because the step of a sample is known from its position in the deterministic epoch order, each dataloader
worker computes the same values on its own: no shared state, no IPC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from vlmdata.augment import codes
from vlmdata.augment.config import AugmentationConfig
from vlmdata.augment.ops import OPS, OpParams
from vlmdata.errors import VlmdataError


@dataclass(frozen=True)
class Resolved:
    bypass_prob: float
    params: tuple[OpParams, ...]  # one per configured op, in config order


def boundaries(config: AugmentationConfig, total_steps: int | None) -> list[int]:
    assert config.curriculum is not None
    total = config.curriculum.total_steps or total_steps
    out = []
    for phase in config.curriculum.phases:
        if phase.until_step is not None:
            out.append(int(phase.until_step))
        else:
            if not total:
                raise VlmdataError(
                    codes.CURRICULUM_NEEDS_TOTAL, "until_fraction needs the total number of training steps"
                )
            out.append(max(1, math.ceil(float(phase.until_fraction) * total)))  # type: ignore[arg-type]
    return out


def _keyframes(config: AugmentationConfig) -> list[tuple[float, list[dict[str, Any]]]]:
    cur_bypass = config.bypass_prob
    cur = [dict(op.parsed.model_dump()) for op in config.ops]
    frames = [(cur_bypass, [dict(c) for c in cur])]
    names = [op.name for op in config.ops]
    assert config.curriculum is not None
    for phase in config.curriculum.phases:
        if phase.bypass_prob is not None:
            cur_bypass = phase.bypass_prob
        for op_name, overrides in phase.ops.items():
            cur[names.index(op_name)].update(overrides)
        frames.append((cur_bypass, [dict(c) for c in cur]))
    return frames


def _lerp(a: Any, b: Any, t: float) -> Any:
    if isinstance(a, bool) or a is None or b is None:
        return a if t < 1.0 else b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        v = a + (b - a) * t
        return int(round(v)) if isinstance(a, int) and isinstance(b, int) else float(v)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        return tuple(_lerp(x, y, t) for x, y in zip(a, b, strict=True))
    return a if t < 1.0 else b


def resolve(config: AugmentationConfig, step: int | None, total_steps: int | None = None) -> Resolved:
    """Parameters in force at `step` (None: the config's own values, i.e. step 0)."""
    if config.curriculum is None or step is None:
        return Resolved(config.bypass_prob, tuple(op.parsed for op in config.ops))
    bounds = [0, *boundaries(config, total_steps)]
    frames = _keyframes(config)
    step = max(0, int(step))
    if step >= bounds[-1]:
        bypass, values = frames[-1]
    else:
        i = next(k for k in range(1, len(bounds)) if step < bounds[k])
        t = (step - bounds[i - 1]) / (bounds[i] - bounds[i - 1])
        (b0, v0), (b1, v1) = frames[i - 1], frames[i]
        bypass = float(_lerp(b0, b1, t))
        values = [{k: _lerp(a[k], b[k], t) for k in a} for a, b in zip(v0, v1, strict=True)]
    params = tuple(OPS[op.name].params(**vals) for op, vals in zip(config.ops, values, strict=True))
    return Resolved(float(bypass), params)
