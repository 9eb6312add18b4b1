"""The renderer's pure-Python grid and canonical order agree with the geometry package, value for value."""

from __future__ import annotations

import random

import numpy as np
import pytest

from vlmdata.geometry.canonical import canonicalize
from vlmdata.geometry.frames import to_qwen_grid
from vlmdata.render.grid import canonicalize_pairs, pairs, to_grid


def _flat(pts: list[tuple[float, float]]) -> list[float]:
    return [float(c) for p in pts for c in p]


def test_grid_matches_to_qwen_grid_including_half_way_values() -> None:
    rng = random.Random(0)
    for _ in range(300):
        w, h = rng.randint(1, 5000), rng.randint(1, 5000)
        # exact half-way values (k + 0.5) / 1000 · W, values outside the canvas, and plain random ones
        pts = []
        for _ in range(8):
            choice = rng.random()
            if choice < 0.4:
                pts += [(rng.randint(0, 999) + 0.5) / 1000 * w, (rng.randint(0, 999) + 0.5) / 1000 * h]
            elif choice < 0.6:
                pts += [rng.uniform(-3, w + 3), rng.uniform(-3, h + 3)]
            else:
                pts += [rng.uniform(0, w), rng.uniform(0, h)]
        assert to_grid(pts, w, h) == to_qwen_grid(pts, w, h)
    assert to_grid([1.0, 0.25, 5.0, 1.75], 2000, 500) == [1, 1, 3, 4]


def _adversarial_polys(rng: random.Random) -> list[list[tuple[float, float]]]:
    square = [(0.0, 0.0), (0.0, 10.0), (10.0, 10.0), (10.0, 0.0)]
    return [
        square,
        square + [square[0]],  # closing vertex
        [(0.0, 0.0), (5.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)],  # collinear run
        [(0.0, 0.0), (10.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)],  # duplicate
        [(0.0, 0.0), (10.0, 0.0), (20.0, 0.0), (10.0, 0.0), (10.0, 10.0)],  # spike / back-tracking
        [(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)],  # all collinear
        [(5.0, 1.0), (1.0, 1.0), (3.0, 4.0), (9.0, 4.0)],  # ties on the smallest y
        [(rng.randint(0, 5) * 1.0, rng.randint(0, 5) * 1.0) for _ in range(7)],  # integer lattice, many ties
    ]


@pytest.mark.parametrize("seed", range(4))
def test_canonical_order_matches_the_geometry_package(seed: int) -> None:
    rng = random.Random(seed)
    shapes = _adversarial_polys(rng)
    for _ in range(150):
        k = rng.randint(3, 9)
        if rng.random() < 0.5:
            shapes.append([(float(rng.randint(0, 6)), float(rng.randint(0, 6))) for _ in range(k)])
        else:
            shapes.append([(rng.uniform(0, 800), rng.uniform(0, 600)) for _ in range(k)])
    for pts in shapes:
        for kind in ("poly", "line"):
            ours = canonicalize_pairs(kind, pts)
            theirs = pairs(canonicalize(kind, _flat(pts)))
            assert ours == theirs, (kind, pts)
            assert np.array_equal(np.asarray(_flat(ours)), np.asarray(canonicalize(kind, _flat(pts))))
