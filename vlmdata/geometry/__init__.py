"""Geometry kernels: pure float64 numpy functions per kind (`bbox_2d`, `poly`, `line`), one dispatch table.

See `kernels` (the table), `canonical` (point order), `frames` (the 0–1000 grid), `transform` (matrices and
the per-object affine → clip → canonical pipeline).
"""

from vlmdata.geometry.canonical import canonicalize
from vlmdata.geometry.frames import from_qwen_grid, to_qwen_grid
from vlmdata.geometry.kernels import KERNELS
from vlmdata.geometry.transform import Transformed, transform_object

__all__ = ["KERNELS", "Transformed", "canonicalize", "from_qwen_grid", "to_qwen_grid", "transform_object"]
