"""Showing an audit report: a terminal summary with a text histogram, and the histogram as a PNG (Pillow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vlmdata.io.atomic import atomic_write_bytes

_BAR = 40


def format_report(rep: dict[str, Any]) -> str:
    lines = [
        f"model {rep['model']}  template {rep['template']}  global_max_length {rep['global_max_length']}  "
        f"image pixels {rep['pixel_bounds']['min_pixels']}..{rep['pixel_bounds']['max_pixels']}",
        f"{rep['count']} record(s), {rep['sized']} sized in {rep['seconds']:.2f} s",
        "",
        f"{'source':<24}{'count':>8}{'min':>8}{'p50':>8}{'p90':>8}{'p95':>8}{'p99':>8}{'max':>8}{'img share':>11}",
    ]
    for name, st in rep["stats"].items():
        if not st.get("count"):
            continue
        lines.append(
            f"{name[:23]:<24}{st['count']:>8}{st['min']:>8}{st['p50']:>8}{st['p90']:>8}{st['p95']:>8}{st['p99']:>8}"
            f"{st['max']:>8}{st['image_token_share']:>10.1%}"
        )
    hist = rep["histogram"]
    if hist["counts"]:
        lines += ["", "length histogram (| marks global_max_length)"]
        peak = max(hist["counts"]) or 1
        limit = rep["global_max_length"]
        for lo, hi, c in zip(hist["edges"][:-1], hist["edges"][1:], hist["counts"], strict=True):
            mark = "|" if lo <= limit < hi else " "
            bar = "#" * (round(c / peak * _BAR) if c else 0)
            lines.append(f"{lo:>7}-{hi - 1:<7}{mark} {bar} {c}")
    fits = rep["smallest_global_max_length"]
    lines += ["", f"smallest global_max_length fitting 100%: {fits['all']}   99.9%: {fits['p99_9']}"]
    over = rep["over_limit"]
    if over:
        lines += ["", f"{len(over)} record(s) at or over global_max_length={rep['global_max_length']}:"]
        lines += [
            f"  {r['dataset']} id={r['id']} length={r['length']} image_tokens={r['image_tokens']} "
            f"text_tokens={r['text_tokens']}"
            for r in over
        ]
    if rep["errors"]:
        lines += ["", f"{len(rep['errors'])} record(s) could not be sized:"]
        lines += [f"  {e['dataset']} {e['where']}: {e['code']} {e['message']}" for e in rep["errors"]]
    return "\n".join(lines)


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
