"""The per-epoch stream of the rollout trainers, `data.sample_limit`, JSONL training sets and the per-epoch
prompt of irrelevant records — without a model (trl's and accelerate's samplers serve as the oracle)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from vlmdata.train.dataset import RolloutBatchSampler, open_train_data

sys.path.insert(0, str(Path(__file__).parent))
from test_dataset import fake_encode, make_dataset, run_config  # noqa: E402  (shared fixtures)


class FakeSources:
    """`n` positions per epoch; the sampler only asks for the length of an epoch's order."""

    def __init__(self, n: int) -> None:
        self.n = n

    def order(self, epoch: int) -> Any:
        return np.zeros(self.n)


def oracle(n: int, prompts: int, mini: int, repeat: int, world: int) -> list[list[list[int]]]:
    """Per rank, the positions of each micro-batch as ms-swift's trainers read them: trl's RepeatSampler over
    the stream (no shuffle: the stream is already that epoch's order) batched and sharded by accelerate."""
    from accelerate.data_loader import BatchSamplerShard
    from torch.utils.data import BatchSampler
    from trl.trainer.utils import RepeatSampler

    per_rank = prompts * mini // world
    out = []
    for rank in range(world):
        sampler = RepeatSampler(list(range(n)), mini, batch_size=prompts, repeat_count=repeat, shuffle=False)
        batches = BatchSampler(sampler, per_rank, drop_last=False)
        out.append([list(b) for b in BatchSamplerShard(batches, world, rank, split_batches=False)])
    return out


LAYOUTS = [
    # (n, prompts per round, mini repeat, round repeat, world, gradient accumulation)
    (8, 2, 4, 1, 1, 1),  # GRPO: 2 prompts x 4 generations, one micro-batch per round
    (12, 2, 4, 2, 2, 2),  # GRPO on 2 ranks: generation batch reused for 2 micro-batches
    (12, 3, 2, 3, 3, 3),  # GRPO, num_iterations 3
    (10, 2, 1, 1, 2, 1),  # GKD on 2 ranks: per_device 1
    (9, 3, 1, 1, 1, 2),  # GKD, gradient accumulation 2
]


