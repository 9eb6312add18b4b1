"""The audit report's length histogram as a PNG (Pillow); the terminal view is `vlmdata audit`'s (`vlmdata.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vlmdata.io.atomic import atomic_write_bytes


def histogram_png(rep: dict[str, Any], path: str | Path, size: tuple[int, int] = (900, 420)) -> Path:
    """Bar chart of the length histogram with the limit drawn in red; written atomically (library use)."""
    return atomic_write_bytes(path, histogram_png_bytes(rep, size))


def histogram_png_bytes(rep: dict[str, Any], size: tuple[int, int] = (900, 420)) -> bytes:
    """Bar chart of the length histogram with the limit drawn in red, as PNG bytes."""
    import io

    from PIL import Image, ImageDraw

    w, h = size
    left, right, top, bottom = 70, 20, 40, 50
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    hist = rep["histogram"]
    edges, counts = hist["edges"], hist["counts"]
    draw.text(
        (left, 10), f"sequence length ({rep['count']} records, template {rep['template']})", fill="black"
    )
    draw.line([(left, h - bottom), (w - right, h - bottom)], fill="black")
    draw.line([(left, top), (left, h - bottom)], fill="black")
    if counts:
        span = edges[-1] - edges[0] or 1
        peak = max(counts) or 1

        def x_of(v: float) -> float:
            return left + (v - edges[0]) / span * (w - left - right)

        for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True):
            y = h - bottom - c / peak * (h - top - bottom)
            draw.rectangle([x_of(lo) + 1, y, x_of(hi) - 1, h - bottom], fill=(70, 120, 190))
        limit = rep["global_max_length"]
        xl = x_of(min(max(limit, edges[0]), edges[-1]))
        draw.line([(xl, top), (xl, h - bottom)], fill=(200, 30, 30), width=2)
        draw.text((xl + 4, top), f"global_max_length {limit}", fill=(200, 30, 30))
        for v in (edges[0], edges[len(edges) // 2], edges[-1]):
            draw.text((x_of(v) - 10, h - bottom + 6), str(v), fill="black")
        draw.text((8, top), str(peak), fill="black")
        draw.text((8, h - bottom - 10), "0", fill="black")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
