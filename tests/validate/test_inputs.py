"""JSONL data inputs validated on the fly: the cache never answers for other files, folders or images."""

from __future__ import annotations

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
