"""The shared training data layer without a model: stream order, length grouping, lengths policy, images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from vlmdata.config.run import RunConfig
from vlmdata.errors import VlmdataError
from vlmdata.io.dataset import save_records
from vlmdata.train.dataset import StreamBatchSampler, group_by_length, open_image, open_train_data


def make_dataset(
    root: Path, name: str, n: int, lengths: list[int] | None = None, domain: str = "BBU"
) -> Path:
    (root / "images").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        w, h = 64 + 16 * (i % 3), 48
        path = root / "images" / f"{name}_{i}.png"
        Image.new("RGB", (w, h), ((i * 37) % 255, 80, 120)).save(path)
        rec: dict[str, Any] = {
            "id": f"{name}-{i}",
            "images": [str(path)],
            "width": w,
            "height": h,
            "objects": [{"desc": "螺丝", "kind": "bbox_2d", "points": [2.0, 3.0, 20.0 + i, 30.0]}],
            "metadata": {"domain": domain},
            "source_file": f"{name}.jsonl",
            "source_line": i + 1,
        }
        if lengths is not None:
            rec["length"] = lengths[i]
        records.append(rec)
    return save_records(records, root / name / "data")


def run_config(tmp_path: Path, **sections: Any) -> RunConfig:
    data = {
        "model": {"path": str(tmp_path / "model")},
        "template": {"name": "target_dense_bbu"},
        "global_max_length": 1000,
        "training": {"output_dir": str(tmp_path / "run"), "seed": 7},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return RunConfig.model_validate(data)


def fake_encode(length_of: dict[str, int] | None = None):
    def encode(messages: list[dict[str, Any]], image_kwargs: dict[str, Any]) -> dict[str, Any]:
        text = messages[-1]["content"]
        ids = list(range(len(text)))
        return {
            "input_ids": ids,
            "labels": ids,
            "length": (length_of or {}).get(text, len(ids)),
            "messages": messages,
        }

    return encode


def test_epoch_order_is_a_seeded_permutation_per_epoch(tmp_path: Path) -> None:
    a = make_dataset(tmp_path, "a", 5)
    b = make_dataset(tmp_path, "b", 4)
    cfg = run_config(tmp_path, data={"train": [str(a), str(b)]})
    data = open_train_data(cfg)
    assert data.train.names == ["a", "b"]  # `X/data` folders are named after X
    e0, e0_again, e1 = data.train.order(0), open_train_data(cfg).train.order(0), data.train.order(1)
    pairs0 = sorted(zip(e0.source.tolist(), e0.index.tolist(), strict=True))
    assert pairs0 == [(0, i) for i in range(5)] + [(1, i) for i in range(4)]  # every record once per epoch
    assert np.array_equal(e0.source, e0_again.source) and np.array_equal(e0.index, e0_again.index)
    assert not (np.array_equal(e0.source, e1.source) and np.array_equal(e0.index, e1.index))
    other_seed = open_train_data(run_config(tmp_path, data={"train": [str(a), str(b)]}, training={"seed": 8}))
    assert not np.array_equal(other_seed.train.order(0).index, e0.index)


def test_length_grouping_is_deterministic_and_cuts_padding(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(50, 900, size=64).tolist()
    ds = make_dataset(tmp_path, "mix", 64, lengths=lengths)
    data = open_train_data(run_config(tmp_path, data={"train": [str(ds)]}))
    sampler = data.sampler(4, gradient_accumulation_steps=2)
    sampler.set_epoch(1)
    batches = list(sampler)
    positions = [key[1] for batch in batches for key in batch]
    assert sorted(positions) == list(range(64))  # each position exactly once
    assert all(key[0] == 1 for batch in batches for key in batch)
    steps = [batch[0][2] for batch in batches]
    assert steps == [8 + i // 2 for i in range(16)]  # epoch 1 starts at step updates_per_epoch = 8
    order_lengths = data.train.lengths(1)
    assert order_lengths is not None
    first = batches[0]
    assert max(order_lengths[k[1]] for k in first) == order_lengths.max()  # longest batch first
    twin = StreamBatchSampler(data.train, 4, gradient_accumulation_steps=2)
    twin.set_epoch(1)
    assert list(twin) == batches
    stats = sampler.padding_stats(1)
    assert stats["padding_tokens_grouped"] < 0.5 * stats["padding_tokens_plain"]


def test_group_by_length_sorts_within_megabatches() -> None:
    lengths = np.array([5, 1, 9, 3, 7, 2, 8, 4, 6, 6, 1, 1, 2, 10, 3, 3])
    batches = group_by_length(lengths, 16, 2)  # mult = 16 // (4*2) = 2: mega-batches of 4 positions
    # each mega-batch sorted longest first (ties keep stream order); the batch with the maximum (10 at 13) leads
    assert [b.tolist() for b in batches] == [
        [13, 14],
        [2, 0],
        [3, 1],
        [6, 4],
        [7, 5],
        [8, 9],
        [10, 11],
        [15, 12],
    ]
    plain = group_by_length(None, 5, 2)
    assert [b.tolist() for b in plain] == [[0, 1], [2, 3], [4]]


def test_ranks_shard_global_batches(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path, "r", 7, lengths=[10, 20, 30, 40, 50, 60, 70])
    data = open_train_data(run_config(tmp_path, data={"train": [str(ds)]}))
    r0 = StreamBatchSampler(data.train, 2, world_size=2, rank=0).rank_batches(0)
    r1 = StreamBatchSampler(data.train, 2, world_size=2, rank=1).rank_batches(0)
    assert len(r0) == len(r1) == 2 and all(len(b) == 2 for b in r0 + r1)
    seen = {p for b in r0 + r1 for p in b}
    assert seen == set(range(7))  # the short last global batch is filled from the epoch's start


def test_audited_over_length_refuses_to_start(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path, "long", 4, lengths=[100, 999, 1000, 1500])
    with pytest.raises(VlmdataError) as err:
        open_train_data(run_config(tmp_path, data={"train": [str(ds)]}))
    e = err.value
    assert e.code_str == "VD551"
    assert "2 train record(s)" in e.message
    assert any("long-2" in d and "1000" in d for d in e.details) and any("long-3" in d for d in e.details)
    assert not any("long-1" in d for d in e.details)  # 999 < 1000 fits


def test_runtime_over_length_stops_with_id_and_length(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path, "rt", 3)
    data = open_train_data(run_config(tmp_path, data={"train": [str(ds)]}, global_max_length=40))
    samples = data.samples(fake_encode(), "train")
    assert samples is not None
    position = int(np.flatnonzero(data.train.order(0).index == 2)[0])
    with pytest.raises(VlmdataError) as err:
        samples[(0, position, 0)]
    e = err.value
    assert e.code_str == "VD550" and e.where is not None and e.where.record_id == "rt-2"
    assert isinstance(e.value, int) and e.value >= 40 and "global_max_length=40" in e.message


def test_length_equal_to_limit_is_over_length(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path, "eq", 1)
    data = open_train_data(run_config(tmp_path, data={"train": [str(ds)]}, global_max_length=50))
    samples = data.samples(lambda m, k: {"input_ids": [0] * 50, "length": 50}, "train")
    assert samples is not None
    with pytest.raises(VlmdataError, match="VD550"):
        samples[0]
    ok = data.samples(lambda m, k: {"input_ids": [0] * 49, "length": 49}, "train")
    assert ok is not None and ok[0]["channel"] == "eq"


def test_missing_length_values_are_reported(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path, "nul", 2, lengths=[10, None])  # type: ignore[list-item]
    with pytest.raises(VlmdataError, match="VD556"):
        open_train_data(run_config(tmp_path, data={"train": [str(ds)]}))


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif)
    out = open_image(str(path), "r1", "ds")
    assert out.size == (20, 40) and out.mode == "RGB"
    with pytest.raises(VlmdataError, match="VD553"):
        open_image(str(tmp_path / "missing.png"), "r1", "ds")
    clear = Image.new("RGBA", (4, 4), (10, 20, 30, 0))
    clear.putpixel((0, 0), (10, 20, 30, 255))
    clear.save(tmp_path / "alpha.png")
    rgb = open_image(str(tmp_path / "alpha.png"), "r2", "ds")
    assert (
        rgb.mode == "RGB" and rgb.getpixel((0, 0)) == (10, 20, 30) and rgb.getpixel((1, 1)) == (255, 255, 255)
    )


def test_augmentation_on_train_split_only(tmp_path: Path) -> None:
    train = make_dataset(tmp_path, "tr", 2)
    val = make_dataset(tmp_path, "va", 2)
    aug = {"seed": 0, "bypass_prob": 0.0, "ops": [{"name": "hflip", "params": {"p": 1.0}}]}
    cfg = run_config(tmp_path, data={"train": [str(train)], "val": [str(val)]}, augmentation=aug)
    plain = open_train_data(run_config(tmp_path, data={"train": [str(train)], "val": [str(val)]}))
    data = open_train_data(cfg)
    enc = fake_encode()
    got, ref = data.samples(enc, "train"), plain.samples(enc, "train")
    assert got is not None and ref is not None
    a, b = got[(0, 0, 0)], ref[(0, 0, 0)]
    image_a = a["messages"][-2]["content"][0]["image"]
    assert isinstance(image_a, Image.Image)  # kept in memory, no temporary files
    assert a["messages"][-1]["content"] != b["messages"][-1]["content"]  # flipped boxes in the target
    va, vb = data.samples(enc, "val"), plain.samples(enc, "val")
    assert va is not None and vb is not None
    assert va[1]["messages"][-1]["content"] == vb[1]["messages"][-1]["content"]  # val is never augmented
    assert [va.sources.record(0, i)[1]["id"] for i in range(2)] == ["va-0", "va-1"]  # val keeps its order


def test_fusion_stream_follows_the_plan(tmp_path: Path) -> None:
    from vlmdata.fuse import load_fusion_config
    from vlmdata.fuse.plan import plan_epoch

    t = make_dataset(tmp_path, "tgt", 6, lengths=[30] * 6)
    s = make_dataset(tmp_path, "src", 10, lengths=[20] * 10)
    fusion = tmp_path / "fusion.yaml"
    fusion.write_text(
        json.dumps(
            {
                "seed": 3,
                "targets": [{"name": "bbu", "data": str(t)}],
                "sources": [{"name": "coco", "data": str(s), "ratio": 0.5}],
            }
        )
    )
    data = open_train_data(run_config(tmp_path, data={"fusion": str(fusion)}))
    plan = plan_epoch(load_fusion_config(fusion), {"bbu": 6, "coco": 10}, 1)
    order = data.train.order(1)
    assert len(order) == len(plan) == 9
    assert [data.train.names[i] for i in order.source] == [plan.names[i] for i in plan.entry]
    assert order.index.tolist() == plan.index.tolist()
    src, record = data.train.record(1, 0)
    meta = json.loads(record["metadata"])
    assert meta["_source"] == src.name and src.augment == (src.name == "bbu")
    assert data.multi_source and data.manifest()["train"]["fusion"]["seed"] == 3


def test_fused_dataset_keeps_per_record_sources(tmp_path: Path) -> None:
    from vlmdata.io.dataset import load_dataset

    ds = make_dataset(tmp_path, "fused", 4)
    rows = load_dataset(ds).to_list()
    for i, r in enumerate(rows):
        r["metadata"] = json.dumps({"domain": "BBU", "_source": "bbu" if i % 2 else "coco"})
    tagged = save_records(rows, tmp_path / "tagged" / "data")
    plain = open_train_data(run_config(tmp_path, data={"train": [str(ds)]}))
    assert not plain.multi_source  # one dataset, no tags: per-dataset metrics would repeat train/loss
    data = open_train_data(
        run_config(tmp_path, data={"train": [str(tagged)], "val": [str(ds.parent.parent / "fused" / "data")]})
    )
    assert data.multi_source and data.train.names == ["tagged"]
    samples = data.samples(fake_encode(), "train")
    assert samples is not None
    channels = {samples[(0, p, 0)]["channel"] for p in range(4)}
    assert channels == {"bbu", "coco"}
    val = data.samples(fake_encode(), "val")
    assert val is not None and val[0]["channel"] == "fused"


def test_fusion_entry_may_name_a_jsonl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fusion entry's `data` may be a JSONL, validated on the fly, as `vlmdata fuse` accepts it."""
    monkeypatch.setenv("VLMDATA_CACHE", str(tmp_path / "cache"))
    (tmp_path / "img").mkdir()
    lines = []
    for i in range(3):
        Image.new("RGB", (64, 48), (i * 60, 80, 120)).save(tmp_path / "img" / f"{i}.png")
        lines.append(
            json.dumps(
                {
                    "id": f"j{i}",
                    "images": [f"img/{i}.png"],
                    "width": 64,
                    "height": 48,
                    "objects": [{"desc": "螺丝", "bbox_2d": [2, 3, 20, 30]}],
                }
            )
        )
    jsonl = tmp_path / "raw.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fusion = tmp_path / "fusion.yaml"
    fusion.write_text(json.dumps({"seed": 1, "targets": [{"name": "raw", "data": str(jsonl)}]}))
    data = open_train_data(run_config(tmp_path, data={"fusion": str(fusion)}), check_lengths=False)
    assert len(data.train.order(0)) == 3
    _, record = data.train.record(0, 0)
    assert record["id"] in {"j0", "j1", "j2"} and record["images"][0].endswith(".png")