@pytest.mark.train
@pytest.mark.parametrize(("n", "prompts", "mini", "repeat", "world", "ga"), LAYOUTS)
def test_rollout_batches_have_the_layout_of_ms_swifts_samplers(
    n: int, prompts: int, mini: int, repeat: int, world: int, ga: int
) -> None:
    expected = oracle(n, prompts, mini, repeat, world)
    for rank in range(world):
        sampler = RolloutBatchSampler(
            FakeSources(n),
            prompts_per_round=prompts,
            mini_repeat=mini,
            round_repeat=repeat,
            world_size=world,
            rank=rank,
            gradient_accumulation_steps=ga,
        )
        per_epoch = sampler.updates_per_epoch()
        assert per_epoch == -(-len(expected[rank]) // ga)
        for epoch in (0, 3):
            sampler.set_epoch(epoch)
            got = list(sampler)
            assert len(got) == len(sampler) == len(expected[rank])
            assert [[p for _, p, _ in b] for b in got] == expected[rank]
            for i, batch in enumerate(got):
                round_first = i // repeat * repeat  # every repeat of a round carries the round's first step
                assert {(e, s) for e, _, s in batch} == {(epoch, epoch * per_epoch + round_first // ga)}


@pytest.mark.parametrize(("n", "prompts", "world"), [(7, 3, 1), (5, 4, 2), (2, 4, 2), (1, 2, 1)])
def test_short_last_round_is_filled_from_the_start_of_the_epoch(n: int, prompts: int, world: int) -> None:
    sampler = RolloutBatchSampler(FakeSources(n), prompts_per_round=prompts, mini_repeat=2, world_size=world)
    seen = [p for r in range(world) for b in _rank(sampler, r) for _, p, _ in b]
    rounds = -(-n // prompts)
    assert sorted(set(seen)) == list(range(n))  # nothing of the epoch is skipped
    assert len(seen) == rounds * prompts * 2  # every round full: whole groups on every rank
    assert [p for r in sampler.rounds(0) for p in r] == [i % n for i in range(rounds * prompts)]


def _rank(sampler: RolloutBatchSampler, rank: int) -> list[list[tuple[int, int, int]]]:
    sampler.rank = rank
    sampler_batch = sampler.batch_size
    assert sampler_batch * sampler.world_size == sampler.prompts_per_round * sampler.mini_repeat
    return list(sampler)


def test_rollout_sampler_refuses_a_round_that_does_not_split() -> None:
    with pytest.raises(ValueError, match="do not split"):
        RolloutBatchSampler(FakeSources(4), prompts_per_round=3, world_size=2)
    assert list(RolloutBatchSampler(FakeSources(0), prompts_per_round=2)) == []


def _fusion(tmp_path: Path, t: Path, s: Path, **extra: Any) -> Path:
    fusion = tmp_path / "fusion.yaml"
    fusion.write_text(
        json.dumps(
            {
                "seed": 3,
                "targets": [{"name": "bbu", "data": str(t), "ratio": 2.0}],
                "sources": [{"name": "coco", "data": str(s), "ratio": 0.5}],
                **extra,
            }
        )
    )
    return fusion


def test_sample_limit_keeps_each_datasets_first_positions_after_the_plan(tmp_path: Path) -> None:
    t = make_dataset(tmp_path, "tgt", 6)
    s = make_dataset(tmp_path, "src", 10)
    fusion = _fusion(tmp_path, t, s)
    full = open_train_data(run_config(tmp_path, data={"fusion": str(fusion)}))
    small = open_train_data(run_config(tmp_path, data={"fusion": str(fusion), "sample_limit": 4}))
    for epoch in (0, 1):
        order, limited = full.train.order(epoch), small.train.order(epoch)
        names = full.train.names
        assert order.counts(names) == {"bbu": 12, "coco": 6}  # the plan: ratio 2 of 6, 0.5 of 12 targets
        assert limited.counts(names) == {"bbu": 4, "coco": 4}
        kept = [
            p for i in range(2) for p in np.flatnonzero(order.source == i)[:4].tolist()
        ]  # first 4 positions of each dataset, in stream order
        assert limited.planned is not None and limited.planned.tolist() == sorted(kept)
        for position, planned in enumerate(limited.planned.tolist()):
            assert small.train.record(epoch, position)[1]["id"] == full.train.record(epoch, planned)[1]["id"]
    assert small.train.order(0).planned.tolist() != small.train.order(1).planned.tolist()  # per epoch
    manifest = small.manifest()["train"]
    assert manifest["sample_limit"] == 4 and manifest["epoch_0"] == {
        "length": 8,
        "counts": {"bbu": 4, "coco": 4},
    }


def test_sample_limit_on_plain_datasets_and_evaluation_sets(tmp_path: Path) -> None:
    a, b = make_dataset(tmp_path, "a", 5), make_dataset(tmp_path, "b", 3)
    val = make_dataset(tmp_path, "v", 6)
    cfg = run_config(tmp_path, data={"train": [str(a), str(b)], "val": [str(val)], "sample_limit": 2})
    data = open_train_data(cfg)
    full = open_train_data(run_config(tmp_path, data={"train": [str(a), str(b)]}))
    order = full.train.order(1)
    assert data.train.order(1).counts(["a", "b"]) == {"a": 2, "b": 2}
    firsts = [p for i in range(2) for p in np.flatnonzero(order.source == i)[:2].tolist()]
    assert [data.train.record(1, p)[1]["id"] for p in range(4)] == [
        full.train.record(1, p)[1]["id"] for p in sorted(firsts)
    ]
    assert data.val is not None and [
        data.val.record(0, p)[1]["id"] for p in range(len(data.val.order(0)))
    ] == [
        "v-0",
        "v-1",
    ]
    with pytest.raises(Exception, match="greater than 0"):
        run_config(tmp_path, data={"train": [str(a)], "sample_limit": 0})


def test_a_jsonl_training_set_is_validated_on_the_fly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLMDATA_CACHE", str(tmp_path / "cache"))
    (tmp_path / "img").mkdir()
    rows = []
    for i in range(3):
        Image.new("RGB", (64, 48), (i * 60, 80, 120)).save(tmp_path / "img" / f"{i}.png")
        rows.append(
            {
                "id": f"j{i}",
                "images": [f"img/{i}.png"],
                "width": 64,
                "height": 48,
                "objects": [{"desc": "螺丝", "bbox_2d": [2, 3, 20, 30]}],
            }
        )
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    data = open_train_data(run_config(tmp_path, data={"train": [str(jsonl)]}), check_lengths=False)
    assert data.train.names == ["train"]
    assert sorted(data.train.record(0, p)[1]["id"] for p in range(3)) == ["j0", "j1", "j2"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**rows[0], "width": -1}) + "\n", encoding="utf-8")
    with pytest.raises(Exception, match="reject|VD"):
        open_train_data(run_config(tmp_path, data={"train": [str(bad)]}), check_lengths=False)


def _irrelevant(root: Path, n: int) -> Path:
    (root / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), (10, 80, 120)).save(root / "images" / "x.png")
    records = [
        {
            "id": f"irr-{i}",
            "images": [str(root / "images" / "x.png")],
            "width": 64,
            "height": 48,
            "objects": [],
            "summary": "无关图片",
            "source_file": "i.jsonl",
            "source_line": i + 1,
        }
        for i in range(n)
    ]
    from vlmdata.io.dataset import save_records

    return save_records(records, root / "irr" / "data")


def test_irrelevant_records_alternate_between_the_domain_prompts_per_epoch(tmp_path: Path) -> None:
    from vlmdata.render import epoch_template, get_template

    record = {"id": "x", "summary": "无关图片"}
    picks = {
        epoch: [epoch_template({**record, "id": f"r{i}"}, "summary", 7, epoch) for i in range(400)]
        for epoch in range(3)
    }
    for epoch, chosen in picks.items():
        assert set(chosen) == {"summary_bbu", "summary_rru"}
        assert 160 <= chosen.count("summary_bbu") <= 240, epoch  # about half each
    assert picks[0] != picks[1] and picks[1] != picks[2]  # a record's prompt changes between epochs
    assert picks[0] == [epoch_template({**record, "id": f"r{i}"}, "summary", 7, 0) for i in range(400)]
    assert epoch_template(record, "summary", 8, 0) in ("summary_bbu", "summary_rru")
    # only irrelevant records under the generic template
    assert epoch_template({"id": "x", "summary": "{}"}, "summary", 7, 0) == "summary"
    assert epoch_template(record, "summary_rru", 7, 0) == "summary_rru"
    assert epoch_template(record, "target_dense", 7, 0) == "target_dense"

    ds = _irrelevant(tmp_path, 24)
    data = open_train_data(
        run_config(tmp_path, template={"name": "summary"}, data={"train": [str(ds)], "val": [str(ds)]})
    )
    train, val = data.samples(fake_encode(), "train"), data.samples(fake_encode(), "val")
    assert train is not None and val is not None
    prompts = {get_template(n).prompt(1): n for n in ("summary", "summary_bbu", "summary_rru")}
    for epoch in (0, 1):
        seen = []
        for position in range(24):
            messages = train[(epoch, position, 0)]["messages"]
            user = messages[-2]["content"][-1]["text"]
            assert messages[-1]["content"] == "无关图片"  # the label: one line, no header, no prefix
            source, rec = data.train.record(epoch, position)
            assert prompts[user] == epoch_template(rec, "summary", 7, epoch)
            seen.append(prompts[user])
        assert set(seen) == {"summary_bbu", "summary_rru"}
    assert (
        prompts[val[0]["messages"][-2]["content"][-1]["text"]] == "summary"
    )  # evaluation keeps its template


@pytest.mark.train
def test_generic_summary_prompt_is_the_longest(tiny_model_dir: Path) -> None:
    """`vlmdata audit` counts irrelevant records with the generic prompt: an upper bound of both domain ones."""
    from transformers import AutoTokenizer

    from vlmdata.render import get_template

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    n = {
        t: len(tok(get_template(t).prompt(1))["input_ids"]) for t in ("summary", "summary_bbu", "summary_rru")
    }
    assert n["summary"] >= max(n["summary_bbu"], n["summary_rru"]), n


def test_draw_log_lines_dedupe_and_trim(tmp_path: Path) -> None:
    from vlmdata_plugins.common.draws import DrawLog, draw_line, trim_draws

    def row(epoch: int, position: int, step: int, applied: bool) -> dict[str, Any]:
        prov = {
            "bypassed": False,
            "ops": [
                {"name": "hflip", "applied": applied, "params": {}},
                {"name": "rotate", "applied": True, "params": {"angle": 1.23456789}},
            ],
        }
        meta = {"_template": "target_dense_bbu", "_augment": prov}
        record = {"id": f"r{position}", "metadata": json.dumps(meta)}
        return {
            "vlmdata_key": [epoch, position, step],
            "vlmdata_record": json.dumps(record),
            "channel": "bbu",
        }

    line = draw_line(row(1, 2, 5, True))
    assert line == {
        "step": 5,
        "epoch": 1,
        "position": 2,
        "id": "r2",
        "source": "bbu",
        "template": "target_dense_bbu",
        "augment": [{"name": "hflip", "params": {}}, {"name": "rotate", "params": {"angle": 1.234568}}],
    }
    log = DrawLog(tmp_path, 0)
    group = [row(0, 0, 0, True)] * 4 + [row(0, 1, 0, False)] * 4  # 2 prompts x 4 generations
    log.record(group)
    log.record(group)  # the round read again for the next micro-batch
    log.record([row(0, 2, 1, True)])
    log.record([row(1, 0, 2, True)])
    lines = [json.loads(x) for x in (tmp_path / "draws" / "rank-0.jsonl").read_text().splitlines()]
    assert [(d["epoch"], d["position"], d["step"]) for d in lines] == [
        (0, 0, 0),
        (0, 1, 0),
        (0, 2, 1),
        (1, 0, 2),
    ]
    trim_draws(tmp_path, 2)  # resumed from checkpoint-2: steps 0 and 1 were consumed
    kept = [json.loads(x)["step"] for x in (tmp_path / "draws" / "rank-0.jsonl").read_text().splitlines()]
    assert kept == [0, 0, 1]
    assert draw_line({"channel": "x"}) is None
