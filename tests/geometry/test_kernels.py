"""Geometry kernels: the dispatch table, clipping, canonical order, frames, measures, degenerate detection."""

from __future__ import annotations

import numpy as np
import pytest

from vlmdata.errors import VlmdataError
from vlmdata.geometry import KERNELS, canonicalize, to_qwen_grid
from vlmdata.geometry.canonical import clean_polygon
from vlmdata.geometry.frames import from_qwen_grid
from vlmdata.geometry.kernels import signed_area
from vlmdata.geometry.transform import hflip, rotate_about, transform_object

RECT = (0.0, 0.0, 10.0, 10.0)


def test_table_covers_every_op_and_kind():
    assert set(KERNELS) == {"affine", "clip", "measure", "degenerate", "canonical"}
    for table in KERNELS.values():
        assert set(table) == {"bbox_2d", "poly", "line"}


def test_sutherland_hodgman_keeps_vertices_and_cleans():
    # a triangle poking out of the right edge: the clip keeps the cut as two new vertices, not a rectangle
    tri = np.array([[2.0, 2.0], [14.0, 5.0], [2.0, 8.0]])
    (out,) = KERNELS["clip"]["poly"](tri, RECT)
    assert len(out) == 4
    assert np.isclose(out[:, 0].max(), 10.0)
    assert KERNELS["measure"]["poly"](out) == pytest.approx(36.0 - 4.0)  # the 4 px² tip beyond x = 10 is cut
    square = np.array([[-5.0, -5.0], [5.0, -5.0], [5.0, 5.0], [-5.0, 5.0]])
    (cut,) = KERNELS["clip"]["poly"](square, RECT)
    assert KERNELS["measure"]["poly"](cut) == pytest.approx(25.0)
    assert KERNELS["clip"]["poly"](square + 100, RECT) == []


def test_clean_polygon_drops_duplicates_collinear_and_closing_vertex():
    ring = np.array([[0, 0], [5, 0], [10, 0], [10, 10], [10, 10], [0, 10], [0, 0]], dtype=float)
    out = clean_polygon(ring)
    assert sorted(map(tuple, out)) == [(0, 0), (0, 10), (10, 0), (10, 10)]


def test_liang_barsky_splits_a_line_that_leaves_and_reenters():
    line = np.array([[-5.0, 5.0], [5.0, 5.0], [5.0, 15.0], [8.0, 5.0], [20.0, 5.0]])
    pieces = KERNELS["clip"]["line"](line, RECT)
    assert len(pieces) == 2
    np.testing.assert_allclose(pieces[0], [[0, 5], [5, 5], [5, 10]])
    np.testing.assert_allclose(pieces[1], [[6.5, 10], [8, 5], [10, 5]])
    inside = np.array([[1.0, 1.0], [9.0, 9.0], [1.0, 9.0]])
    (same,) = KERNELS["clip"]["line"](inside, RECT)
    assert np.array_equal(same, inside)  # unclipped vertices are bit-identical
    assert KERNELS["clip"]["line"](np.array([[-1.0, -1.0], [-5.0, 20.0]]), RECT) == []


@pytest.mark.parametrize("policy,expected", [("split", 2), ("longest", 1)])
def test_line_split_policy(policy, expected):
    line = np.array([[1.0, 5.0], [5.0, 5.0], [5.0, 15.0], [8.0, 5.0], [9.0, 5.0]])
    res = transform_object("line", line, np.eye(3), (10, 10), line_split=policy)
    assert len(res.pieces) == expected
    if policy == "longest":
        assert res.kept == pytest.approx(4.0 + 5.0)


def test_canonical_poly_clockwise_on_screen_starting_top_left():
    ccw = [0.0, 0.0, 0.0, 10.0, 10.0, 10.0, 10.0, 0.0]  # counter-clockwise on screen (y down)
    out = canonicalize("poly", ccw)
    assert out[:2] == [0.0, 0.0]
    assert signed_area(np.array(out).reshape(-1, 2)) > 0
    assert out == [0.0, 0.0, 10.0, 0.0, 10.0, 10.0, 0.0, 10.0]
    assert canonicalize("poly", [0, 0, 10, 0, 10, 10, 0, 10, 0, 0]) == out  # closing vertex dropped


def test_canonical_line_and_box():
    assert canonicalize("line", [9, 9, 5, 5, 1, 1]) == [1.0, 1.0, 5.0, 5.0, 9.0, 9.0]
    assert canonicalize("line", [1, 9, 5, 5, 9, 1]) == [1.0, 9.0, 5.0, 5.0, 9.0, 1.0]
    assert canonicalize("bbox_2d", [9, 1, 2, 8]) == [2.0, 1.0, 9.0, 8.0]
    arr = canonicalize("bbox_2d", np.array([9.0, 1, 2, 8]))
    assert isinstance(arr, np.ndarray) and arr.shape == (4,)
    with pytest.raises(VlmdataError, match="VD210"):
        canonicalize("circle", [0, 0])


def test_qwen_grid_rounds_half_up_and_clamps():
    assert to_qwen_grid([0, 0, 100, 50], 100, 50) == [0, 0, 1000, 1000]
    assert to_qwen_grid([0.05, 0.15], 1000, 1000) == [0, 0]
    assert to_qwen_grid([0.0005 * 1000, 2.5], 1000, 1000) == [1, 3]  # 0.5 → 1 and 2.5 → 3 (half up)
    assert to_qwen_grid([-3, 120], 100, 100) == [0, 1000]
    grid = to_qwen_grid(np.array([[10.0, 20.0]]), 640, 480)
    assert grid.dtype == np.int64 and grid.shape == (1, 2)
    assert grid.tolist() == [[16, 42]]
    np.testing.assert_allclose(from_qwen_grid([500, 500], 640, 480), [320, 240])
    with pytest.raises(VlmdataError, match="VD214"):
        to_qwen_grid([1, 2], 0, 10)


def test_degenerate_detection():
    assert KERNELS["degenerate"]["bbox_2d"](np.array([[1.0, 1.0], [1.0, 5.0]]))
    assert KERNELS["degenerate"]["poly"](np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]))
    assert KERNELS["degenerate"]["line"](np.array([[3.0, 3.0], [3.0, 3.0]]))
    assert not KERNELS["degenerate"]["line"](np.array([[3.0, 3.0], [4.0, 3.0]]))


def test_box_under_rotation_follows_bbox_rotation_policy():
    box = np.array([[30.0, 30.0], [70.0, 50.0]])
    m = rotate_about(30, 50, 50)
    poly = transform_object("bbox_2d", box, m, (100, 100), bbox_rotation="poly")
    enc = transform_object("bbox_2d", box, m, (100, 100), bbox_rotation="enclose")
    assert poly.pieces[0][0] == "poly" and len(poly.pieces[0][1]) == 4 and poly.converted
    assert enc.pieces[0][0] == "bbox_2d"
    assert poly.visibility == pytest.approx(1.0)
    assert KERNELS["measure"]["poly"](poly.pieces[0][1]) == pytest.approx(800.0)
    flipped = transform_object("bbox_2d", box, hflip(100), (100, 100))
    np.testing.assert_allclose(flipped.pieces[0][1], [[30, 30], [70, 50]])
    assert flipped.pieces[0][0] == "bbox_2d"