def test_a_fusion_entrys_jsonl_is_checked_under_the_runs_pixel_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run validates its fusion entries' JSONL under `data.max_image_pixels`, the limit it decodes under."""
    monkeypatch.setenv("VLMDATA_CACHE", str(tmp_path / "cache"))
    Image.new("RGB", (64, 48)).save(tmp_path / "a.png")  # 3,072 px
    line = {
        "images": ["a.png"],
        "width": 64,
        "height": 48,
        "objects": [{"desc": "螺丝", "bbox_2d": [2, 3, 20, 30]}],
    }
    jsonl = tmp_path / "raw.jsonl"
    jsonl.write_text(json.dumps(line) + "\n", encoding="utf-8")
    fusion = tmp_path / "fusion.yaml"
    fusion.write_text(json.dumps({"targets": [{"name": "raw", "data": str(jsonl), "val": str(jsonl)}]}))
    at_limit = run_config(tmp_path, data={"fusion": str(fusion), "max_image_pixels": 3072})
    data = open_train_data(at_limit, check_lengths=False)
    assert len(data.train.order(0)) == 1 and data.val is not None
    below = run_config(tmp_path, data={"fusion": str(fusion), "max_image_pixels": 3071})
    with pytest.raises(VlmdataError) as err:
        open_train_data(below, check_lengths=False)
    assert err.value.code_str == "VD522" and err.value.where.field == "raw.data"
    assert "VD306 images[0]" in err.value.details[0] and err.value.details[0].startswith(f"{jsonl}:1 ")


