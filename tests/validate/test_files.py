"""File-level behaviour: BOM, CRLF, blank/empty files, giant lines, warnings, ids, splits and the Arrow output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vlmdata.errors import VlmdataError
from vlmdata.io.features import record_features
from vlmdata.validate import ValidateOptions, validate_files


def _notes(report, path: Path) -> list[str]:  # noqa: ANN001
    return [n["code"] for n in report.as_dict()["files"][str(path)]["notes"]]


def test_bom_is_stripped_and_noted(dataset, rec, tmp_path: Path) -> None:
    path = dataset([rec(), rec(id="b")])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    report = validate_files([path], tmp_path / "out")
    assert report.total("valid") == 2 and report.exit_code == 0
    assert _notes(report, path) == ["VD104"]
    assert report.as_dict()["files"][str(path)]["notes"][0]["line"] == 1


def test_crlf_lines_are_accepted_and_counted(dataset, rec, tmp_path: Path) -> None:
    path = dataset([rec(), rec(id="b"), rec(id="c")], sep=b"\r\n")
    report = validate_files([path], tmp_path / "out")
    assert report.total("valid") == 3
    assert _notes(report, path) == ["VD105"]
    assert report.as_dict()["files"][str(path)]["notes"][0]["value"] == 3


def test_empty_and_blank_files(dataset, rec, tmp_path: Path) -> None:
    empty = dataset([], name="empty.jsonl")
    blank = dataset([b"", b"   ", b"\t"], name="blank.jsonl")
    report = validate_files([empty, blank], tmp_path / "out")
    d = report.as_dict()
    assert _notes(report, empty) == ["VD106"] and _notes(report, blank) == ["VD106"]
    assert d["files"][str(empty)]["lines_read"] == 0
    assert d["files"][str(blank)]["blank"] == 3 and d["lines_read"] == 3
    assert d["invariant_holds"] and report.exit_code == 0


def test_giant_line_is_rejected_without_holding_it(dataset, rec, tmp_path: Path) -> None:
    giant = json.dumps(rec(summary="x" * 50_000)).encode()
    path = dataset([rec(), giant, rec(id="z")])
    report = validate_files([path], tmp_path / "out", ValidateOptions(max_line_bytes=4096, block_bytes=1000))
    assert report.total("valid") == 2 and report.total("rejected") == 1 and report.invariant_holds
    rej = json.loads((tmp_path / "out" / "rejects.jsonl").read_text())
    assert rej["line"] == 2 and rej["issues"][0]["code"] == "VD103"
    assert rej["raw_bytes"] == len(giant) and giant.decode().startswith(rej["raw_prefix"])


def test_allow_extra_moves_unknown_keys_into_metadata(dataset, rec, tmp_path: Path, jsonl) -> None:
    path = dataset([rec(source="cam3", objects=[{"desc": "a", "bbox_2d": [1, 1, 5, 5], "score": 0.9}])])
    assert validate_files([path], tmp_path / "strict").exit_code == 1
    report = validate_files([path], tmp_path / "out", ValidateOptions(allow_extra=True))
    assert report.exit_code == 0 and report.as_dict()["codes"]["VD121"]["records"] == 1
    from vlmdata.io.dataset import load_dataset

    row = load_dataset(tmp_path / "out" / "data")[0]
    assert json.loads(row["metadata"]) == {"source": "cam3"}
    assert json.loads(row["objects"][0]["metadata"]) == {"score": 0.9}
    assert jsonl(tmp_path / "out" / "warnings.jsonl")[0]["code"] == "VD121"


def test_geometry_warnings_do_not_reject(dataset, rec, tmp_path: Path, jsonl) -> None:
    near = rec(objects=[{"desc": "a", "bbox_2d": [-0.3, 1, 5, 5]}])
    normalised = rec(objects=[{"desc": "a", "bbox_2d": [0.1, 0.1, 0.5, 0.5]}], id="n")
    path = dataset([near, normalised])
    report = validate_files([path], tmp_path / "out")
    assert report.total("valid") == 2 and report.exit_code == 0
    warns = {(w["line"], w["code"], w.get("field")) for w in jsonl(tmp_path / "out" / "warnings.jsonl")}
    assert (1, "VD206", "objects[0].bbox_2d") in warns and (2, "VD208", "objects") in warns


def test_duplicate_images_warn_and_val_overlap_rejects(dataset, rec, tmp_path: Path, jsonl) -> None:
    train = dataset([rec(id="t1"), rec(id="t2")], name="train.jsonl")
    val = dataset([rec(id="v1")], name="val.jsonl")
    report = validate_files([train], tmp_path / "out", ValidateOptions(val=[val]))
    assert report.total("valid") == 2 and report.total("rejected") == 1
    rej = jsonl(tmp_path / "out" / "rejects.jsonl")[0]
    assert rej["file"] == str(val) and rej["line"] == 1 and rej["issues"][0]["code"] == "VD502"
    assert [w["code"] for w in jsonl(tmp_path / "out" / "warnings.jsonl")] == ["VD501"]
    from vlmdata.io.dataset import load_dataset

    assert (
        len(load_dataset(tmp_path / "out" / "data")) == 2 and len(load_dataset(tmp_path / "out" / "val")) == 0
    )


def test_derived_ids_survive_moves_and_reordering(dataset, rec, tmp_path: Path) -> None:
    from vlmdata.io.dataset import load_dataset

    a = rec(objects=[{"desc": "a", "bbox_2d": [1, 1, 5, 5]}])
    b = rec(objects=[{"desc": "b", "poly": [1, 1, 9, 1, 9, 9]}], summary="无关图片")
    path = dataset([a, b])
    validate_files([path], tmp_path / "o1", ValidateOptions(image_check=False))
    moved = tmp_path / "elsewhere" / "renamed.jsonl"
    moved.parent.mkdir()
    # reordered lines, reordered keys, other whitespace and int/float spelling: the same records
    b2 = {
        "summary": "无关图片",
        "objects": [{"poly": [1.0, 1, 9, 1, 9, 9], "desc": "b"}],
        "height": 80,
        "width": 100,
        "images": ["a.jpg"],
    }
    moved.write_text(
        json.dumps(b2, indent=None, separators=(",", ":"), ensure_ascii=False) + "\n" + json.dumps(a) + "\n"
    )
    validate_files([moved], tmp_path / "o2", ValidateOptions(image_check=False))
    ids1 = load_dataset(tmp_path / "o1" / "data")["id"]
    ids2 = load_dataset(tmp_path / "o2" / "data")["id"]
    assert ids1 == ids2[::-1] and ids1[0] != ids1[1]
    assert all(i.startswith("h") and len(i) == 25 for i in ids1)


def test_output_is_the_normalised_schema_and_reruns_are_identical(dataset, rec, tmp_path: Path) -> None:
    import datasets

    items = [
        rec(id="x1", metadata={"b": 1, "a": [1, 2]}),
        rec(
            id="x2",
            objects=[{"desc": "p", "poly": [1, 1, 9, 1, 9, 9], "poly_points": 3, "attributes": {"k": "v"}}],
        ),
        rec(id="x3", objects=[{"desc": "l", "line": [1, 1, 9, 9], "image_index": 0}]),
        {
            "id": "x4",
            "images": ["a.jpg"],
            "width": 100,
            "height": 80,
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image", "image": "a.jpg"}, {"type": "text", "text": "describe"}],
                },
                {"role": "assistant", "content": "a box"},
            ],
        },
    ]
    path = dataset(items)
    validate_files([path], tmp_path / "o1")
    ds = datasets.load_from_disk(str(tmp_path / "o1" / "data"))
    assert ds.features == record_features()
    rows = ds.to_list()
    assert [r["id"] for r in rows] == ["x1", "x2", "x3", "x4"] and [r["source_line"] for r in rows] == [
        1,
        2,
        3,
        4,
    ]
    assert rows[0]["images"] == [str((path.parent / "a.jpg").resolve())]
    assert rows[0]["objects"][0] == {
        "desc": "类别=BBU设备,品牌=华为",
        "kind": "bbox_2d",
        "points": [10.0, 10.0, 50.0, 40.0],
        "image_index": 0,
        "attributes": None,
        "metadata": None,
    }
    assert json.loads(rows[0]["metadata"]) == {"a": [1, 2], "b": 1}
    assert rows[1]["objects"][0]["kind"] == "poly" and json.loads(rows[1]["objects"][0]["attributes"]) == {
        "k": "v"
    }
    assert json.loads(rows[3]["messages"])[1] == {"role": "assistant", "content": "a box"}
    validate_files([path], tmp_path / "o2")
    for name in ("rejects.jsonl", "warnings.jsonl"):
        assert (tmp_path / "o1" / name).read_bytes() == (tmp_path / "o2" / name).read_bytes()
    assert datasets.load_from_disk(str(tmp_path / "o2" / "data")).to_list() == rows


def test_rerun_replaces_previous_output(dataset, rec, tmp_path: Path) -> None:
    path = dataset([rec()])
    out = tmp_path / "out"
    validate_files([path], out)
    (out / "notes.txt").write_text("mine")  # a file vlmdata did not write is never deleted by a rerun
    with pytest.raises(VlmdataError) as err:
        validate_files([path], out)
    assert err.value.code_str == "VD003" and (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    before = (out / "report.json").stat().st_ino
    validate_files([path], out)
    assert (out / "report.json").exists() and (out / "report.json").stat().st_ino != before
    assert not list(tmp_path.glob(".tmp-out*"))
    shutil.rmtree(out)


def test_escaped_and_literal_json_give_the_same_rows(tmp_path: Path, img) -> None:
    import datasets

    img(tmp_path / "a.jpg")
    records = [
        {
            "id": f"r{i}",
            "images": ["a.jpg"],
            "width": 100,
            "height": 80,
            "objects": [
                {"desc": d, "bbox_2d": [1, 1, 9, 9]}
                for d in ("类别=BBU设备,品牌=华为", 'say "hi"', "a\\b", "plain")
            ],
        }
        for i in range(3)
    ]
    rows = []
    for name, ascii_only in (("literal", False), ("escaped", True)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text(
            "".join(json.dumps(r, ensure_ascii=ascii_only) + "\n" for r in records), encoding="utf-8"
        )
        assert validate_files([path], tmp_path / name).exit_code == 0
        ds = datasets.load_from_disk(str(tmp_path / name / "data"))
        rows.append([[o["desc"] for o in r["objects"]] for r in ds.to_list()])
    assert rows[0] == rows[1] == [["类别=BBU设备,品牌=华为", 'say "hi"', "a\\b", "plain"]] * 3


def test_progress_callback_sees_every_byte(dataset, rec, tmp_path: Path) -> None:
    path = dataset([rec(id=f"r{i}") for i in range(50)])
    got: list[int] = []
    validate_files(
        [path], tmp_path / "out", ValidateOptions(block_bytes=1000, progress=got.append, image_check=False)
    )
    assert sum(got) == path.stat().st_size and len(got) > 5


def test_rows_rotate_into_several_shards_that_load_in_line_order(
    dataset, rec, tmp_path: Path, monkeypatch
) -> None:  # noqa: ANN001
    """Accepted rows are streamed batch by batch into `datasets` shards; a small shard limit forces rotation."""
    import datasets

    import vlmdata.io.writer

    monkeypatch.setattr(vlmdata.io.writer, "SHARD_BYTES", 1)  # a new shard after every written batch
    items = [rec(id=f"r{i}") for i in range(12)]
    items[5] = rec(id="r5", objects=[{"desc": "d", "bbox_2d": [9, 9, 1, 1]}])  # rejected: inverted box
    path = dataset(items)
    report = validate_files([path], tmp_path / "out", ValidateOptions(block_bytes=600))
    assert (report.total("valid"), report.total("rejected")) == (11, 1)
    data = tmp_path / "out" / "data"
    shards = sorted(p.name for p in data.glob("*.arrow"))
    assert len(shards) > 2 and shards[0] == f"data-00000-of-{len(shards):05d}.arrow"
    assert not list((tmp_path / "out").glob(".rows-*")) and not list(data.glob("shard-*"))
    ds = datasets.load_from_disk(str(data))
    assert ds.features == record_features()
    assert ds["id"] == [f"r{i}" for i in range(12) if i != 5]
    assert ds["source_line"] == [i + 1 for i in range(12) if i != 5]
