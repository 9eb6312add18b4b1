"""JSONL data inputs validated on the fly: the cache never answers for other files, folders or images."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from vlmdata.errors import VlmdataError
from vlmdata.validate.inputs import cache_root, open_input, validated_jsonl


@pytest.fixture
def synth_folder(tmp_path: Path, monkeypatch) -> Path:
    from vlmdata.synth import generate

    monkeypatch.setenv("VLMDATA_CACHE", str(tmp_path / "cache"))
    generate(tmp_path / "a", 4, seed=2, domain="bbu", min_size=64, max_size=96)
    return tmp_path / "a"


def _images(ds) -> set[str]:  # noqa: ANN001
    return {p for row in ds["images"] for p in row}


def test_same_bytes_in_another_folder_use_that_folders_images(synth_folder: Path, tmp_path: Path) -> None:
    first = open_input(synth_folder / "data.jsonl")
    shutil.copytree(synth_folder, tmp_path / "b")
    second = open_input(tmp_path / "b" / "data.jsonl")
    assert all(p.startswith(str(synth_folder) + "/") for p in _images(first))
    assert all(p.startswith(str(tmp_path / "b") + "/") for p in _images(second))
    assert first["id"] == second["id"]
    assert len(list(cache_root().iterdir())) == 2


def test_a_hit_is_rechecked_against_the_images(synth_folder: Path) -> None:
    data = synth_folder / "data.jsonl"
    folder = validated_jsonl(data)
    assert validated_jsonl(data) == folder  # unchanged: the cached entry
    stamp = (folder / "state.json").stat().st_mtime_ns
    victim = sorted(_images(open_input(data)))[0]
    Path(victim).unlink()  # an image deleted after validation: the entry is stale
    with pytest.raises(VlmdataError) as err:
        validated_jsonl(data)
    assert err.value.code_str == "VD522"
    with pytest.raises(VlmdataError):  # a rejected file is never cached as clean
        validated_jsonl(data)
    assert not (folder / "state.json").exists() or (folder / "state.json").stat().st_mtime_ns == stamp


def test_a_resized_image_revalidates(synth_folder: Path) -> None:
    from PIL import Image

    data = synth_folder / "data.jsonl"
    validated_jsonl(data)
    victim = sorted(_images(open_input(data)))[0]
    with Image.open(victim) as im:
        fmt = im.format
        smaller = im.resize((im.width // 2, im.height // 2))
    smaller.save(victim, format=fmt)  # the record's declared size no longer matches: VD3xx on revalidation
    with pytest.raises(VlmdataError) as err:
        open_input(data)
    assert err.value.code_str == "VD522"


def _one_image_jsonl(folder: Path, size: tuple[int, int], mode: str = "RGB") -> Path:
    """A JSONL of two records on one real PNG of `size` (mode "1" keeps a 90-megapixel file at ~11 kB)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size).save(folder / "a.png")
    w, h = size
    lines = [
        {"images": ["a.png"], "width": w, "height": h, "objects": [{"desc": "box", "bbox_2d": [1, 1, 9, 9]}]},
        {"images": ["a.png"], "width": w, "height": h, "objects": [{"desc": "box", "bbox_2d": [2, 2, 7, 8]}]},
    ]
    path = folder / "data.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def _validate_verdict(path: Path, out: Path, limit: int) -> tuple[int, set[str]]:
    """What `vlmdata validate PATH --max-image-pixels LIMIT` says: rejected records and their codes."""
    from vlmdata.validate import ValidateOptions, validate_files

    report = validate_files([path], out, ValidateOptions(max_image_pixels=limit))
    return report.total("rejected"), {i["code"] for r in report.first_rejects(100) for i in r["issues"]}


def test_a_raised_limit_accepts_an_image_over_the_default(tmp_path: Path, monkeypatch) -> None:
    from vlmdata.io.images import DEFAULT_MAX_IMAGE_PIXELS

    monkeypatch.setenv("VLMDATA_CACHE", str(tmp_path / "cache"))
    data = _one_image_jsonl(tmp_path / "big", (10000, 9000), mode="1")  # 90,000,000 px > 89,478,485
    assert 10000 * 9000 > DEFAULT_MAX_IMAGE_PIXELS
    with pytest.raises(VlmdataError) as err:
        validated_jsonl(data, "data.train[0]")  # validate's default limit
    assert err.value.code_str == "VD522"
    assert _validate_verdict(data, tmp_path / "v1", DEFAULT_MAX_IMAGE_PIXELS) == (2, {"VD306"})
    folder = validated_jsonl(data, "data.train[0]", max_image_pixels=90_000_000)  # exactly the image: fine
    assert _validate_verdict(data, tmp_path / "v2", 90_000_000) == (0, set())
    ds = open_input(data, max_image_pixels=90_000_000)
    assert len(ds) == 2 and set(ds["width"]) == {10000} and set(ds["height"]) == {9000}
    assert validated_jsonl(data, max_image_pixels=90_000_000) == folder  # the cached entry of that limit
    with pytest.raises(VlmdataError):  # the default limit still refuses: another entry, never the raised one
        open_input(data)
    assert len(list(cache_root().iterdir())) == 1  # refusals are never cached


def test_a_lowered_limit_refuses_an_image_under_the_default(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VLMDATA_CACHE", str(tmp_path / "cache"))
    data = _one_image_jsonl(tmp_path / "small", (100, 80))  # 8,000 px
    assert len(open_input(data)) == 2  # the default limit accepts it
    assert _validate_verdict(data, tmp_path / "v1", 7999) == (2, {"VD306"})
    with pytest.raises(VlmdataError) as err:
        open_input(data, "data", "data.val[1]", max_image_pixels=7999)
    e = err.value
    assert e.code_str == "VD522"
    assert (e.where.file, e.where.field) == (str(data), "data.val[1]")
    for line, detail in enumerate(
        e.details, 1
    ):  # each rejected line: file:line, derived id, code, field, why
        expected = rf"{re.escape(str(data))}:{line} id=h[0-9a-f]+: VD306 images\[0\]: 100×80 = 8000 pixels > limit 7999"
        assert re.fullmatch(expected, detail), detail
    assert len(e.details) == 2
    assert "--max-image-pixels 7999" in (e.hint or "")
    assert len(open_input(data, max_image_pixels=8000)) == 2  # the boundary: width × height == limit passes


def test_a_refusal_lists_the_first_rejected_lines_and_counts_the_rest(tmp_path: Path, monkeypatch) -> None:
    from vlmdata.validate.inputs import SHOWN_REJECTS

    monkeypatch.setenv("VLMDATA_CACHE", str(tmp_path / "cache"))
    data = _one_image_jsonl(tmp_path / "many", (100, 80))
    good = data.read_text(encoding="utf-8").splitlines()[0]
    data.write_text("\n".join(["{not json", good, *["[1]"] * (SHOWN_REJECTS + 2)]) + "\n", encoding="utf-8")
    with pytest.raises(VlmdataError) as err:
        validated_jsonl(data)
    details = err.value.details
    assert len(details) == SHOWN_REJECTS + 1
    assert re.match(rf"{re.escape(str(data))}:1: VD1\d\d", details[0]), details[0]  # no id: not JSON
    assert [d.split(" ")[0] for d in details[1:-1]] == [
        f"{data}:{n}:" for n in range(3, 3 + SHOWN_REJECTS - 1)
    ]
    assert details[-1] == "... and 3 more rejected line(s)"
    assert "--max-image-pixels" not in (err.value.hint or "")  # the default limit needs no flag