def _sized(root: Path, name: str, sizes: list[tuple[int, int]], metas: list[dict] | None = None) -> Path:
    (root / "images").mkdir(parents=True, exist_ok=True)
    records = []
    for i, (w, h) in enumerate(sizes):
        path = root / "images" / f"{name}_{i}.png"
        Image.new("RGB", (w, h), (90, 80, 70)).save(path)
        records.append(
            {
                "id": f"{name}-{i}",
                "images": [str(path)],
                "width": w,
                "height": h,
                "objects": [{"desc": "螺丝", "kind": "bbox_2d", "points": [0.0, 0.0, 4.0, 4.0]}],
                "metadata": {"domain": "BBU", **((metas or [{}] * len(sizes))[i])},
            }
        )
    return save_records(records, root / name / "data")


def test_images_the_resize_cannot_encode_refuse_the_run_before_step_one(tmp_path: Path) -> None:
    """Under max_pixels 65536 a 3000×32 image resizes to a side of 0 px: ms-swift would fail mid-run. The
    pre-flight names every such record (and one whose own max_pixels is too small) before anything loads."""
    ds = _sized(
        tmp_path,
        "thin",
        [(64, 48), (3000, 32), (3000, 48), (100, 80), (32, 3000)],
        [{}, {}, {}, {"min_pixels": 256, "max_pixels": 1000}, {}],
    )
    cfg = run_config(tmp_path, data={"train": [str(ds)]}, template={"max_pixels": 65536, "min_pixels": 3136})
    with pytest.raises(VlmdataError) as err:
        open_train_data(cfg)
    e = err.value
    assert e.code_str == "VD434" and "3 train record(s)" in e.message
    listed = "\n".join(e.details)
    assert all(f"thin-{i}" in listed for i in (1, 3, 4)) and "thin-2" not in listed and "thin-0" not in listed
    assert "needs max_pixels ≥ 96000" in listed and "needs max_pixels ≥ 1280" in listed
    # the default budget encodes the thin ones; the record's own max_pixels is still too small
    with pytest.raises(VlmdataError) as err:
        open_train_data(run_config(tmp_path, data={"train": [str(ds)]}))
    assert "1 train record(s)" in err.value.message and "thin-3" in "\n".join(err.value.details)


