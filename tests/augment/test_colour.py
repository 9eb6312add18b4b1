"""Colour kernels: the fused colour jitter equals its parts applied one by one; identities are identities."""

from __future__ import annotations

import numpy as np
import pytest

from vlmdata.augment import colour

IMG = np.random.default_rng(3).integers(0, 256, (64, 80, 3), dtype=np.uint8)


@pytest.mark.parametrize("b,c,s", [(1.1, 0.9, 1.0), (0.6, 1.4, 1.0), (1.3, 1.0, 0.5), (0.9, 1.2, 1.4)])
def test_fused_jitter_equals_sequential(b, c, s):
    fused = colour.color_jitter(IMG, b, c, s, 0.0)
    seq = colour.saturation(colour.contrast(colour.brightness(IMG, b), c), s)
    assert np.abs(fused.astype(int) - seq).max() <= 1  # saturation: float matrix vs uint8 blend rounding


def test_identities_and_hue_keeps_grey():
    assert colour.color_jitter(IMG, 1.0, 1.0, 1.0, 0.0) is IMG
    grey = np.full((4, 4, 3), 90, np.uint8)
    assert (
        np.abs(colour.color_jitter(grey, 1.0, 1.0, 1.0, 0.25).astype(int) - 90).max() <= 1
    )  # no chroma to turn
    assert colour.gamma(IMG, 1.0) is IMG and colour.sharpness(IMG, 1.0) is IMG
    red = np.full((1, 1, 3), (200, 40, 40), np.uint8)
    assert not np.array_equal(colour.color_jitter(red, 1.0, 1.0, 1.0, 0.1), red)


def test_auto_contrast_stretches_and_jpeg_round_trips_in_memory():
    low = (IMG // 4 + 60).astype(np.uint8)
    out = colour.auto_contrast(low)
    assert out.min() == 0 and out.max() == 255
    jpg = colour.jpeg_quality(IMG, 30)
    assert jpg.shape == IMG.shape and jpg.dtype == np.uint8 and not np.array_equal(jpg, IMG)
