"""The environment ms-swift reads for image resizing, applied around one in-process run and then restored.

ms-swift resizes Qwen-VL images with `qwen_vl_utils.fetch_image`, whose limits come from environment
variables (`IMAGE_MAX_TOKEN_NUM`, `IMAGE_MIN_TOKEN_NUM`, or `MAX_PIXELS`/`MIN_PIXELS`), not from the
processor's `size`. The values come from `vlmdata.models.qwen.backend_image_env`, the rule the audit counts
with, so the run resizes exactly as the audit counted.

Quirk handled: ms-swift copies those variables into `qwen_vl_utils.vision_process` once per process (it marks
the module `_patch`) and converts `MAX_PIXELS` only when the token variable is unset. A second run in the same
process (tests, notebooks) with other limits would silently keep the first run's. `image_env` therefore
clears the mark and the stale variables before the run and restores everything afterwards.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

_KEYS = ("IMAGE_MAX_TOKEN_NUM", "IMAGE_MIN_TOKEN_NUM", "MAX_PIXELS", "MIN_PIXELS")


def image_env_for(template: Any) -> dict[str, str]:
    """The variables for the run's `template` section (`vlmdata.models.qwen.backend_image_env`)."""
    from vlmdata.models.qwen import backend_image_env

    return {str(k): str(v) for k, v in backend_image_env(template).items()}


@contextlib.contextmanager
def image_env(env: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in set(_KEYS) | set(env)}
    saved_module: dict[str, Any] = {}
    vision_process = None
    try:
        from qwen_vl_utils import vision_process as vp

        vision_process = vp
        saved_module = {
            k: getattr(vp, k) for k in ("IMAGE_MAX_TOKEN_NUM", "IMAGE_MIN_TOKEN_NUM") if hasattr(vp, k)
        }
    except ImportError:  # pragma: no cover - part of the train extra
        pass
    for k in _KEYS:
        os.environ.pop(k, None)
    os.environ.update(env)
    if vision_process is not None and hasattr(vision_process, "_patch"):
        delattr(vision_process, "_patch")
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if vision_process is not None:
            for k, v in saved_module.items():
                setattr(vision_process, k, v)
            if hasattr(vision_process, "_patch"):
                delattr(vision_process, "_patch")
