"""Clipping against an independent oracle (shapely): a concave polygon cut by a window becomes one valid
polygon per piece whose union is the exact intersection; a repeated line vertex never splits a line."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import LineString, Polygon, box
from shapely.ops import unary_union

from vlmdata.augment import AugmentPipeline, augment_record
from vlmdata.geometry.kernels import clip_line, clip_poly
from vlmdata.geometry.transform import hflip, identity, rotate_about, transform_object

U_SHAPE = np.array([[0, 0], [30, 0], [30, 30], [20, 30], [20, 10], [10, 10], [10, 30], [0, 30]], float)


def _comb(teeth: int, rng: np.random.Generator) -> np.ndarray:
    """A comb with `teeth` teeth of random widths and lengths pointing down (y grows downwards)."""
    xs = np.cumsum(rng.uniform(1, 8, 2 * teeth))
    top = [[0.0, 0.0]] + [[float(xs[-1]) + 2, 0.0]]
    teeth_pts = []
    for k in range(teeth - 1, -1, -1):
        left, right = xs[2 * k], xs[2 * k + 1]
        length = rng.uniform(10, 40)
        teeth_pts += [[right, 5.0], [right, 5 + length], [left, 5 + length], [left, 5.0]]
    return np.array(top + [[float(xs[-1]) + 2, 5.0]] + teeth_pts + [[0.0, 5.0]])


def _star(rng: np.random.Generator) -> np.ndarray:
    n = int(rng.integers(3, 30))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = rng.uniform(1, 50, n)
    c = rng.uniform(20, 80, 2)
    pts = np.stack([c[0] + r * np.cos(ang), c[1] + r * np.sin(ang)], 1)
    snap = rng.random()
    if snap < 0.3:
        pts = np.round(pts)  # integer vertices: many on the window lines, many collinear runs
    elif snap < 0.5:
        pts = np.round(pts / 10) * 10
    return pts


def _check_against_shapely(poly: np.ndarray, rect: tuple[float, float, float, float]) -> int:
    pieces = clip_poly(poly, rect)
    exact = Polygon(poly).intersection(box(*rect))
    exact_parts = [g for g in getattr(exact, "geoms", [exact]) if g.geom_type == "Polygon" and g.area > 1e-6]
    shapes = [Polygon(p) for p in pieces]
    for s in shapes:
        assert s.is_valid, s.wkt  # no bridge, no self-touching ring
        assert s.area > 0
    union = unary_union(shapes) if shapes else Polygon()
    tol = 1e-9 * max(1.0, exact.area)
    assert union.symmetric_difference(exact).area <= tol
    assert sum(s.area for s in shapes) - union.area <= tol  # pieces do not overlap
    assert len(shapes) == len(exact_parts)
    return len(shapes)


def test_u_shape_cut_through_its_legs_gives_two_pieces():
    pieces = clip_poly(U_SHAPE, (0, 15, 30, 40))
    assert sorted(Polygon(p).area for p in pieces) == [150.0, 150.0]
    assert _check_against_shapely(U_SHAPE, (0, 15, 30, 40)) == 2
    assert _check_against_shapely(U_SHAPE, (0, 0, 30, 20)) == 1  # cut above the gap: one piece


@pytest.mark.parametrize("seed", range(6))
def test_combs_cut_across_their_teeth(seed):
    rng = np.random.default_rng(seed)
    comb = _comb(int(rng.integers(2, 12)), rng)
    for _ in range(30):
        y0 = rng.uniform(6, 30)
        x0 = rng.uniform(-5, 10)
        rect = (x0, y0, x0 + rng.uniform(5, 200), y0 + rng.uniform(0.5, 50))
        _check_against_shapely(comb, rect)
    assert _check_against_shapely(comb, (-1, 6, 1e6, 7)) == len(comb[4::4])  # every tooth, own piece


def test_random_concave_polygons_and_windows():
    rng = np.random.default_rng(0)
    checked = split = 0
    while checked < 3000:
        poly = _star(rng)
        if not Polygon(poly).is_valid:
            continue
        x0, y0 = rng.uniform(0, 70, 2)
        if rng.random() < 0.4:
            x0, y0 = np.round([x0, y0])  # window lines through integer vertices
        w, h = rng.uniform(0.5, 60, 2)
        split += _check_against_shapely(poly, (x0, y0, x0 + w, y0 + h)) > 1
        checked += 1
    assert split > 100  # the generator does produce multi-piece cuts


def test_pieces_touching_at_a_window_vertex_stay_apart():
    # two triangles of one polygon meet at (10, 5) on the window's top line after the cut
    poly = np.array([[0, 0], [20, 0], [20, 20], [10, 5], [0, 20]], float)
    rect = (0.0, 5.0, 20.0, 30.0)
    assert _check_against_shapely(poly, rect) == 2


def test_split_polygon_is_counted_and_keeps_its_desc_in_augment():
    rec = {
        "id": "u",
        "width": 100,
        "height": 100,
        "objects": [{"desc": "类别=U", "kind": "poly", "points": (U_SHAPE * 2 + [20, 20]).ravel().tolist()}],
    }
    # resize barrier with scale 1 and then a crop to the lower legs through `transform_object`'s window
    res = transform_object("poly", U_SHAPE * 2 + [20, 20], identity(), (100, 100), window=(0, 60, 100, 100))
    assert len(res.pieces) == 2 and res.split == 1
    assert res.kept == pytest.approx(Polygon(U_SHAPE * 2 + [20, 20]).intersection(box(0, 60, 100, 100)).area)
    # the pipeline: a vflip then a crop that keeps only the lower band; both legs survive as own objects
    pipe = AugmentPipeline.from_config(
        {
            "ops": [
                {"name": "vflip", "params": {"p": 1.0}},
                {"name": "crop", "params": {"p": 1.0, "size_range": [0.3, 0.3]}},
            ],
            "seed": 1,
        }
    )
    out = None
    for rid in (f"u{k}" for k in range(200)):  # find a crop position that cuts both legs
        rec["id"] = rid
        out = augment_record(rec, [np.zeros((100, 100, 3), np.uint8)], pipe, epoch=0)
        if out.provenance["split"]:
            break
    assert out is not None and out.provenance["split"] >= 1
    assert len(out.objects) == 1 + out.provenance["split"]
    assert {o["desc"] for o in out.objects} == {"类别=U"}
    assert all(Polygon(np.reshape(o["points"], (-1, 2))).is_valid for o in out.objects)


LINE_DUP = np.array([[10, 10], [20, 20], [20, 20], [30, 10], [45, 30]], float)


@pytest.mark.parametrize(
    "matrix",
    [identity(), hflip(100), rotate_about(33.0, 50, 50), rotate_about(90.0, 50, 50)],
    ids=["identity", "hflip", "rotate33", "rotate90"],
)
def test_repeated_line_vertex_never_splits(matrix):
    res = transform_object("line", LINE_DUP, matrix, (100, 100))
    ref = transform_object("line", np.delete(LINE_DUP, 2, axis=0), matrix, (100, 100))
    assert len(res.pieces) == 1 and res.split == 0
    np.testing.assert_array_equal(res.pieces[0][1], ref.pieces[0][1])


def test_repeated_vertices_of_a_clipped_line_match_shapely():
    rng = np.random.default_rng(3)
    for _ in range(500):
        pts = np.round(rng.uniform(-20, 120, (int(rng.integers(2, 9)), 2)))
        dup = np.repeat(pts, rng.integers(1, 4, len(pts)), axis=0)  # every vertex repeated 1–3 times
        rect = (0.0, 0.0, 100.0, 100.0)
        pieces = clip_line(dup, rect)
        assert len(pieces) == len(clip_line(pts, rect))
        exact = LineString(pts).intersection(box(*rect)) if len(np.unique(pts, axis=0)) > 1 else None
        if exact is None or exact.is_empty:
            continue
        got = sum(LineString(p).length for p in pieces)
        assert got == pytest.approx(exact.length, abs=1e-9)


def test_canonical_form_of_a_near_zero_area_bow_tie_is_a_fixed_point():
    """Found by hypothesis: a self-intersecting ring whose signed area is ~0 flipped orientation on every pass."""
    from vlmdata.geometry import canonicalize

    p = np.array([(1.2992106044583807, 0.0), (1.0, 3.75), (67.0, 0.0), (0.0, 3.75)])
    once = canonicalize("poly", p)
    assert np.array_equal(canonicalize("poly", once), once)
    rng = np.random.default_rng(4)
    for _ in range(2000):
        q = np.round(rng.uniform(-5, 70, (int(rng.integers(3, 9)), 2)), int(rng.integers(0, 3)))
        once = canonicalize("poly", q)
        assert np.array_equal(canonicalize("poly", once), once)
