"""The pydantic contract: one row per rule, asserting the code and the field path of the explanation."""

from __future__ import annotations

import json

import pytest

from vlmdata.contract.explain import explain_line
from vlmdata.contract.models import Record


def rec(**over):
    base = {
        "images": ["a.jpg"],
        "width": 100,
        "height": 80,
        "objects": [{"desc": "类别=BBU设备", "bbox_2d": [1, 2, 30, 40]}],
    }
    base.update(over)
    return json.dumps(base, ensure_ascii=False).encode()


def obj(**geom):
    return [{"desc": "x", **geom}]


CASES = [
    (rec(objects=obj(bbox_2d=[30, 2, 1, 40])), "VD200", "objects[0].bbox_2d"),
    (rec(objects=obj(bbox_2d=[1, 2, 1, 40])), "VD200", "objects[0].bbox_2d"),
    (rec(objects=obj(bbox_2d=[1, 2, 3])), "VD209", "objects[0].bbox_2d"),
    (rec(objects=obj(poly=[1, 2, 3, 4, 5])), "VD201", "objects[0].poly"),
    (rec(objects=obj(poly=[1, 2, 3, 4])), "VD202", "objects[0].poly"),
    (rec(objects=obj(poly=[1, 1, 2, 2, 3, 3])), "VD203", "objects[0].poly"),
    (rec(objects=obj(line=[1, 1])), "VD204", "objects[0].line"),
    (rec(objects=obj(line=[1, 1, 1, 1, 1, 1])), "VD204", "objects[0].line"),
    (rec(objects=obj(poly=[1, 1, 9, 1, 9, 9], poly_points=4)), "VD207", "objects[0].poly_points"),
    (rec(objects=obj(bbox_2d=[1, 1, 9, 9], line_points=2)), "VD207", "objects[0].line_points"),
    (rec(objects=obj(bbox_2d=[1, 1, 9, 9], poly=[1, 1, 9, 1, 9, 9])), "VD115", "objects[0]"),
    (rec(objects=obj()), "VD115", "objects[0]"),
    (rec(objects=obj(bbox_2d=[1, 1, 101, 9])), "VD205", "objects[0].bbox_2d"),
    (rec(objects=obj(bbox_2d=[1, 1, True, 9])), "VD114", "objects[0].bbox_2d[2]"),
    (rec(objects=obj(bbox_2d=[1, 1, "9", 9])), "VD111", "objects[0].bbox_2d[2]"),
    (rec(width="100"), "VD111", "width"),
    (rec(width=0), "VD117", "width"),
    (rec(height=None), "VD110", "height"),
    (rec(images=None), "VD110", "images"),
    (rec(images=["http://x/a.jpg"]), "VD118", "images[0]"),
    (rec(objects=[]), "VD119", "objects"),
    (rec(objects=[{"desc": "a\tb", "bbox_2d": [1, 1, 9, 9]}]), "VD116", "objects[0].desc"),
    (rec(objects=[{"desc": "", "bbox_2d": [1, 1, 9, 9]}]), "VD116", "objects[0].desc"),
    (rec(objects=[{"desc": "a", "bbox_2d": [1, 1, 9, 9], "colour": "red"}]), "VD112", "objects[0].colour"),
    (
        rec(objects=[{"desc": "a", "bbox_2d": [1, 1, 9, 9], "image_index": 1}]),
        "VD120",
        "objects[0].image_index",
    ),
    (rec(labels=[]), "VD112", "labels"),
    (rec(summary='{"统计": [}'), "VD401", "summary"),
    (rec(metadata={"a": [1, {"b": 2}]}, summary="无关图片", objects=[]), None, None),
    (
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "<image> hi"},
                    {"role": "assistant", "content": "hello"},
                ],
                "images": ["a.jpg"],
                "width": 4,
                "height": 4,
            }
        ).encode(),
        None,
        None,
    ),
    (
        json.dumps(
            {
                "messages": [{"role": "user", "content": "<image><image> hi"}],
                "images": ["a.jpg"],
                "width": 4,
                "height": 4,
            }
        ).encode(),
        "VD400",
        "messages[0].content",
    ),
    (json.dumps({"messages": [{"role": "robot", "content": "hi"}]}).encode(), "VD402", "messages[0].role"),
    (b'{"images": ["a.jpg"], "width": NaN, "height": 4, "summary": "x"}', "VD113", "width"),
    (
        b'{"images": ["a.jpg"], "width": 4, "height": 4, "objects": [{"desc": "a", "bbox_2d": [0, 0, Infinity, 1]}]}',
        "VD113",
        "objects[0].bbox_2d[2]",
    ),
    (b"[1, 2]", "VD102", None),
    (b'{"images": ', "VD101", None),
    (b'{"images": ["\xff.jpg"]}', "VD100", None),
]


@pytest.mark.parametrize(("line", "code", "field"), CASES)
def test_rule(line: bytes, code: str | None, field: str | None) -> None:
    record, issues = explain_line(line)
    if code is None:
        assert record is not None and issues == []
        return
    assert record is None
    assert (code, field) in [(i.code, i.field) for i in issues], issues


def test_all_issues_of_a_record_are_reported() -> None:
    line = rec(
        objects=[
            {"desc": "a", "bbox_2d": [9, 1, 1, 9]},
            {"desc": "b", "poly": [1, 1, 2, 2]},
            {"desc": "c", "line": [5, 5, 5, 5]},
        ]
    )
    _, issues = explain_line(line)
    assert [(i.code, i.field) for i in issues] == [
        ("VD200", "objects[0].bbox_2d"),
        ("VD202", "objects[1].poly"),
        ("VD204", "objects[2].line"),
    ]


def test_valid_record_round_trips() -> None:
    r = Record.model_validate_json(rec())
    assert (
        r.objects is not None
        and r.objects[0].kind == "bbox_2d"
        and r.objects[0].points == [1.0, 2.0, 30.0, 40.0]
    )
