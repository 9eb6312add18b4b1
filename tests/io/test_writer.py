"""The one dataset writer and the one opener (`vlmdata.io.writer`, `vlmdata.io.dataset`)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from vlmdata.errors import VlmdataError
from vlmdata.io.dataset import (
    dataset_name,
    image_dirs,
    locate_dataset,
    open_dataset,
    records_to_dataset,
    replace_dataset,
    save_records,
)
from vlmdata.io.output import MARKER, output_dir
from vlmdata.io.writer import DatasetWriter, write_tables


def _rec(i: int, folder: str = "/img") -> dict:
    return {
        "id": f"r{i}",
        "images": [f"{folder}/{i % 3}/{i}.jpg"],
        "width": 640,
        "height": 480,
        "objects": [{"desc": f"类别=BBU设备 {i}", "kind": "bbox_2d", "points": [1, 2, 30 + i, 40]}],
        "metadata": {"k": i},
        "source_file": "a.jsonl",
        "source_line": i + 1,
    }


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("n", [0, 1, 2500])
def test_writer_matches_save_to_disk_bytes(tmp_path: Path, n: int) -> None:
    from datasets import config, load_from_disk

    ds = records_to_dataset([_rec(i) for i in range(n)])
    ds.save_to_disk(str(tmp_path / "oracle"), num_shards=1)  # `datasets`' own writer, the reference
    writer = DatasetWriter(tmp_path / "ours")
    for table in ds.with_format("arrow").iter(config.DEFAULT_MAX_BATCH_SIZE):
        writer.write(table)
    writer.close("fp")
    ours, oracle = (
        tmp_path / "ours" / "data-00000-of-00001.arrow",
        next((tmp_path / "oracle").glob("*.arrow")),
    )
    assert _sha(ours) == _sha(oracle)
    back = load_from_disk(str(tmp_path / "ours"))
    assert back.to_list() == ds.to_list() and back.features == ds.features


def test_writer_rotates_shards_and_names_them_like_save_to_disk(tmp_path: Path) -> None:
    ds = records_to_dataset([_rec(i) for i in range(50)])
    tables = [ds.data.table.slice(i, 7) for i in range(0, 50, 7)]
    writer = DatasetWriter(tmp_path / "d", ds.features, shard_bytes=1)  # a new shard after every table
    for t in tables:
        writer.write(t)
    writer.close("fp")
    files = sorted(p.name for p in (tmp_path / "d").glob("*.arrow"))
    assert files == [f"data-{i:05d}-of-{len(tables):05d}.arrow" for i in range(len(tables))]
    state = json.loads((tmp_path / "d" / "state.json").read_text())
    assert [f["filename"] for f in state["_data_files"]] == files and state["_fingerprint"] == "fp"
    assert open_dataset(tmp_path / "d").to_list() == ds.to_list()


def test_write_tables_of_nothing_is_an_empty_readable_dataset(tmp_path: Path) -> None:
    write_tables(tmp_path / "e", [], "fp")
    assert len(open_dataset(tmp_path / "e")) == 0


def test_opener_accepts_every_form(tmp_path: Path) -> None:
    with output_dir(tmp_path / "validated", command="validate") as tmp:  # a `validate --out` folder
        save_records([_rec(0), _rec(1)], tmp / "data")
        save_records([_rec(7)], tmp / "val")
        (tmp / "report.json").write_text("{}")
    save_records([_rec(3)], tmp_path / "plain")  # a plain save_to_disk folder
    v = tmp_path / "validated"
    assert open_dataset(v)["id"] == ["r0", "r1"]
    assert open_dataset(v, split="val")["id"] == ["r7"]
    assert open_dataset(v / "data")["id"] == ["r0", "r1"] == open_dataset(v / "data", split="val")["id"]
    assert open_dataset(v / "val")["id"] == ["r7"]
    assert open_dataset(tmp_path / "plain")["id"] == ["r3"]
    assert locate_dataset(v, "train") == v / "data"
    assert dataset_name(v / "data") == "validated" == dataset_name(v / "val")
    assert dataset_name(tmp_path / "plain") == "plain"


def test_opener_errors(tmp_path: Path) -> None:
    save_records([_rec(0)], tmp_path / "fused" / "data")
    (tmp_path / "x.jsonl").write_text("{}\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "dd").mkdir()
    (tmp_path / "dd" / "dataset_dict.json").write_text('{"splits": ["train"]}')
    cases = [
        (tmp_path / "missing", "data", "not found"),
        (tmp_path / "x.jsonl", "data", "validate it first"),
        (tmp_path / "empty", "data", "not a vlmdata Arrow dataset"),
        (tmp_path / "fused", "val", "no val split"),
        (tmp_path / "dd", "data", "DatasetDict"),
    ]
    for path, split, words in cases:
        with pytest.raises(VlmdataError) as err:
            open_dataset(path, split)
        assert err.value.code_str == "VD520" and words in str(err.value), path
        assert err.value.exit_code == 2  # named on the command line: usage
    with pytest.raises(VlmdataError) as err:
        open_dataset(tmp_path / "missing", field="targets[0].data")
    assert err.value.exit_code == 1 and "targets[0].data" in str(err.value)  # named in a config


def test_opener_refuses_a_foreign_schema(tmp_path: Path) -> None:
    from datasets import Dataset

    Dataset.from_dict({"text": ["a"]}).save_to_disk(str(tmp_path / "other"))
    with pytest.raises(VlmdataError) as err:
        open_dataset(tmp_path / "other")
    assert err.value.code_str == "VD523"


def test_replace_dataset_keeps_the_marker_and_refuses_foreign_files(tmp_path: Path) -> None:
    with output_dir(tmp_path / "s", command="summarize") as tmp:
        save_records([_rec(0)], tmp / "x")
        for item in (tmp / "x").iterdir():
            os.replace(item, tmp / item.name)
        (tmp / "x").rmdir()
    ds = open_dataset(tmp_path / "s")
    longer = ds.add_column("length", [5])
    replace_dataset(longer, tmp_path / "s", command="audit")
    assert open_dataset(tmp_path / "s")["length"] == [5] and (tmp_path / "s" / MARKER).is_file()
    (tmp_path / "s" / "README.md").write_text("mine")
    with pytest.raises(VlmdataError) as err:
        replace_dataset(longer, tmp_path / "s", command="audit")
    assert err.value.code_str == "VD003" and (tmp_path / "s" / "README.md").read_text() == "mine"


def test_image_dirs(tmp_path: Path) -> None:
    save_records([_rec(i, "/data/imgs") for i in range(5)] + [{"id": "c", "messages": []}], tmp_path / "d")
    assert image_dirs(open_dataset(tmp_path / "d")) == ["/data/imgs/0", "/data/imgs/1", "/data/imgs/2"]
    save_records([], tmp_path / "e")
    assert image_dirs(open_dataset(tmp_path / "e")) == []
