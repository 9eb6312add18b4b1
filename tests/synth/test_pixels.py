"""The drawn pixels match the stored geometry, on the displayed image (EXIF orientation applied)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps

from vlmdata.synth import generate

# Minimum IoU between the oracle's rasterisation and the pixels within TOL of the object's colour. PNG is
# exact (the grain is ±6); JPEG (4:4:4, quality 90) loses a few edge pixels.
MIN_IOU = {"png": 0.995, "jpeg": 0.95}
TOL = {"png": 20, "jpeg": 40}


def _hex(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)


def _check_object(pixels: np.ndarray, obj: dict[str, Any], oracle: ModuleType, tol: int) -> tuple[str, float]:
    kind = next(k for k in ("bbox_2d", "poly", "line") if k in obj)
    pts = obj[kind]
    meta = obj["metadata"]
    h, w = pixels.shape[:2]
    pad = meta["thickness"] + 3
    x0, y0 = max(0, int(min(pts[0::2])) - pad), max(0, int(min(pts[1::2])) - pad)
    x1, y1 = min(w, int(max(pts[0::2])) + pad + 1), min(h, int(max(pts[1::2])) + pad + 1)
    xs, ys = oracle.pixel_centres(x0, y0, x1, y1)
    if kind == "bbox_2d":
        expect = oracle.box_mask(pts, xs, ys)
        if meta["style"] == "outline":
            t = meta["thickness"]
            expect &= ~oracle.box_mask([pts[0] + t, pts[1] + t, pts[2] - t, pts[3] - t], xs, ys)
    elif kind == "poly":
        expect = oracle.polygon_mask(pts, xs, ys)
    else:
        expect = oracle.polyline_mask(pts, meta["thickness"], xs, ys)
    window = pixels[y0:y1, x0:x1].astype(np.int16)
    got = np.abs(window - _hex(meta["color"])).max(axis=2) <= tol
    return kind, oracle.iou(expect, got)


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_geometry_matches_drawn_pixels(tmp_path: Path, oracle: ModuleType, fmt: str) -> None:
    png = 1.0 if fmt == "png" else 0.0
    exif = 0.0 if fmt == "png" else 0.6
    out = tmp_path / fmt
    generate(
        out, 24, seed=5, min_size=128, max_size=384, png_fraction=png, exif_fraction=exif, domain="mixed"
    )
    worst: dict[str, float] = {}
    seen_exif = 0
    for rec in oracle.clean_records(out):
        if "objects" not in rec:
            continue
        seen_exif += "exif_orientation" in rec["metadata"]
        shown = [
            np.asarray(ImageOps.exif_transpose(Image.open(out / p)).convert("RGB")) for p in rec["images"]
        ]
        for obj in rec["objects"]:
            pixels = shown[obj.get("image_index", 0)]
            assert pixels.shape[:2] == (rec["height"], rec["width"])
            kind, score = _check_object(pixels, obj, oracle, TOL[fmt])
            worst[kind] = min(worst.get(kind, 1.0), score)
    assert set(worst) == {"bbox_2d", "poly", "line"}
    for kind, score in worst.items():
        assert score >= MIN_IOU[fmt], f"{fmt} {kind}: worst IoU {score:.3f}"
    if fmt == "jpeg":
        assert seen_exif >= 3


def test_shifted_geometry_does_not_match(tmp_path: Path, oracle: ModuleType) -> None:
    """The IoU check has teeth: moving a box by a few pixels drops it well below the threshold."""
    out = tmp_path / "s"
    generate(
        out,
        6,
        seed=2,
        min_size=256,
        max_size=256,
        png_fraction=1.0,
        domain="bbu",
        min_objects=1,
        max_objects=1,
    )
    for rec in oracle.clean_records(out):
        for obj in rec.get("objects", []):
            if "bbox_2d" not in obj or obj["metadata"]["style"] != "filled":
                continue
            pixels = np.asarray(Image.open(out / rec["images"][0]).convert("RGB"))
            moved = dict(
                obj,
                bbox_2d=[
                    v + 0.4 * (obj["bbox_2d"][2] - obj["bbox_2d"][0]) * (i % 2 == 0)
                    for i, v in enumerate(obj["bbox_2d"])
                ],
            )
            assert _check_object(pixels, obj, oracle, TOL["png"])[1] >= MIN_IOU["png"]
            assert _check_object(pixels, moved, oracle, TOL["png"])[1] < 0.75
            return
    pytest.fail("no filled box generated")
