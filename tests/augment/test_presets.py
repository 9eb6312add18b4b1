"""The shipped presets in configs/augment/ load, say what they are for, and run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vlmdata.augment import AugmentPipeline, augment_record, load_augmentation_config

PRESETS = sorted((Path(__file__).resolve().parents[2] / "configs" / "augment").glob("*.yaml"))


def test_presets_exist():
    assert {p.name for p in PRESETS} >= {"grounding.yaml", "curriculum.yaml"}


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_preset_loads_documents_itself_and_runs(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ") and "vlmdata augment --config" in text
    cfg = load_augmentation_config(path)
    pipe = AugmentPipeline(cfg, total_steps=1000)
    rec = {
        "id": "x",
        "width": 160,
        "height": 120,
        "objects": [
            {"desc": "类别=BBU设备,可见性=完整", "kind": "bbox_2d", "points": [20.0, 20.0, 100.0, 90.0]}
        ],
    }
    img = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    for step in (0, 500, 1000):
        res = augment_record(rec, [img], pipe, epoch=1, step=step)
        assert res.images[0].shape == (res.height, res.width, 3)


def test_curriculum_preset_ramps_up():
    pipe = AugmentPipeline(
        load_augmentation_config(PRESETS[[p.name for p in PRESETS].index("curriculum.yaml")]), 10000
    )
    start, mid, end = (pipe.params_at(s) for s in (0, 3000, 9000))
    assert start.bypass_prob > mid.bypass_prob > end.bypass_prob == pytest.approx(0.1)
    assert start.params[1].angle_range[1] < mid.params[1].angle_range[1] < end.params[1].angle_range[1] == 10
