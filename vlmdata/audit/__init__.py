"""The length audit: the exact sequence length training will see for every record, without decoding pixels.

`audit_dataset(dataset_or_path, run_config) -> AuditReport`; `image_tokens(height, width, min_pixels,
max_pixels)` (closed form); `backend_image_env(template_cfg)` (what ms-swift needs so its resize equals the
closed form). See docs/audit.md.
"""

from __future__ import annotations

from typing import Any

from vlmdata.audit.images import (
    backend_image_env,
    effective_pixel_bounds,
    image_tokens,
    record_image_kwargs,
    smart_resize,
)

__all__ = [
    "AuditReport",
    "audit_dataset",
    "backend_image_env",
    "effective_pixel_bounds",
    "image_tokens",
    "record_image_kwargs",
    "smart_resize",
]


def __getattr__(name: str) -> Any:
    if name in ("audit_dataset", "AuditReport"):
        from vlmdata.audit import audit

        return getattr(audit, name)
    raise AttributeError(name)
