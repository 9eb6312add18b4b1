"""Independent oracles: a float64 reference written here from first principles (complex arithmetic, not the
library's matrices) and torchvision.transforms.v2 on boxes/keypoints, for every affine op both support."""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest

from vlmdata.augment import AugmentPipeline, augment_record

W, H = 400, 300
BOX = [150.0, 110.0, 230.0, 170.0]
POLY = [170.0, 120.0, 220.0, 130.0, 210.0, 175.0, 160.0, 160.0]


def _run(ops):
    pipe = AugmentPipeline.from_config({"ops": ops, "seed": 11})
    rec = {
        "id": "oracle",
        "width": W,
        "height": H,
        "objects": [
            {"desc": "box", "kind": "bbox_2d", "points": BOX},
            {"desc": "poly", "kind": "poly", "points": POLY},
        ],
    }
    res = augment_record(rec, [np.zeros((H, W, 3), np.uint8)], pipe, epoch=0)
    return res, {o["desc"]: o for o in res.objects}


def _oracle(points: list[float], fn) -> np.ndarray:
    z = [complex(x, y) for x, y in zip(points[::2], points[1::2], strict=True)]
    return np.array([[w.real, w.imag] for w in map(fn, z)])


def _same_ring(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    """Same polygon up to start vertex and direction."""
    a = np.asarray(a).reshape(-1, 2)
    b = np.asarray(b).reshape(-1, 2)
    if a.shape != b.shape:
        return False
    for ring in (b, b[::-1]):
        for k in range(len(ring)):
            if np.abs(np.roll(ring, k, axis=0) - a).max() <= tol:
                return True
    return False


C = complex(W / 2, H / 2)
CASES = {
    # y points down, so a counter-clockwise turn on screen multiplies by exp(-i·angle)
    "rotate": (
        {"name": "rotate", "params": {"p": 1, "angle_range": [23.0, 23.0]}},
        lambda z: C + (z - C) * cmath.exp(-1j * math.radians(23)),
    ),
    "hflip": ({"name": "hflip", "params": {"p": 1}}, lambda z: complex(W - z.real, z.imag)),
    "vflip": ({"name": "vflip", "params": {"p": 1}}, lambda z: complex(z.real, H - z.imag)),
    "scale": (
        {"name": "scale", "params": {"p": 1, "scale_range": [1.25, 1.25]}},
        lambda z: C + (z - C) * 1.25,
    ),
    "translate": (
        {"name": "translate", "params": {"p": 1, "shift_range": [0.05, 0.05]}},
        lambda z: z + complex(0.05 * W, 0.05 * H),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_float64_oracle(name):
    op, fn = CASES[name]
    res, out = _run([op])
    assert _same_ring(out["poly"]["points"], _oracle(POLY, fn), 1e-9)
    x1, y1, x2, y2 = BOX
    corners = _oracle([x1, y1, x2, y1, x2, y2, x1, y2], fn)
    if out["box"]["kind"] == "bbox_2d":
        np.testing.assert_allclose(
            out["box"]["points"], [*corners.min(axis=0), *corners.max(axis=0)], atol=1e-9
        )
    else:
        assert _same_ring(out["box"]["points"], corners, 1e-9)


def test_composition_matches_oracle_and_warps_once():
    ops = [CASES[n][0] for n in ("hflip", "rotate", "scale", "translate")]
    res, out = _run(ops)
    fns = [CASES[n][1] for n in ("hflip", "rotate", "scale", "translate")]

    def composed(z):
        for f in fns:
            z = f(z)
        return z

    assert _same_ring(out["poly"]["points"], _oracle(POLY, composed), 1e-9)
    assert res.provenance["warps"] == 1


torch = pytest.importorskip("torch")
tv_tensors = pytest.importorskip("torchvision.tv_tensors")
F = pytest.importorskip("torchvision.transforms.v2.functional")


def _kp(points):
    return tv_tensors.KeyPoints(
        torch.tensor(np.asarray(points).reshape(-1, 2), dtype=torch.float64), canvas_size=(H, W)
    )


def test_torchvision_flips_on_boxes():
    for name, fn in (("hflip", F.horizontal_flip), ("vflip", F.vertical_flip)):
        _, out = _run([CASES[name][0]])
        boxes = tv_tensors.BoundingBoxes(
            torch.tensor([BOX], dtype=torch.float64), format="XYXY", canvas_size=(H, W)
        )
        np.testing.assert_allclose(out["box"]["points"], fn(boxes)[0].tolist(), atol=1e-9)


def test_torchvision_rotate_and_affine_on_keypoints():
    _, out = _run([CASES["rotate"][0]])
    assert _same_ring(out["poly"]["points"], F.rotate(_kp(POLY), 23.0).numpy(), 1e-6)
    _, out = _run([CASES["scale"][0]])
    ref = F.affine(_kp(POLY), angle=0.0, translate=[0, 0], scale=1.25, shear=[0.0, 0.0]).numpy()
    assert _same_ring(out["poly"]["points"], ref, 1e-6)
    _, out = _run([CASES["translate"][0]])
    ref = F.affine(_kp(POLY), angle=0.0, translate=[0.05 * W, 0.05 * H], scale=1.0, shear=[0.0, 0.0]).numpy()
    assert _same_ring(out["poly"]["points"], ref, 1e-6)


def test_torchvision_resize_and_crop_on_boxes():
    res, out = _run([{"name": "resize", "params": {"p": 1, "scale_range": [0.5, 0.5]}}])
    boxes = tv_tensors.BoundingBoxes(
        torch.tensor([BOX], dtype=torch.float64), format="XYXY", canvas_size=(H, W)
    )
    ref = F.resize(boxes, size=[res.height, res.width])
    np.testing.assert_allclose(out["box"]["points"], ref[0].tolist(), atol=1e-9)
    res, out = _run([{"name": "crop", "params": {"p": 1, "size_range": [0.5, 0.5]}}])
    x0, y0, x1, y1 = res.provenance["ops"][0]["params"]["window"]
    ref = F.crop(boxes, top=y0, left=x0, height=y1 - y0, width=x1 - x0)
    ref = F.clamp_bounding_boxes(ref)
    if "box" in out:
        np.testing.assert_allclose(out["box"]["points"], ref[0].tolist(), atol=1e-9)
    else:  # the crop missed the box: torchvision's clamped box is empty too
        b = ref[0].tolist()
        assert b[2] - b[0] <= 0 or b[3] - b[1] <= 0
