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
