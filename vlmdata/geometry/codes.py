"""Error codes of the geometry kernels (VD210+)."""

from vlmdata.errors import define

UNKNOWN_KIND = define("VD210", "Unknown geometry kind", "Use one of bbox_2d, poly, line.")
BAD_POINTS = define(
    "VD211",
    "Point array has the wrong shape for its kind",
    "bbox_2d needs 4 numbers, poly ≥ 3 points, line ≥ 2 points, as a flat [x1, y1, ...] list.",
)
NON_FINITE_POINTS = define(
    "VD212",
    "Geometry holds NaN or infinite coordinates",
    "Coordinates must be finite pixel values; fix the source annotation.",
)
BAD_MATRIX = define(
    "VD213",
    "Transform matrix is not an invertible 3×3 affine",
    "Pass a 3×3 matrix whose last row is [0, 0, 1] and whose 2×2 part has a non-zero determinant.",
)
BAD_FRAME_SIZE = define(
    "VD214",
    "Image width/height must be positive for a frame conversion",
    "Pass the stored image's width and height (> 0).",
)
