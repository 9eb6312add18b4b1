from __future__ import annotations

from pathlib import Path

from vlmdata.io.dataset import load_dataset, records_to_dataset, save_records


def _rec(i: int) -> dict:
    return {
        "id": f"r{i}",
        "images": [f"/img/{i}.jpg"],
        "width": 640,
        "height": 480,
        "objects": [{"desc": "类别=BBU设备", "kind": "bbox_2d", "points": [1, 2, 30, 40]}],
        "metadata": {"k": i},
        "source_file": "a.jsonl",
        "source_line": i + 1,
    }


def test_roundtrip_and_concat(tmp_path: Path) -> None:
    from datasets import concatenate_datasets

    save_records([_rec(0), _rec(1)], tmp_path / "a")
    chat = {
        "id": "c",
        "messages": [{"role": "user", "content": "hi"}],
        "source_file": "b.jsonl",
        "source_line": 1,
    }
    save_records([chat], tmp_path / "b")
    a, b = load_dataset(tmp_path / "a"), load_dataset(tmp_path / "b")
    both = concatenate_datasets([a, b])
    assert len(both) == 3
    assert both[0]["objects"][0]["points"] == [1.0, 2.0, 30.0, 40.0]
    assert both[2]["width"] is None and both[2]["images"] == []
    assert records_to_dataset([_rec(3)]).features == a.features


def test_empty_dataset_roundtrip(tmp_path: Path) -> None:
    save_records([], tmp_path / "empty")
    loaded = load_dataset(tmp_path / "empty")
    assert len(loaded) == 0 and loaded.features == records_to_dataset([_rec(0)]).features


def test_plain_arrow_schema_equals_the_datasets_features() -> None:
    """`arrow_schema` is built with pyarrow alone (shard workers never import `datasets`); it must be the
    schema `datasets` derives from `record_features`, field for field."""
    from vlmdata.io.features import arrow_schema, record_features

    for with_length in (False, True):
        plain, derived = arrow_schema(with_length), record_features(with_length).arrow_schema
        assert plain.names == derived.names
        for a, b in zip(plain, derived, strict=True):
            assert (a.name, a.type, a.nullable) == (b.name, b.type, b.nullable)


def test_read_rows_equals_the_datasets_rows(tmp_path: Path) -> None:
    """Row ranges read with pyarrow alone equal `datasets`' rows: across shard files, past the end, empty;
    and a `save_to_disk` folder of a selected (index-mapped) dataset too."""
    from vlmdata.io.dataset import open_dataset, read_rows
    from vlmdata.io.writer import DatasetWriter

    ds = records_to_dataset([_rec(i) for i in range(50)])
    writer = DatasetWriter(tmp_path / "multi", ds.features, shard_bytes=1)  # a new file for every table
    for table in ds.with_format("arrow").iter(7):
        writer.write(table)
    writer.close("f")
    assert len(list((tmp_path / "multi").glob("data-*.arrow"))) == 8
    back = open_dataset(tmp_path / "multi")
    for start, stop in ((0, 50), (3, 18), (6, 7), (45, 80), (20, 20), (0, None)):
        expected = back.select(range(start, min(50, 50 if stop is None else stop))).to_list()
        assert read_rows(tmp_path / "multi", start, stop).to_pylist() == expected, (start, stop)
    ds.select([9, 2, 30]).save_to_disk(str(tmp_path / "picked"))
    assert read_rows(tmp_path / "picked").to_pylist() == [ds[9], ds[2], ds[30]]