def test_an_augmented_canvas_is_checked_before_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Online augmentation may change the canvas (crop, resize, pad): the pixels about to be encoded are checked
    with the pre-flight's rule, naming the record, instead of failing inside the backend's encode."""
    import vlmdata.augment as augment
    from vlmdata.augment.pipeline import AugmentResult

    ds = _sized(tmp_path, "aug", [(256, 64)])
    cfg = run_config(
        tmp_path,
        data={"train": [str(ds)]},
        template={"max_pixels": 8192, "min_pixels": 1024},
        augmentation={"ops": [{"name": "hflip", "params": {"p": 1.0}}]},
    )
    data = open_train_data(cfg)  # the stored 256×64 fits 8192 pixels

    def thin_canvas(record: Any, images: Any, pipeline: Any, epoch: int, step: Any = None) -> AugmentResult:
        return AugmentResult([Image.new("RGB", (1024, 20))], [], {"ops": []}, 1024, 20)

    monkeypatch.setattr(augment, "augment_record", thin_canvas)
    samples = data.samples(fake_encode(), "train")
    assert samples is not None
    with pytest.raises(VlmdataError) as err:
        samples[(0, 0, 0)]
    assert err.value.code_str == "VD434" and "augmented, 1024×20" in err.value.message
    assert err.value.where is not None and err.value.where.record_id == "aug-0"


def test_samples_carry_user_templates_to_spawned_workers(tmp_path: Path) -> None:
    """A spawned dataloader worker unpickles the samples into a process that registered no template."""
    import pickle

    from vlmdata.render import templates, use_templates
    from vlmdata.train.data.samples import TrainSamples

    (tmp_path / "t.yaml").write_text(
        "name: carried\nuser: 'Find. {format}'\ntarget: qwen\n", encoding="utf-8"
    )
    use_templates([tmp_path / "t.yaml"])
    samples = TrainSamples.__new__(TrainSamples)
    samples.__dict__.update({"system": None, "train": True})
    blob = pickle.dumps(samples)
    templates._USER.clear()  # the state of a fresh process
    restored = pickle.loads(blob)
    assert restored.train is True and templates.get_template("carried").format == "qwen"


@pytest.mark.parametrize(
    ("target_val", "source_val", "eval_sources", "expected"),
    [
        (False, False, False, None),
        (True, False, False, ["bbu"]),
        (False, True, False, None),  # a source's val set is for `eval_sources: true` only
        (False, True, True, ["coco"]),
        (True, True, True, ["bbu", "coco"]),
        (True, True, False, ["bbu"]),
    ],
)
def test_the_evaluation_split_has_one_definition(
    tmp_path: Path, target_val: bool, source_val: bool, eval_sources: bool, expected: list[str] | None
) -> None:
    from vlmdata.fuse import load_fusion_config
    from vlmdata.train.dataset import has_val_data, split_entries

    t = make_dataset(tmp_path, "tgt", 3, lengths=[30] * 3)
    s = make_dataset(tmp_path, "src", 3, lengths=[20] * 3)
    tv = make_dataset(tmp_path, "tgtval", 2, lengths=[30] * 2)
    sv = make_dataset(tmp_path, "srcval", 2, lengths=[20] * 2)
    target: dict[str, Any] = {"name": "bbu", "data": str(t)}
    source: dict[str, Any] = {"name": "coco", "data": str(s), "ratio": 0.5}
    if target_val:
        target["val"] = str(tv)
    if source_val:
        source["val"] = str(sv)
    fusion = tmp_path / "fusion.yaml"
    fusion.write_text(json.dumps({"targets": [target], "sources": [source], "eval_sources": eval_sources}))
    config = run_config(tmp_path, data={"fusion": str(fusion)})
    data = open_train_data(config)
    # the opened split, the plugins' question (has_val_data) and the fusion reading agree with the table
    assert (data.val.names if data.val is not None else None) == expected
    assert has_val_data(config) is (expected is not None)
    assert [e.name for _, e, _ in split_entries(load_fusion_config(fusion), "val")] == (expected or [])


def test_the_run_decodes_images_under_data_max_image_pixels(tmp_path: Path) -> None:
    # images of 64×48 = 3072 px and 80×48 = 3840 px (make_dataset); the limit sits between them
    train = make_dataset(tmp_path, "big", 2, lengths=[30, 30])
    for limit, ok in ((3500, [True, False]), (3840, [True, True])):
        config = run_config(tmp_path, data={"train": [str(train)], "max_image_pixels": limit})
        data = open_train_data(config)
        samples = data.samples(fake_encode())
        assert samples is not None and samples.max_image_pixels == limit
        order = {data.train.record(0, p)[1]["width"]: p for p in range(2)}
        assert samples[order[64]]["length"] > 0
        if ok[1]:
            assert samples[order[80]]["length"] > 0
        else:
            with pytest.raises(VlmdataError) as err:
                samples[order[80]]
            text = str(err.value)
            assert err.value.code_str == "VD553" and "VD306" in text and "limit 3500" in text, text
            assert "big-1" in text
    # the default is validate's own limit
    default = open_train_data(run_config(tmp_path, data={"train": [str(train)]}))
    assert default.sample_options()["max_image_pixels"] == 89_478_485


@pytest.mark.train
def test_the_rollout_rows_take_the_same_limit(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from vlmdata_plugins.common.rows import open_rows

    train = make_dataset(tmp_path, "rows", 2, lengths=[30, 30])
    config = run_config(tmp_path, data={"train": [str(train)], "max_image_pixels": 3500})
    data = open_train_data(config)
    rows = open_rows(
        SimpleNamespace(vlmdata_data=data, template=None), "train", prompt_only=True, completion_budget=8
    )
    assert rows is not None and rows.max_image_pixels == 3500
    assert rows.pixel_bounds == data.sample_options()["pixel_bounds"]
    wide = next(p for p in range(2) if data.train.record(0, p)[1]["width"] == 80)
    with pytest.raises(VlmdataError, match="VD553"):
        rows.conversation(*data.train.record(0, wide))
