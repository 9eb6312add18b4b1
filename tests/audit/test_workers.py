"""`audit` over several workers (and Ray) gives the report of one process: the same lengths, image tokens,
ids, sources and unsizable records in the same order, whatever the row ranges."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import vlmdata.audit.shard as shard
from vlmdata.audit.audit import audit_dataset
from vlmdata.io.engine import EngineOptions

from .test_audit import _config, _rec


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vlmdata.models.tokenizer import build_backend_tokenizer

    out = tmp_path_factory.mktemp("tok")
    build_backend_tokenizer().save(str(out / "tokenizer.json"))
    return out


@pytest.fixture(scope="module")
def datasets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two datasets: one with several sources and records that cannot be sized, spread over the rows."""
    from vlmdata.io.dataset import save_records

    root = tmp_path_factory.mktemp("audit-workers")
    first = []
    for i in range(1500):
        rec = _rec(f"a{i}", 1 + i % 23, size=(1024 - (i % 7) * 64, 768))
        if i % 5 == 0:
            rec["metadata"] = json.dumps({"_source": f"src{i % 3}"})
        if i % 211 == 17:
            rec.update(width=20000, height=20)  # too thin to encode: an error, collected in row order
        first.append(rec)
    save_records(first, root / "one")
    save_records([_rec(f"b{i}", 2 + i % 11) for i in range(700)], root / "two" / "data")
    return root


def _audit(root: Path, tokenizer_dir: Path, engine: EngineOptions) -> dict:
    cfg = _config(root, tokenizer_dir, 1400)
    report = audit_dataset([str(root / "one"), str(root / "two")], cfg, engine=engine)
    out = report.to_dict()
    out.pop("seconds")
    out["_arrays"] = [
        (d.ids, d.sources, d.lengths.tolist(), d.image_tokens.tolist()) for d in report.datasets
    ]
    return out


@pytest.fixture
def small_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shard, "MIN_ROWS_PER_SHARD", 50)
    monkeypatch.setattr(shard, "PARALLEL_MIN_ROWS", 100)
    monkeypatch.setattr(shard, "ROWS_PER_SHARD", 170)  # many shards, cutting both datasets mid-way


def test_workers_give_the_report_of_one_process(
    datasets_dir: Path, tokenizer_dir: Path, small_shards
) -> None:
    one = _audit(datasets_dir, tokenizer_dir, EngineOptions(workers=1))
    assert one["errors"] and len({e["id"] for e in one["errors"]}) > 3 and len(one["stats"]) > 3
    assert one["over_limit"] and one["count"] == 2200
    for workers in (2, 3):
        assert _audit(datasets_dir, tokenizer_dir, EngineOptions(workers=workers)) == one


def test_plans_cover_every_row_once() -> None:
    tasks = shard.plan("/d", "d", 10_001, 4, None, True)
    assert tasks[0].start == 0 and tasks[-1].stop == 10_001
    assert all(a.stop == b.start for a, b in zip(tasks, tasks[1:], strict=False))
    assert len(tasks) >= 4 and all(t.path == "/d" for t in tasks)
    assert [(t.start, t.stop) for t in shard.plan("/d", "d", 0, 4, None, True)] == [(0, 0)]


@pytest.mark.ray
def test_ray_gives_the_report_of_one_process(
    datasets_dir: Path, tokenizer_dir: Path, small_shards, ray_cluster: str
) -> None:
    one = _audit(datasets_dir, tokenizer_dir, EngineOptions(workers=1))
    distributed = _audit(datasets_dir, tokenizer_dir, EngineOptions(engine="ray", ray_address=ray_cluster))
    assert distributed == one
    assert np.array_equal(distributed["_arrays"][0][2], one["_arrays"][0][2])
