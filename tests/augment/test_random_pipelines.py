"""Hypothesis over whole pipelines: random op parameters and objects → outputs inside the canvas, finite,
canonical, non-degenerate; visibility only shrinks; the same draw twice gives the same bytes."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlmdata.augment import AugmentPipeline, augment_record
from vlmdata.geometry import KERNELS, canonicalize

W, H = 64, 48
IMG = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)

coord_x = st.floats(0, W, allow_nan=False)
coord_y = st.floats(0, H, allow_nan=False)
point = st.tuples(coord_x, coord_y)


@st.composite
def objects(draw):
    out = []
    for k in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["bbox_2d", "poly", "line"]))
        if kind == "bbox_2d":
            (x1, y1), (x2, y2) = draw(point), draw(point)
            if abs(x2 - x1) < 1 or abs(y2 - y1) < 1:
                continue
            pts = [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]
        else:
            ps = np.array(draw(st.lists(point, min_size=3 if kind == "poly" else 2, max_size=7)))
            if kind == "poly":
                c = ps.mean(axis=0)
                ps = ps[np.argsort(np.arctan2(ps[:, 1] - c[1], ps[:, 0] - c[0]))]  # simple polygon
            pts = ps.reshape(-1).tolist()
        out.append({"desc": f"类别=o{k},可见性=完整", "kind": kind, "points": pts})
    return out


ops = st.lists(
    st.sampled_from(
        [
            {"name": "hflip", "params": {"p": 1.0}},
            {"name": "vflip", "params": {"p": 1.0}},
            {"name": "rotate", "params": {"p": 1.0, "angle_range": [-180, 180]}},
            {"name": "scale", "params": {"p": 1.0, "scale_range": [0.5, 2.0]}},
            {"name": "translate", "params": {"p": 1.0, "shift_range": [-0.5, 0.5]}},
            {"name": "crop", "params": {"p": 1.0, "size_range": [0.3, 1.0]}},
            {"name": "resize", "params": {"p": 1.0, "scale_range": [0.5, 1.5], "align_multiple": 4}},
            {"name": "expand_to_fit", "params": {"multiple": 8, "max_pixels": 6000}},
            {"name": "pad_to_multiple", "params": {"multiple": 16}},
        ]
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    objects(),
    ops,
    st.sampled_from(["poly", "enclose"]),
    st.sampled_from(["split", "longest"]),
    st.integers(0, 3),
)
def test_random_pipelines_keep_every_invariant(objs, op_list, policy, split, epoch):
    cfg = {"ops": op_list, "bbox_rotation": policy, "line_split": split, "seed": 5}
    rec = {"id": "h", "width": W, "height": H, "objects": objs}
    res = augment_record(rec, [IMG], AugmentPipeline.from_config(cfg), epoch=epoch)
    again = augment_record(rec, [IMG], AugmentPipeline.from_config(cfg), epoch=epoch)
    assert res.images[0].tobytes() == again.images[0].tobytes() and res.objects == again.objects
    assert res.images[0].shape == (res.height, res.width, 3)
    dropped = sum(res.provenance["dropped"].values())
    assert len(res.objects) == len(objs) - dropped + res.provenance["split"]
    for o in res.objects:
        pts = np.asarray(o["points"]).reshape(-1, 2)
        assert np.isfinite(pts).all()
        assert pts[:, 0].min() >= 0 and pts[:, 0].max() <= res.width
        assert pts[:, 1].min() >= 0 and pts[:, 1].max() <= res.height
        assert not KERNELS["degenerate"][o["kind"]](pts)
        assert canonicalize(o["kind"], o["points"]) == o["points"]
        assert o["desc"].replace("可见性=部分", "可见性=完整") in {x["desc"] for x in objs}
