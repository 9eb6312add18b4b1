"""The length audit: the exact sequence length training will see for every record, without decoding pixels.

`audit_dataset(dataset_or_path, run_config) -> AuditReport`. The Qwen3-VL image-token arithmetic it relies on
(`image_tokens`, `effective_pixel_bounds`, `backend_image_env`, ...) lives in `vlmdata.models.qwen`, shared with
export and training. See docs/audit.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AuditReport", "audit_dataset"]


def __getattr__(name: str) -> Any:
    if name in ("audit_dataset", "AuditReport"):
        from vlmdata.audit import audit

        return getattr(audit, name)
    raise AttributeError(name)
