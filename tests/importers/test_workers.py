"""`import` on several workers (and as Ray tasks) writes the same bytes as on one: OUT.jsonl and its report.

Units are made tiny (COCO images per unit, JSONL blocks) so every worker count sees many units, and the
sources carry what the accounting must keep in order across units: missing and mis-sized images, broken
geometry, a duplicate image entry and annotations of unknown images (accounted while planning), invalid JSON
lines, and records whose ids repeat across units.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import vlmdata.importers.lines as lines
import vlmdata.importers.run as run_module
from tests.importers.conftest import Coco, make_image, read_jsonl
from vlmdata.importers import ImportOptions, import_source
from vlmdata.importers.output import report_path
from vlmdata.io.engine import EngineOptions


def coco_source(root: Path, n: int = 40) -> Path:
    coco = Coco(root)
    rng = random.Random(5)
    for i in range(n):
        w, h = rng.choice([(64, 48), (80, 60)])
        entry = coco.image(f"i{i}.jpg", (w, h), i + 1, write=i % 9 != 4)  # some files missing
        if i % 11 == 6:
            entry["width"] = w + 1  # declared size differs from the header
        for _ in range(rng.randint(0, 4)):
            x, y = rng.uniform(0, w - 12), rng.uniform(0, h - 12)
            coco.ann(i + 1, rng.choice([1, 3, 18]), bbox=[round(x, 2), round(y, 2), 10.0, 8.0])
        if i % 7 == 3:
            coco.ann(i + 1, 1, bbox=[1, 1, -5, 3])  # a negative width: skipped
        if i % 13 == 2:
            coco.ann(i + 1, 3, bbox=[1, 1, 5, 5], segmentation=[[1, 1, 2, 2, 3, 3]])  # a zero-area polygon
    coco.image("i3.jpg", (64, 48), 4, write=False)  # the id of an earlier entry again
    coco.ann(999, 1, bbox=[1, 1, 2, 2])  # an unknown image
    return coco.write()


def odvg_source(root: Path, n: int = 120) -> Path:
    make_image(root / "img" / "a.jpg", (100, 80))
    make_image(root / "img" / "b.jpg", (60, 40))
    out = []
    rng = random.Random(9)
    for i in range(n):
        if i % 17 == 5:
            out.append(b"{not json")
            continue
        name, (w, h) = rng.choice([("a.jpg", (100, 80)), ("b.jpg", (60, 40)), ("gone.jpg", (10, 10))])
        boxes = [[1, 1, rng.randint(3, w), rng.randint(3, h)] for _ in range(rng.randint(0, 3))]
        if i % 10 == 0:
            boxes.append([1, 1, w + 50, 2])  # outside the image
        line = {
            "filename": name,
            "height": h,
            "width": w,
            "detection": {"instances": [{"bbox": b, "label": 0, "category": "box"} for b in boxes]},
        }
        out.append(json.dumps(line).encode())
    path = root / "odvg.jsonl"
    path.write_bytes(b"\n".join(out) + b"\n")
    return path


def outputs(out: Path) -> tuple[bytes, bytes]:
    """OUT.jsonl and OUT.import.json as written, but for the report's `seconds`."""
    text = report_path(out).read_bytes()
    report = json.loads(text)
    report.pop("seconds")
    assert (
        text
        == (
            json.dumps({**report, "seconds": json.loads(text)["seconds"]}, ensure_ascii=False, indent=2)
            + "\n"
        ).encode()
    )
    return out.read_bytes(), json.dumps(report, ensure_ascii=False).encode()


@pytest.fixture(autouse=True)
def _small_units(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lines, "BLOCK_BYTES", 512)
    monkeypatch.setattr(run_module, "PARALLEL_MIN_UNITS", 2)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, ImportOptions]]:
    root = tmp_path_factory.mktemp("import-workers")
    coco = coco_source(root / "coco")
    odvg = odvg_source(root / "odvg")
    return {
        "coco": (coco, ImportOptions(shard_size=3, image_root=str(root / "coco" / "images"))),
        "odvg": (odvg, ImportOptions(image_root=str(root / "odvg" / "img"))),
    }


def run(sources, fmt: str, out: Path, engine: EngineOptions) -> tuple[bytes, bytes]:
    src, options = sources[fmt]
    import_source(fmt, src, out, options, engine)
    return outputs(out)


@pytest.mark.parametrize("fmt", ["coco", "odvg"])
def test_the_sources_exercise_the_accounting(sources, fmt: str, tmp_path: Path) -> None:
    data, text = run(sources, fmt, tmp_path / "o.jsonl", EngineOptions(workers=1))
    report = json.loads(text)
    skipped = report["totals"]["records"]["skipped"]
    assert report["balanced"] and len(read_jsonl(tmp_path / "o.jsonl")) > 10
    if fmt == "coco":
        assert {"image_missing", "size_mismatch", "duplicate_image"} <= set(skipped)
        assert report["totals"]["annotations"]["skipped"]
    else:
        assert {"invalid_json", "image_missing"} <= set(skipped)
        ids = [json.loads(x)["id"] for x in data.splitlines()]
        assert len(ids) == len(set(ids))  # ids are line numbers: unique whatever the units


@pytest.mark.parametrize("fmt", ["coco", "odvg"])
@pytest.mark.parametrize("workers", [2, 3])
def test_workers_write_the_same_bytes_as_one(sources, fmt: str, workers: int, tmp_path: Path) -> None:
    one = run(sources, fmt, tmp_path / "o.jsonl", EngineOptions(workers=1))
    many = run(sources, fmt, tmp_path / "o.jsonl", EngineOptions(workers=workers))  # replaces its own output
    assert many == one


@pytest.mark.ray
@pytest.mark.parametrize("fmt", ["coco", "odvg"])
def test_ray_writes_the_same_bytes_as_one_process(
    sources, fmt: str, ray_cluster: str, tmp_path: Path
) -> None:
    one = run(sources, fmt, tmp_path / "o.jsonl", EngineOptions(workers=1))
    distributed = run(
        sources, fmt, tmp_path / "o.jsonl", EngineOptions(engine="ray", ray_address=ray_cluster)
    )
    assert distributed == one
