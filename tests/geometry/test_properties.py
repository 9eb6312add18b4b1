"""Hypothesis properties of the geometry kernels: involutions, inverses, canvas bounds, canonical order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmdata.geometry import KERNELS, canonicalize
from vlmdata.geometry.kernels import affine_points, signed_area
from vlmdata.geometry.transform import (
    hflip,
    invert,
    rotate_about,
    scale_about,
    transform_object,
    translate,
    vflip,
)

W, H = 640.0, 480.0
coord = st.floats(-200, 900, allow_nan=False, allow_infinity=False)
points = st.lists(st.tuples(coord, coord), min_size=3, max_size=12).map(
    lambda p: np.array(p, dtype=np.float64)
)
# simple (star-shaped) polygons: vertices sorted by angle around their mean
simple = points.map(lambda p: p[np.argsort(np.arctan2(p[:, 1] - p[:, 1].mean(), p[:, 0] - p[:, 0].mean()))])
angle = st.floats(-180, 180, allow_nan=False)
SETTINGS = settings(max_examples=60, deadline=None)


@SETTINGS
@given(points)
def test_flip_twice_is_identity(p):
    assert np.abs(affine_points(affine_points(p, hflip(W)), hflip(W)) - p).max() <= 1e-9
    assert np.abs(affine_points(affine_points(p, vflip(H)), vflip(H)) - p).max() <= 1e-9


@SETTINGS
@given(points, angle)
def test_rotate_then_back_is_identity(p, a):
    back = affine_points(affine_points(p, rotate_about(a, W / 2, H / 2)), rotate_about(-a, W / 2, H / 2))
    assert np.abs(back - p).max() < 1e-6


@SETTINGS
@given(points, angle, st.floats(0.5, 2.0), st.floats(-50, 50), st.floats(-50, 50))
def test_affine_then_inverse_round_trips(p, a, s, tx, ty):
    m = translate(tx, ty) @ scale_about(s, s, W / 2, H / 2) @ rotate_about(a, W / 2, H / 2) @ hflip(W)
    back = affine_points(affine_points(p, m), invert(m))
    assert np.abs(back - p).max() < 1e-6


@SETTINGS
@given(simple, angle, st.sampled_from(["poly", "line", "bbox_2d"]), st.sampled_from(["poly", "enclose"]))
def test_outputs_inside_canvas_finite_and_canonical(p, a, kind, policy):
    pts = np.array([p.min(axis=0), p.max(axis=0)]) if kind == "bbox_2d" else p
    res = transform_object(kind, pts, rotate_about(a, W / 2, H / 2), (W, H), bbox_rotation=policy)
    assert 0.0 <= res.kept <= res.before * (1 + 1e-9) + 1e-9
    for out_kind, q in res.pieces:
        assert np.isfinite(q).all()
        assert q[:, 0].min() >= 0 and q[:, 0].max() <= W and q[:, 1].min() >= 0 and q[:, 1].max() <= H
        assert not KERNELS["degenerate"][out_kind](q)
        assert np.array_equal(canonicalize(out_kind, q), q)  # canonical form is a fixed point
        if out_kind == "poly":
            assert signed_area(q) > 0  # clockwise on screen
            first = q[0]
            assert all((first[1], first[0]) <= (y, x) for x, y in q)
        if out_kind == "line":
            assert (q[0, 0], q[0, 1]) <= (q[-1, 0], q[-1, 1])


@SETTINGS
@given(points)
def test_canonicalize_is_idempotent_and_keeps_area(p):
    once = canonicalize("poly", p)
    assert np.array_equal(canonicalize("poly", once), once)
    assert abs(abs(signed_area(once)) - abs(signed_area(p))) < 1e-6 * max(1.0, abs(signed_area(p)))


@SETTINGS
@given(
    simple,
    angle,
    st.booleans(),
    st.sampled_from(["poly", "line", "bbox_2d"]),
    st.sampled_from(["poly", "enclose"]),
)
def test_batched_fast_path_equals_exact_path(p, a, mirror, kind, policy):
    from vlmdata.geometry.batch import move_inside

    pts = np.array([p.min(axis=0), p.max(axis=0)]) if kind == "bbox_2d" else p
    pts = canonicalize(kind, pts)
    if KERNELS["degenerate"][kind](pts):
        return
    m = rotate_about(a, W / 2, H / 2) @ (hflip(W) if mirror else np.eye(3))
    (quick,) = move_inside([kind], [pts], m, (W, H), policy)
    if quick is None:
        return  # crosses the border: the exact path handles it
    exact = transform_object(kind, pts, m, (W, H), bbox_rotation=policy)
    assert len(exact.pieces) == 1 and exact.pieces[0][0] == quick[0]
    assert np.abs(exact.pieces[0][1] - quick[1]).max() <= 1e-9


def test_fast_path_sends_repeated_vertices_to_the_exact_path():
    from vlmdata.geometry.batch import move_inside

    line = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    m = rotate_about(0.0, W / 2, H / 2)
    (quick,) = move_inside(["line"], [line], m, (W, H), "poly")
    assert quick is None
    exact = transform_object("line", line, m, (W, H), bbox_rotation="poly")
    assert len(exact.pieces) == 1 and len(exact.pieces[0][1]) == 2
    box_then_line = move_inside(
        ["bbox_2d", "line"],
        [np.array([[1.0, 1.0], [5.0, 5.0]]), np.array([[5.0, 5.0], [9.0, 9.0]])],
        m,
        (W, H),
        "poly",
    )
    assert all(q is not None for q in box_then_line)  # a repeat across two objects is no repeat
