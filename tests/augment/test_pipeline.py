"""The record-level API: image types, shared parameters, visibility, drops, splits, bypass, provenance."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from vlmdata.augment import AugmentPipeline, augment_record
from vlmdata.errors import VlmdataError

W, H = 200, 100


def rec(objects, rid="r1", **extra):
    return {"id": rid, "width": W, "height": H, "objects": objects, "metadata": "{}", **extra}


def pipe(ops, **cfg):
    return AugmentPipeline.from_config({"ops": ops, **cfg})


SHIFT_RIGHT = [{"name": "translate", "params": {"p": 1.0, "shift_range": [0.25, 0.25]}}]  # +50 px, +25 px


def noise(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def test_image_types_round_trip_and_images_share_parameters():
    p = pipe([{"name": "rotate", "params": {"p": 1.0, "angle_range": [-30, 30]}}])
    img = noise()
    res = augment_record(rec([]), [Image.fromarray(img), img.copy()], p, epoch=0)
    assert isinstance(res.images[0], Image.Image) and isinstance(res.images[1], np.ndarray)
    assert np.array_equal(np.asarray(res.images[0]), res.images[1])  # one parameter set for all images
    assert not np.array_equal(res.images[1], img)
    gray = Image.fromarray(img[..., 0])  # non-RGB PIL input is converted
    assert augment_record(rec([]), [gray], p, epoch=0).images[0].mode == "RGB"


def test_visibility_rewrite_and_min_visibility():
    objs = [
        {
            "desc": "类别=BBU设备,可见性=完整",
            "kind": "bbox_2d",
            "points": [100.0, 10.0, 180.0, 50.0],
        },  # half leaves
        {
            "desc": "类别=螺丝,可见性=完整",
            "kind": "bbox_2d",
            "points": [10.0, 10.0, 40.0, 40.0],
        },  # stays inside
    ]
    res = augment_record(rec(objs), [noise()], pipe(SHIFT_RIGHT), epoch=0)
    descs = [o["desc"] for o in res.objects]
    assert descs == ["类别=BBU设备,可见性=部分", "类别=螺丝,可见性=完整"]
    assert res.objects[0]["points"] == [150.0, 35.0, 200.0, 75.0]
    assert res.provenance["rewritten"] == 1
    off = augment_record(rec(objs), [noise()], pipe(SHIFT_RIGHT, visibility_rewrite="none"), epoch=0)
    assert off.objects[0]["desc"] == objs[0]["desc"]
    strict = augment_record(rec(objs), [noise()], pipe(SHIFT_RIGHT, min_visibility=0.7), epoch=0)
    assert [o["desc"] for o in strict.objects] == ["类别=螺丝,可见性=完整"]
    assert strict.provenance["dropped"]["below_min_visibility"] == 1


def test_visibility_hook_changes_only_the_exact_token():
    from vlmdata.augment.pipeline import VISIBILITY_HOOKS

    hook = VISIBILITY_HOOKS["bbu"]
    assert hook("类别=BBU设备,可见性=完整,品牌=华为") == "类别=BBU设备,可见性=部分,品牌=华为"
    assert hook("类别=X,可见性=完整度高") == "类别=X,可见性=完整度高"
    assert hook("person") == "person"


def test_objects_pushed_out_are_dropped_and_counted():
    objs = [{"desc": "gone", "kind": "poly", "points": [160.0, 80.0, 199.0, 80.0, 199.0, 99.0]}]
    res = augment_record(rec(objs), [noise()], pipe(SHIFT_RIGHT), epoch=0)
    assert res.objects == []
    assert res.provenance["dropped"]["clipped_out"] == 1
    assert res.provenance["objects_in"] == 1 and res.provenance["objects_out"] == 0


@pytest.mark.parametrize("policy,pieces", [("split", 2), ("longest", 1)])
def test_line_leaving_and_reentering(policy, pieces):
    line = {
        "desc": "cable",
        "kind": "line",
        "points": [20.0, 10.0, 60.0, 90.0, 100.0, 10.0],
        "image_index": 0,
    }
    res = augment_record(rec([line]), [noise()], pipe(SHIFT_RIGHT, line_split=policy), epoch=0)
    # the shift moves the V's tip to y = 115, below the canvas: the line leaves and comes back
    assert len(res.objects) == pieces
    assert all(o["desc"] == "cable" and o["kind"] == "line" for o in res.objects)
    assert res.provenance["split"] == pieces - 1


def test_bbox_rotation_policy():
    box = {"desc": "b", "kind": "bbox_2d", "points": [60.0, 30.0, 140.0, 70.0]}
    rot = [{"name": "rotate", "params": {"p": 1.0, "angle_range": [30, 30]}}]
    poly = augment_record(rec([box]), [noise()], pipe(rot), epoch=0)
    enc = augment_record(rec([box]), [noise()], pipe(rot, bbox_rotation="enclose"), epoch=0)
    assert poly.objects[0]["kind"] == "poly" and len(poly.objects[0]["points"]) >= 8
    assert enc.objects[0]["kind"] == "bbox_2d" and len(enc.objects[0]["points"]) == 4
    x1, y1, x2, y2 = enc.objects[0]["points"]
    xs, ys = poly.objects[0]["points"][::2], poly.objects[0]["points"][1::2]
    assert (x1, y1, x2, y2) == pytest.approx((min(xs), min(ys), max(xs), max(ys)))


def test_bypass_and_probability():
    img = noise()
    always = pipe([{"name": "hflip", "params": {"p": 1.0}}], bypass_prob=1.0)
    res = augment_record(rec([]), [img], always, epoch=0)
    assert res.provenance["bypassed"] and res.images[0] is img
    half = pipe([{"name": "hflip", "params": {"p": 1.0}}], bypass_prob=0.5)
    bypassed = sum(
        augment_record(rec([], rid=f"r{i}"), [img], half, 0).provenance["bypassed"] for i in range(200)
    )
    assert 70 < bypassed < 130
    never = pipe([{"name": "hflip", "params": {"p": 0.0}}])
    res = augment_record(rec([]), [img], never, epoch=0)
    assert res.provenance["ops"] == [{"name": "hflip", "applied": False, "params": {}}]
    assert np.array_equal(res.images[0], img)


def test_epoch_changes_draws_and_apply_to_records_provenance():
    p = pipe([{"name": "rotate", "params": {"p": 1.0, "angle_range": [-45, 45]}}], seed=5)
    angles = {
        augment_record(rec([]), [noise()], p, epoch=e).provenance["ops"][0]["params"]["angle"]
        for e in range(4)
    }
    assert len(angles) == 4
    res = augment_record(rec([]), [noise()], p, epoch=1)
    out = res.apply_to(rec([], metadata=json.dumps({"k": 1})))
    meta = json.loads(out["metadata"])
    assert meta["k"] == 1 and meta["_augment"]["epoch"] == 1 and meta["_augment"]["seed"] == 5


def test_bad_inputs_are_clear_errors():
    p = pipe([{"name": "hflip", "params": {"p": 1.0}}])
    with pytest.raises(VlmdataError, match="VD220"):
        augment_record(rec([]), [np.zeros((50, 50, 3), np.uint8)], p, epoch=0)
    box = {"desc": "x", "kind": "bbox_2d", "points": [1.0, 2.0, 3.0]}
    with pytest.raises(VlmdataError, match=r"VD211 id=r1 objects\[0\]"):
        augment_record(rec([box]), [noise()], p, epoch=0)
    nan_line = {"desc": "x", "kind": "line", "points": [1.0, 2.0, float("nan"), 3.0]}
    with pytest.raises(VlmdataError, match="VD212"):
        augment_record(rec([nan_line]), [noise()], p, epoch=0)
    with pytest.raises(VlmdataError, match="VD210"):
        augment_record(rec([{"desc": "x", "kind": "circle", "points": [1.0, 2.0]}]), [noise()], p, epoch=0)
    with pytest.raises(VlmdataError, match="VD221"):
        augment_record(rec([{"desc": "x", "points": [1.0, 2.0]}]), [noise()], p, epoch=0)
    with pytest.raises(VlmdataError, match="VD221"):
        augment_record({"width": W, "height": H, "objects": []}, [noise()], p, epoch=0)


def test_inverse_ops_in_one_pipeline_round_trip():
    objs = [
        {"desc": "b", "kind": "bbox_2d", "points": [30.0, 20.0, 90.0, 70.0]},
        {"desc": "p", "kind": "poly", "points": [120.0, 20.0, 170.0, 35.0, 150.0, 80.0]},
        {"desc": "l", "kind": "line", "points": [10.0, 90.0, 100.0, 80.0, 190.0, 95.0]},
    ]
    img = noise()
    flips = [{"name": "hflip", "params": {"p": 1.0}}, {"name": "hflip", "params": {"p": 1.0}}]
    res = augment_record(rec(objs), [img], pipe(flips), epoch=0)
    assert res.provenance["warps"] == 0 and np.array_equal(res.images[0], img)  # composed to the identity
    assert [o["points"] for o in res.objects] == [o["points"] for o in objs]
    turns = [
        {"name": "rotate", "params": {"p": 1.0, "angle_range": [17.0, 17.0]}},
        {"name": "rotate", "params": {"p": 1.0, "angle_range": [-17.0, -17.0]}},
    ]
    res = augment_record(rec(objs), [img], pipe(turns), epoch=0)
    assert [o["kind"] for o in res.objects] == ["bbox_2d", "poly", "line"]  # the box stays a box
    for got, want in zip(res.objects, objs, strict=True):
        assert np.abs(np.subtract(got["points"], want["points"])).max() < 1e-6
