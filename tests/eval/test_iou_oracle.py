"""Polygon IoU (eval and the GRPO rewards share it) against exact areas from shapely, in every size band."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import LineString, Polygon, box
from shapely.validation import make_valid

from vlmdata.eval.match import geometry_iou, greedy_match, iou_matrix
from vlmdata.geometry.overlap import region_areas

BANDS = [(0.5, 3.0), (3.0, 10.0), (10.0, 30.0), (30.0, 100.0), (100.0, 400.0)]


def _star(rng: np.random.Generator, centre: np.ndarray, radius: float) -> np.ndarray:
    n = int(rng.integers(3, 14))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = rng.uniform(0.4 * radius, radius, n)
    return np.stack([centre[0] + r * np.cos(ang), centre[1] + r * np.sin(ang)], 1)


def _pairs(band: tuple[float, float], n: int, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        radius = rng.uniform(*band)
        c = rng.uniform(radius, 1000 - radius, 2)
        a = _star(rng, c, radius)
        b = _star(rng, c + rng.normal(0, 0.35 * radius, 2), radius * rng.uniform(0.7, 1.3))
        if rng.random() < 0.3:  # integer grid coordinates, as a model prints them
            a, b = np.round(a), np.round(b)
        pa, pb = Polygon(a), Polygon(b)
        if not (pa.is_valid and pb.is_valid) or pa.area == 0 or pb.area == 0:
            continue
        exact = pa.intersection(pb).area / pa.union(pb).area
        out.append((a, b, exact))
    return out


@pytest.mark.parametrize("band", BANDS, ids=[f"r{lo:g}-{hi:g}" for lo, hi in BANDS])
def test_polygon_iou_is_unbiased_in_every_size_band(band):
    pairs = _pairs(band, 400, seed=int(band[0] * 10))
    got = np.array(
        [geometry_iou("poly", a.ravel().tolist(), "poly", b.ravel().tolist()) for a, b, _ in pairs]
    )
    exact = np.array([e for *_, e in pairs])
    err = got - exact
    assert abs(err.mean()) <= 0.002
    assert np.abs(err).max() <= 1e-9  # exact areas, not a rasterised estimate
    for t in (0.5, 0.75):
        agree = np.mean((got >= t - 1e-12) == (exact >= t - 1e-12))
        assert agree >= 0.99
    assert ((exact > 0.3) & (exact < 0.9)).sum() > 40  # the bands hold pairs near the thresholds


def test_box_against_polygon_and_matching_decisions():
    rng = np.random.default_rng(5)
    preds, refs = [], []
    for _ in range(40):
        c = rng.uniform(20, 980, 2)
        r = rng.uniform(2, 12)
        star = _star(rng, c, r)
        while not Polygon(star).is_valid:
            star = _star(rng, c, r)
        refs.append(("poly", star.ravel().tolist()))
        x1, y1 = c + rng.normal(0, r / 3, 2) - r
        preds.append(("bbox_2d", [x1, y1, x1 + rng.uniform(r, 2 * r), y1 + rng.uniform(r, 2 * r)]))
    got = iou_matrix(preds, refs)
    exact = np.zeros_like(got)
    for i, (_, p) in enumerate(preds):
        for j, (_, q) in enumerate(refs):
            a, b = box(*p), Polygon(np.reshape(q, (-1, 2)))
            exact[i, j] = a.intersection(b).area / a.union(b).area
    np.testing.assert_allclose(got, exact, atol=1e-9)
    for t in (0.5, 0.75):
        assert greedy_match(got, t) == greedy_match(exact, t)


def test_edges_hand_computed():
    square = [0, 0, 100, 0, 100, 100, 0, 100]
    assert geometry_iou("poly", square, "poly", [0, 0, 100, 0, 100, 100]) == pytest.approx(0.5, abs=1e-12)
    assert geometry_iou("bbox_2d", [0, 0, 100, 100], "poly", square) == pytest.approx(1.0, abs=1e-12)
    # touching along an edge: zero overlap; nested: the area ratio
    assert geometry_iou("poly", square, "poly", [100, 0, 200, 0, 200, 100, 100, 100]) == 0.0
    assert geometry_iou("poly", square, "poly", [25, 25, 75, 25, 75, 75, 25, 75]) == pytest.approx(0.25)
    # repeated, collinear and closing vertices change nothing
    noisy = [0, 0, 50, 0, 50, 0, 100, 0, 100, 100, 0, 100, 0, 0]
    assert geometry_iou("poly", noisy, "poly", square) == pytest.approx(1.0, abs=1e-12)
    # a zero-area sliver is read one grid unit wide (eval.match.region_of): its band's share of the square,
    # far below any threshold; a tiny triangle is still exact
    band = LineString([(0, 0), (20, 20)]).buffer(0.5, cap_style="flat")
    want = band.intersection(box(0, 0, 100, 100)).area / band.union(box(0, 0, 100, 100)).area
    assert geometry_iou("poly", [0, 0, 10, 10, 20, 20], "poly", square) == pytest.approx(want, abs=1e-12)
    assert want < 0.01
    tiny = [0, 0, 0.5, 0, 0, 0.5]
    assert geometry_iou("poly", tiny, "poly", [0, 0, 0.5, 0, 0.5, 0.5, 0, 0.5]) == pytest.approx(0.5)
    # extreme aspect ratio: a 1000 × 0.25 strip against its left half
    strip = [0, 0, 1000, 0, 1000, 0.25, 0, 0.25]
    assert geometry_iou("poly", strip, "poly", [0, 0, 500, 0, 500, 0.25, 0, 0.25]) == pytest.approx(0.5)


def test_self_intersecting_prediction_is_filled_even_odd():
    bow = np.array([[0, 0], [10, 10], [10, 0], [0, 10]], float)  # a bow tie: two triangles of area 25
    a, b, inter = region_areas(bow, np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float))
    assert (a, b, inter) == pytest.approx((50.0, 100.0, 50.0))
    rng = np.random.default_rng(11)
    for _ in range(200):
        p = rng.uniform(0, 50, (int(rng.integers(4, 9)), 2))
        q = rng.uniform(0, 50, (int(rng.integers(3, 9)), 2))
        # oracle: shapely's repair of a self-intersecting ring keeps the odd-winding parts
        sp, sq = make_valid(Polygon(p)), Polygon(q)
        if not sq.is_valid or sp.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        got = region_areas(p, q)
        assert got[0] == pytest.approx(sp.area, abs=1e-7)
        assert got[2] == pytest.approx(sp.intersection(sq).area, abs=1e-7)


def test_reward_uses_the_exact_iou():
    from vlmdata.eval.metrics import score_dense
    from vlmdata.eval.parse import PredObject

    # a small quadrilateral and the same shape one unit lower: exact IoU 30/61 = 0.4918 (< 0.5); the former
    # rasteriser, counting boundary pixels, measured 0.526 and rewarded it as a match
    ref = [5, 1, 2, 5, 3, 8, 7, 1]
    pred = [5, 2, 2, 6, 3, 9, 7, 2]
    a, b = Polygon(np.reshape(ref, (-1, 2))), Polygon(np.reshape(pred, (-1, 2)))
    assert a.intersection(b).area / a.union(b).area == pytest.approx(30 / 61)
    s = score_dense([PredObject("x", "poly", pred)], [PredObject("x", "poly", ref)])
    assert s.tp_by_threshold[0.5] == 0
    assert geometry_iou("poly", pred, "poly", ref) == pytest.approx(30 / 61, abs=1e-12)


def test_pathological_polygons_stay_bounded() -> None:
    """Thousands of self-crossing edges (a degenerate generation) fall back to rasterising that pair instead
    of an exact computation with millions of slabs; ordinary large polygons stay exact."""
    import time

    from vlmdata.geometry.overlap import TooComplex

    rng = np.random.default_rng(0)
    zigzag = rng.uniform(0, 1000, (3000, 2))
    with pytest.raises(TooComplex):
        region_areas(zigzag, np.array([[0, 0], [1000, 0], [1000, 1000], [0, 1000]], float))
    start = time.perf_counter()
    value = geometry_iou("poly", zigzag.ravel().tolist(), "poly", [0, 0, 1000, 0, 1000, 1000, 0, 1000])
    assert 0.0 <= value <= 1.0 and time.perf_counter() - start < 30
    ring = np.stack(
        [
            500 + 400 * np.cos(np.linspace(0, 2 * np.pi, 300, endpoint=False)),
            500 + 400 * np.sin(np.linspace(0, 2 * np.pi, 300, endpoint=False)),
        ],
        1,
    )
    a, b = Polygon(ring), Polygon(ring + 3)
    exact = a.intersection(b).area / a.union(b).area
    assert geometry_iou("poly", ring.ravel().tolist(), "poly", (ring + 3).ravel().tolist()) == pytest.approx(
        exact, abs=1e-9
    )
