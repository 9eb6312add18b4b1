"""`augment` on several workers (and as Ray tasks) writes the same bytes as on one.

The input mixes what a shard must not see differently from a single pass: records whose images are missing,
truncated or of another size than the record says (skipped under their codes, with examples), a chat-only
record (nothing to augment), chat records with images, PNG and JPEG sources, a repeated id whose two records
fall in different shards, and the grounding preset's crop/drop/bypass/line-split paths. Shards are made tiny
so every worker count splits the input differently.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import vlmdata.augment.offline as offline
from vlmdata.augment.offline import augment_dataset
from vlmdata.io.dataset import save_records
from vlmdata.io.engine import EngineOptions
from vlmdata.io.output import MARKER

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "augment" / "grounding.yaml"


def _image(path: Path, w: int, h: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def make_input(root: Path, n: int = 40) -> Path:
    rng = random.Random(3)
    records: list[dict[str, Any]] = []
    for i in range(n):
        w, h = rng.choice([(64, 48), (48, 64), (90, 30)])
        path = root / f"img{i}.{'png' if i % 4 == 0 else 'jpg'}"
        _image(path, w, h, i)
        x, y = rng.uniform(0, w - 20), rng.uniform(0, h - 20)
        objects = [
            {"desc": "类别=BBU设备,可见性=完整", "kind": "bbox_2d", "points": [x, y, x + 15, y + 12]},
            {"desc": "类别=线缆", "kind": "line", "points": [1.0, 2.0, w - 1.0, h / 2, 3.0, h - 1.0]},
        ]
        if i % 3 == 0:
            objects.append(
                {"desc": "类别=标签", "kind": "poly", "points": [x, y, x + 9, y + 1, x + 4, y + 8]}
            )
        rec: dict[str, Any] = {
            "id": f"r{i}",
            "images": [str(path)],
            "width": w,
            "height": h,
            "objects": objects,
            "source_file": "in.jsonl",
            "source_line": i + 1,
        }
        if i == 7:
            rec["images"] = [str(root / "missing.jpg")]  # VD300: skipped with an example
        elif i == 11:
            path.write_bytes(path.read_bytes()[:200])  # truncated: unreadable
        elif i == 15:
            rec["width"] = w + 3  # the image has another size: VD220 per copy
        elif i == 19:
            rec = {
                "id": "chat-only",
                "images": [],
                "messages": json.dumps([{"role": "user", "content": "hi"}]),
                "source_file": "in.jsonl",
                "source_line": i + 1,
            }
        elif i == 23:
            rec["objects"] = []
            rec["summary"] = "无关图片"
            rec["messages"] = json.dumps(
                [
                    {
                        "role": "user",
                        "content": [{"type": "image", "image": str(path)}, {"type": "text", "text": "?"}],
                    },
                    {"role": "assistant", "content": "ok"},
                ]
            )
        elif i == 31:
            rec["id"] = "r2"  # the id of an earlier record, several shards before
        records.append(rec)
    return save_records(records, root / "ds")


def tree(folder: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.name == MARKER:
                marker = json.loads(data)
                marker.pop("time")
                data = json.dumps(marker, sort_keys=True).encode()
            out[str(p.relative_to(folder))] = data
    return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_input(tmp_path_factory.mktemp("augment-workers"))


@pytest.fixture(autouse=True)
def _tiny_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offline, "PARALLEL_MIN_COPIES", 0)
    monkeypatch.setattr(offline, "MAX_COPIES_PER_SHARD", 5)
    monkeypatch.setattr(offline, "ROWS_PER_WRITE", 7)  # several Arrow tables, cut apart from the shards


def run(dataset: Path, out: Path, engine: EngineOptions) -> dict[str, bytes]:
    """The output's files; runs to compare write to the same `out` (the rows hold absolute image paths)."""
    result = augment_dataset(CONFIG, dataset, out, copies=2, seed=5, engine=engine)
    assert result.records_out > 0
    return tree(out)


def test_the_input_exercises_every_path(dataset: Path, tmp_path: Path) -> None:
    got = run(dataset, tmp_path / "one", EngineOptions(workers=1))
    report = json.loads(got["report.json"])
    assert report["skipped"]["no_images"] == 1
    assert set(report["skipped"]) == {"VD300", "VD303", "VD220", "no_images"}  # missing, truncated, size
    assert report["chat_records"] == 1 and report["bypassed"] > 0 and report["dropped"]["clipped_out"] >= 0
    assert any(name.endswith(".png") for name in got) and any(name.endswith(".jpg") for name in got)
    ids = [json.loads(line)["id"] for line in got["data.jsonl"].splitlines()]
    assert ids.count("r2~aug0") == 2  # the repeated id is augmented twice, as one pass does
    assert not any(".spill" in name for name in got)


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_write_the_same_bytes_as_one(dataset: Path, tmp_path: Path, workers: int) -> None:
    one = run(dataset, tmp_path / "out", EngineOptions(workers=1))
    many = run(dataset, tmp_path / "out", EngineOptions(workers=workers))
    assert many.keys() == one.keys()
    for name in one:
        assert many[name] == one[name], name


def test_one_shard_or_many_in_process_is_the_same(dataset: Path, tmp_path: Path, monkeypatch) -> None:
    many = run(dataset, tmp_path / "out", EngineOptions(workers=1))
    monkeypatch.setattr(offline, "MAX_COPIES_PER_SHARD", 10_000)
    assert run(dataset, tmp_path / "out", EngineOptions(workers=1)) == many


def test_a_record_breaking_the_contract_stops_the_run_at_its_line(
    dataset: Path, tmp_path: Path, monkeypatch
) -> None:
    """The shard finds the broken record; the driver raises when it reaches it, with its output line."""
    import vlmdata.augment.shard as shard
    from vlmdata.errors import VlmdataError

    real = shard.contract_errors

    def breaks_r13(line: dict[str, Any]) -> list[str]:
        return ["VD119 objects: made up"] if line["id"] == "r13~aug1" else real(line)

    monkeypatch.setattr(shard, "contract_errors", breaks_r13)
    lines = []
    for size, out in ((5, "many"), (10_000, "one")):
        monkeypatch.setattr(offline, "MAX_COPIES_PER_SHARD", size)
        with pytest.raises(VlmdataError) as err:
            augment_dataset(
                CONFIG, dataset, tmp_path / out, copies=2, seed=5, engine=EngineOptions(workers=1)
            )
        assert err.value.where is not None and err.value.where.record_id == "r13~aug1"
        lines.append(err.value.where.line)
        assert not (tmp_path / out).exists()
    assert lines[0] == lines[1] and lines[0] > 20


@pytest.mark.ray
def test_ray_writes_the_same_bytes_as_one_process(dataset: Path, ray_cluster: str, tmp_path: Path) -> None:
    one = run(dataset, tmp_path / "out", EngineOptions(workers=1))
    distributed = run(dataset, tmp_path / "out", EngineOptions(engine="ray", ray_address=ray_cluster))
    assert distributed == one
