"""`render` on several workers writes the same PNGs and contact sheet as on one.

The picks are augmented records (before/after pairs read from their source dataset) whose source images are
partly missing, two copies of each source (a missing source image is listed under each copy that shows it,
once), plain records with a missing or truncated image, and a repeated pick; chunks are tiny so every worker
count splits the picks differently.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

import vlmdata.viz.sheet as sheet
from vlmdata.augment.offline import augment_dataset
from vlmdata.io.dataset import open_dataset, save_records
from vlmdata.io.engine import EngineOptions
from vlmdata.io.output import MARKER
from vlmdata.viz import render_dataset

OBJECTS = [
    {"desc": "类别=BBU设备,可见性=完整", "kind": "bbox_2d", "points": [20.0, 20.0, 90.0, 70.0]},
    {"desc": "cable", "kind": "line", "points": [10.0, 110.0, 100.0, 100.0, 190.0, 115.0]},
]
AUG = "seed: 1\nops:\n  - {name: hflip, params: {p: 1.0}}\n"


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("render-workers")
    recs = []
    for i in range(12):
        path = root / f"img{i}.{'png' if i % 2 else 'jpg'}"
        Image.new("RGB", (200, 120), (10 * i, 60, 90)).save(path)
        recs.append({"id": f"r/{i}", "images": [str(path)], "width": 200, "height": 120, "objects": OBJECTS})
    source = save_records(recs, root / "src")
    (root / "aug.yaml").write_text(AUG, encoding="utf-8")
    augmented = root / "aug"
    augment_dataset(root / "aug.yaml", source, augmented, copies=2, engine=EngineOptions(workers=1))
    for i in (2, 5):  # the "before" panel of their copies has no image now
        (root / f"img{i}.{'png' if i % 2 else 'jpg'}").unlink()
    plain = [dict(r) for r in recs[:6]]
    plain[3]["images"] = [str(root / "gone.jpg")]
    truncated = root / "cut.jpg"
    shutil.copy(root / "img0.jpg", truncated)
    truncated.write_bytes(truncated.read_bytes()[:150])
    plain[4]["images"] = [str(truncated)]
    return augmented, save_records(plain, root / "plain")


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


@pytest.fixture(autouse=True)
def _tiny_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sheet, "PARALLEL_MIN_RECORDS", 0)
    monkeypatch.setattr(sheet, "RECORDS_PER_CHUNK", 3)


def run(dataset: Path, out: Path, workers: int, **kw) -> tuple[dict[str, bytes], object]:
    result = render_dataset(dataset, out, engine=EngineOptions(workers=workers), **kw)
    return tree(out), result


def test_the_picks_exercise_pairs_and_unreadable_images(datasets, tmp_path: Path) -> None:
    augmented, plain = datasets
    files, result = run(augmented, tmp_path / "r", 1, n=24)
    assert result.pairs == 24 and len(result.unreadable) == 4  # two sources missing, two copies each
    page = files["index.html"].decode()
    assert page.count("<li><code>VD300</code>") == 4  # under each copy that shows the image, once each
    files, result = run(plain, tmp_path / "p", 1, n=6)
    assert {u["code"] for u in result.unreadable} == {"VD300", "VD303"}


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_write_the_same_bytes_as_one(datasets, tmp_path: Path, workers: int) -> None:
    augmented, plain = datasets
    ids = [open_dataset(augmented)["id"][k] for k in (5, 0, 9, 5, 13, 22, 1, 3, 4)]
    for dataset, kw in ((augmented, {"n": 24}), (plain, {"n": 6}), (augmented, {"ids": ids})):
        one = run(dataset, tmp_path / "out", 1, **kw)
        many = run(dataset, tmp_path / "out", workers, **kw)
        assert many[0].keys() == one[0].keys()
        for name in one[0]:
            assert many[0][name] == one[0][name], name
        assert many[1].as_dict() == one[1].as_dict()  # type: ignore[attr-defined]
