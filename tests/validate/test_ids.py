"""Derived ids are a function of the typed record; reject entries carry the record's own id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlmdata.validate import ValidateOptions, validate_files
from vlmdata.validate.ids import derive_id, own_id

BASE = {
    "images": ["a.jpg"],
    "width": 100,
    "height": 80,
    "objects": [{"desc": "类别=BBU设备", "bbox_2d": [0, 10, 50, 40]}],
}


def _line(record: dict, **dumps: object) -> bytes:
    return json.dumps(record, **{"ensure_ascii": False, **dumps}).encode()  # type: ignore[arg-type]


def _with(**over: object) -> dict:
    record = json.loads(json.dumps(BASE))
    for key, value in over.items():
        if key.startswith("obj_"):
            record["objects"][0][key[4:]] = value
        else:
            record[key] = value
    return record


SAME = [
    ("-0.0 and 0", _with(obj_bbox_2d=[-0.0, 10, 50, 40])),
    ("0.0 and 0", _with(obj_bbox_2d=[0.0, 10.0, 50.0, 40.0])),
    ("metadata {} and absent", _with(metadata={})),
    ("metadata null and absent", _with(metadata=None)),
    ("attributes {} and absent", _with(obj_attributes={})),
    ("object metadata {} and absent", _with(obj_metadata={})),
    ("image_index 0 and absent", _with(obj_image_index=0)),
    ("summary null and absent", _with(summary=None)),
]


@pytest.mark.parametrize(("case", "record"), SAME, ids=[c[0] for c in SAME])
def test_equal_typed_records_get_one_id(case: str, record: dict) -> None:
    assert derive_id(_line(record)) == derive_id(_line(BASE)), case


def test_formatting_and_key_order_never_change_an_id() -> None:
    reordered = {k: BASE[k] for k in reversed(list(BASE))}
    assert derive_id(_line(reordered, indent=1).replace(b"\n", b"")) == derive_id(_line(BASE))
    assert derive_id(_line(BASE, ensure_ascii=True)) == derive_id(_line(BASE))


@pytest.mark.parametrize(
    "record",
    [
        _with(obj_bbox_2d=[1, 10, 50, 40]),
        _with(metadata={"a": 1}),
        _with(obj_attributes={"a": {}}),
        _with(obj_image_index=1, images=["a.jpg", "b.jpg"]),
        _with(summary="无关图片"),
        _with(metadata={"a": -0.0}),  # free-form values keep their own types: -0.0 is a float, 0 an int
    ],
)
def test_different_records_get_different_ids(record: dict) -> None:
    assert derive_id(_line(record)) != derive_id(_line(BASE))


def test_an_equal_record_without_id_is_a_duplicate_in_validate(tmp_path: Path) -> None:
    src = tmp_path / "data.jsonl"
    src.write_bytes(_line(BASE) + b"\n" + _line(_with(obj_bbox_2d=[-0.0, 10, 50, 40], metadata={})) + b"\n")
    report = validate_files([src], tmp_path / "out", ValidateOptions(image_check=False))
    assert (report.total("valid"), report.total("rejected")) == (1, 1)
    (entry,) = [json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert entry["line"] == 2 and entry["issues"][0]["code"] == "VD500"
    assert entry["id"] == derive_id(_line(BASE))


def test_reject_entries_carry_the_records_own_id(tmp_path: Path) -> None:
    lines = [
        _line({**_with(obj_bbox_2d=[50, 10, 0, 40]), "id": "inverted-box"}),  # rejected by the models
        _line({**_with(), "id": "unknown-key", "colour": "red"}),
        _line({"id": "chat-without-turns", "messages": []}),
        _line({**_with(), "id": 7}),  # not a valid id: nothing to carry
        b'{"id": "truncated", "images": ["a.jpg"',  # not JSON: nothing to carry
        _line({**_with(obj_bbox_2d=[50, 10, 0, 40])}),  # no id of its own
    ]
    src = tmp_path / "data.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    report = validate_files([src], tmp_path / "out", ValidateOptions(image_check=False))
    assert report.total("rejected") == len(lines)
    entries = [json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert [e.get("id") for e in entries] == [
        "inverted-box",
        "unknown-key",
        "chat-without-turns",
        None,
        None,
        None,
    ]
    assert report.examples["VD200"][0]["id"] == "inverted-box"


def test_own_id_reads_any_line() -> None:
    assert own_id(b'{"objects": 3, "id": "x"}') == "x"
    for raw in (b'{"id": ""}', b'{"id": null}', b"[1]", b"not json", b'{"id": ["x"]}', b"\xff\xfe"):
        assert own_id(raw) is None
