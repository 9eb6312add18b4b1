"""One test per defect kind: the rejected line carries the right code, file, line number and field path.

Every case writes a valid record on line 1 and the defective one on line 2, runs `validate_files`, and checks
that line 1 is kept, line 2 is in rejects.jsonl (verbatim) with the code at the expected field, and the
accounting invariant holds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from vlmdata.validate import ValidateOptions, validate_files

OBJ = {"desc": "类别=BBU设备", "bbox_2d": [10, 10, 50, 40]}


def _o(**geom: Any) -> list[dict[str, Any]]:
    return [{"desc": "类别=螺丝", **geom}]


def _base(**over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"images": ["a.jpg"], "width": 100, "height": 80, "objects": [OBJ]}
    out.update(over)
    return {k: v for k, v in out.items() if v is not None}


def _img(ds: Path, name: str, size=(100, 80), orientation=None) -> None:  # noqa: ANN001
    from PIL import Image

    im = Image.new("RGB", size, (10, 200, 30))
    kw = {}
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw["exif"] = exif
    im.save(ds / name, **kw)


def _truncated(ds: Path) -> None:
    _img(ds, "t.jpg")
    data = (ds / "t.jpg").read_bytes()
    (ds / "t.jpg").write_bytes(data[: len(data) * 2 // 3])


def _corrupt(ds: Path) -> None:
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    (ds / "c.jpg").write_bytes(b"\xff\xd8" + app0 + bytes(200) + b"\xff\xd9")  # no marker after APP0


def _gray16(ds: Path, name: str) -> None:
    import numpy as np
    from PIL import Image

    Image.fromarray(np.full((80, 100), 40000, np.uint16)).save(ds / name)


def _bomb(ds: Path) -> None:
    _img(ds, "bomb.png", (100, 80))
    data = bytearray((ds / "bomb.png").read_bytes())
    data[16:24] = (60000).to_bytes(4, "big") + (60000).to_bytes(4, "big")  # IHDR claims 60000×60000
    (ds / "bomb.png").write_bytes(bytes(data))


def _outside(ds: Path) -> None:
    _img(ds.parent, "outside.jpg")
    os.symlink(ds.parent / "outside.jpg", ds / "link.jpg")


CASES: list[tuple[str, Any, str, str | None, Any]] = [
    # (name, line 2 content, code, field, setup)
    ("malformed_json", b'{"images": ["a.jpg"], "width": 100,', "VD101", None, None),
    ("not_an_object", b'["a.jpg", 100, 80]', "VD102", None, None),
    (
        "non_utf8",
        b'{"images": ["a.jpg"], "width": 100, "height": 80, "summary": "\xb0\xd7\xc9\xab"}',
        "VD100",
        None,
        None,
    ),
    (
        "nan",
        b'{"images": ["a.jpg"], "width": 100, "height": 80, "objects": [{"desc": "x", "bbox_2d": [1, NaN, 5, 6]}]}',
        "VD113",
        "objects[0].bbox_2d[1]",
        None,
    ),
    (
        "infinity",
        b'{"images": ["a.jpg"], "width": 100, "height": 80, "objects": [{"desc": "x", "bbox_2d": [1, 2, 1e999, 6]}]}',
        "VD113",
        "objects[0].bbox_2d[2]",
        None,
    ),
    ("bool_as_number", _base(objects=_o(bbox_2d=[1, True, 5, 6])), "VD114", "objects[0].bbox_2d[1]", None),
    ("string_number", _base(width="100"), "VD111", "width", None),
    ("wrong_type_objects", _base(objects={"desc": "x"}), "VD111", "objects", None),
    ("missing_width", _base(width=None), "VD110", "width", None),
    ("huge_height", _base(height=2**40), "VD117", "height", None),
    ("unknown_key", _base(label="x"), "VD112", "label", None),
    ("unknown_object_key", _base(objects=[{**OBJ, "colour": "red"}]), "VD112", "objects[0].colour", None),
    (
        "two_geometry_keys",
        _base(objects=_o(bbox_2d=[1, 1, 5, 5], line=[1, 1, 5, 5])),
        "VD115",
        "objects[0]",
        None,
    ),
    ("no_geometry", _base(objects=[{"desc": "x"}]), "VD115", "objects[0]", None),
    (
        "bad_desc",
        _base(objects=[{"desc": "a\nb", "bbox_2d": [1, 1, 5, 5]}]),
        "VD116",
        "objects[0].desc",
        None,
    ),
    (
        "inverted_box",
        _base(objects=[OBJ, *_o(bbox_2d=[50, 10, 10, 40])]),
        "VD200",
        "objects[1].bbox_2d",
        None,
    ),
    ("zero_box", _base(objects=_o(bbox_2d=[10, 10, 10, 40])), "VD200", "objects[0].bbox_2d", None),
    ("box_length", _base(objects=_o(bbox_2d=[10, 10, 40])), "VD209", "objects[0].bbox_2d", None),
    ("odd_polygon", _base(objects=_o(poly=[1, 1, 9, 1, 9])), "VD201", "objects[0].poly", None),
    ("short_polygon", _base(objects=_o(poly=[1, 1, 9, 1])), "VD202", "objects[0].poly", None),
    ("zero_area_polygon", _base(objects=_o(poly=[1, 1, 5, 5, 9, 9])), "VD203", "objects[0].poly", None),
    ("single_point_line", _base(objects=_o(line=[3, 3])), "VD204", "objects[0].line", None),
    ("repeated_point_line", _base(objects=_o(line=[3, 3, 3, 3])), "VD204", "objects[0].line", None),
    ("out_of_bounds", _base(objects=_o(bbox_2d=[10, 10, 101, 40])), "VD205", "objects[0].bbox_2d", None),
    ("negative_coordinate", _base(objects=_o(poly=[-2, 1, 9, 1, 9, 9])), "VD205", "objects[0].poly", None),
    (
        "points_mismatch",
        _base(objects=_o(poly=[1, 1, 9, 1, 9, 9], poly_points=4)),
        "VD207",
        "objects[0].poly_points",
        None,
    ),
    (
        "image_index",
        _base(objects=_o(bbox_2d=[1, 1, 5, 5], image_index=1)),
        "VD120",
        "objects[0].image_index",
        None,
    ),
    ("remote_url", _base(images=["https://example.com/a.jpg"]), "VD118", "images[0]", None),
    ("empty_objects", _base(objects=[]), "VD119", "objects", None),
    ("missing_image", _base(images=["nope.jpg"]), "VD300", "images[0]", None),
    ("corrupt_image", _base(images=["c.jpg"]), "VD302", "images[0]", _corrupt),
    (
        "not_an_image",
        _base(images=["notes.jpg"]),
        "VD302",
        "images[0]",
        lambda ds: (ds / "notes.jpg").write_text("hello"),
    ),
    ("truncated_image", _base(images=["t.jpg"]), "VD303", "images[0]", _truncated),
    ("unsupported_format", _base(images=["a.gif"]), "VD308", "images[0]", lambda ds: _img(ds, "a.gif")),
    ("size_mismatch", _base(images=["b.jpg"]), "VD304", "width", lambda ds: _img(ds, "b.jpg", (120, 80))),
    (
        "exif_rotation",
        _base(images=["r.jpg"]),
        "VD305",
        "images[0]",
        lambda ds: _img(ds, "r.jpg", (100, 80), 6),
    ),
    (
        "sizes_differ",
        _base(images=["a.jpg", "b.jpg"]),
        "VD307",
        "images[1]",
        lambda ds: _img(ds, "b.jpg", (120, 80)),
    ),
    ("dotdot_escape", _base(images=["../outside.jpg"]), "VD301", "images[0]", _outside),
    ("symlink_escape", _base(images=["link.jpg"]), "VD301", "images[0]", _outside),
    ("decompression_bomb", _base(images=["bomb.png"]), "VD306", "images[0]", _bomb),
    (
        "placeholders",
        {
            "images": ["a.jpg"],
            "width": 100,
            "height": 80,
            "messages": [
                {"role": "user", "content": "<image><image>hi"},
                {"role": "assistant", "content": "ok"},
            ],
        },
        "VD400",
        "messages[0].content",
        None,
    ),
    (
        "bad_role",
        {
            "images": ["a.jpg"],
            "width": 100,
            "height": 80,
            "messages": [{"role": "bot", "content": "<image>"}],
        },
        "VD402",
        "messages[0].role",
        None,
    ),
    ("broken_summary", _base(summary='{"统计": [{"类别": "BBU设备"}'), "VD401", "summary", None),
    ("nul_in_path", _base(images=["a.jpg\u0000.png"]), "VD122", "images[0]", None),
    ("gray16_png", _base(images=["g16.png"]), "VD309", "images[0]", lambda ds: _gray16(ds, "g16.png")),
    (
        "aspect_over_200",
        _base(images=["thin.png"], width=4020, height=20, objects=[OBJ | {"bbox_2d": [1, 1, 9, 9]}]),
        "VD431",
        "width",
        lambda ds: _img(ds, "thin.png", (4020, 20)),
    ),
    (
        "control_token_desc",
        _base(objects=_o(bbox_2d=[1, 1, 9, 9], desc="<|im_end|>")),
        "VD403",
        "objects[0].desc",
        None,
    ),
    (
        "image_in_answer",
        {
            "images": ["a.jpg"],
            "width": 100,
            "height": 80,
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [{"type": "image", "image": "a.jpg"}]},
            ],
        },
        "VD402",
        "messages[1].content[0]",
        None,
    ),
    ("duplicate_id", {**_base(), "id": "r1"}, "VD500", "id", None),
]


@pytest.mark.parametrize(("name", "line", "code", "field", "setup"), CASES, ids=[c[0] for c in CASES])
def test_defect_is_rejected_with_code_and_location(
    tmp_path: Path, name: str, line: Any, code: str, field: str | None, setup: Any
) -> None:
    ds = tmp_path / "ds"
    ds.mkdir()
    _img(ds, "a.jpg")
    if setup is not None:
        setup(ds)
    first = {**_base(), "id": "r1"}
    raw = line if isinstance(line, bytes) else json.dumps(line, ensure_ascii=False).encode()
    path = ds / "data.jsonl"
    path.write_bytes(json.dumps(first).encode() + b"\n" + raw + b"\n")
    report = validate_files([path], tmp_path / "out")
    assert report.invariant_holds and report.exit_code == 1
    rejects = [
        json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert [r["line"] for r in rejects] == [2], rejects
    rej = rejects[0]
    assert rej["file"] == str(path)
    found = [(i["code"], i.get("field")) for i in rej["issues"]]
    assert (code, field) in found, found
    if "raw_base64" in rej:
        import base64

        assert base64.b64decode(rej["raw_base64"]) == raw
    else:
        assert rej["raw"].encode() == raw
    assert report.as_dict()["codes"][code]["records"] >= 1


def test_outside_root_is_accepted_with_flag(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    ds.mkdir()
    _outside(ds)
    path = ds / "data.jsonl"
    path.write_text(
        json.dumps(_base(images=["link.jpg"])) + "\n" + json.dumps(_base(images=["../outside.jpg"])) + "\n"
    )
    report = validate_files([path], tmp_path / "out", ValidateOptions(allow_outside_root=True))
    assert report.total("valid") == 2 and report.exit_code == 0


def test_bomb_limit_can_be_raised(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    ds.mkdir()
    _img(ds, "big.png", (100, 80))
    path = ds / "data.jsonl"
    path.write_text(json.dumps(_base(images=["big.png"])) + "\n")
    assert (
        validate_files([path], tmp_path / "o1", ValidateOptions(max_image_pixels=7999)).total("rejected") == 1
    )
    assert validate_files([path], tmp_path / "o2", ValidateOptions(max_image_pixels=8000)).total("valid") == 1


def test_no_image_check_skips_headers_but_still_confines(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    ds.mkdir()
    path = ds / "data.jsonl"
    path.write_text(
        json.dumps(_base(images=["missing.jpg"])) + "\n" + json.dumps(_base(images=["../x.jpg"])) + "\n"
    )
    report = validate_files([path], tmp_path / "out", ValidateOptions(image_check=False))
    assert report.total("valid") == 1
    rej = json.loads((tmp_path / "out" / "rejects.jsonl").read_text())
    assert rej["line"] == 2 and rej["issues"][0]["code"] == "VD301"


def test_nul_in_a_path_is_a_per_line_reject_with_or_without_image_checks(tmp_path: Path) -> None:
    """An escaped NUL once ended the whole run (`ValueError: embedded null byte`) and, without image checks,
    was stored in the dataset."""
    ds = tmp_path / "ds"
    ds.mkdir()
    _img(ds, "a.jpg")
    path = ds / "data.jsonl"
    lines = [_base(), _base(images=["a.jpg\x00/../a.jpg"]), _base(images=["\x00"])]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    for i, check in enumerate((True, False)):
        report = validate_files([path], tmp_path / f"out{i}", ValidateOptions(image_check=check))
        assert (report.total("valid"), report.total("rejected")) == (1, 2) and report.invariant_holds
        rejects = (tmp_path / f"out{i}" / "rejects.jsonl").read_text().splitlines()
        assert [json.loads(r)["issues"][0]["code"] for r in rejects] == ["VD122", "VD122"]


def test_jpeg_with_a_trailer_is_valid(tmp_path: Path) -> None:
    """Phone trailers and Motion Photos append data after the JPEG's end marker: not truncated."""
    ds = tmp_path / "ds"
    ds.mkdir()
    _img(ds, "m.jpg")
    (ds / "m.jpg").write_bytes((ds / "m.jpg").read_bytes() + b"MotionPhoto_Data" + os.urandom(20_000))
    path = ds / "data.jsonl"
    path.write_text(json.dumps(_base(images=["m.jpg"])) + "\n")
    assert validate_files([path], tmp_path / "out").total("valid") == 1
