from __future__ import annotations

import pytest

from vlmdata.eval.parse import (
    desc_attributes,
    desc_category,
    parse_dense,
    parse_summary,
    summary_facts,
    summary_object_count,
)

GOOD = (
    "<DOMAIN=BBU>, <TASK=DETECTION>\n"
    '{"object_1": {"desc": "类别=BBU设备,品牌=华为", "bbox_2d": [10, 20, 110, 220]}, '
    '"object_2": {"desc": "类别=标签", "poly": [[0, 0], [100, 0], [100, 100]]}, '
    '"object_3": {"desc": "类别=线缆", "line_points": 2, "line": [[5, 5], [500, 5]]}}'
)


def test_strict_dense() -> None:
    p = parse_dense(GOOD, expect_header=True)
    assert p.ok and p.strict_ok and p.format_ok and p.header == ("BBU", "DETECTION")
    assert [o.kind for o in p.objects] == ["bbox_2d", "poly", "line"]
    assert p.objects[1].points == [0, 0, 100, 0, 100, 100]
    assert p.objects[0].category == "BBU设备"


@pytest.mark.parametrize(
    ("text", "ok", "strict", "needle"),
    [
        ('{"object_1": {"desc": "person", "poly": [0, 0, 10, 0, 10, 10]}}', True, False, "flat list"),
        (
            '{"object_1": {"desc": "a", "bbox_2d": [1, 2, 3, 4]}, "object_1": {"desc": "b", "bbox_2d": [1, 2, 3, 4]}}',
            False,
            False,
            "duplicate key",
        ),
        (
            '{"object_1": {"desc": "a", "bbox_2d": [1, 2, 3, 4], "poly": [[0, 0], [1, 0], [1, 1]]}}',
            False,
            False,
            "exactly one geometry",
        ),
        ('{"object_1": {"desc": "a", "bbox_2d": [5, 2, 3, 4]}}', False, False, "inverted"),
        ('{"object_1": {"desc": "a", "bbox_2d": [1, 2, 3, 1001]}}', False, False, "outside 0–1000"),
        ('{"object_2": {"desc": "a", "bbox_2d": [1, 2, 3, 4]}}', True, False, "object_1..object_N"),
        ('{"object_1": {"desc": "a", "line": [[0, 0], [9, 9]]}}', True, False, "line_points missing"),
        (
            '{"object_1": {"desc": "a", "line_points": 3, "line": [[0, 0], [9, 9]]}}',
            False,
            False,
            "line_points 3",
        ),
        ('{"object_1": {"desc": "a", "bbox_2d": [1, 2, 3, 4]', False, False, "does not parse"),
        ("", False, False, "empty"),
        ("a\nb\nc", False, False, "1 or 2 lines"),
        ('{"foo": 1}', False, False, "unexpected key"),
    ],
)
def test_dense_tolerance_is_honest(text: str, ok: bool, strict: bool, needle: str) -> None:
    p = parse_dense(text)
    assert p.ok is ok and p.strict_ok is strict
    assert any(needle in issue for issue in p.issues), p.issues


def test_header_expectations() -> None:
    body = '{"object_1": {"desc": "a", "bbox_2d": [1, 2, 3, 4]}}'
    assert parse_dense(body, expect_header=False).format_ok
    assert not parse_dense(body, expect_header=True).format_ok
    assert not parse_dense("<DOMAIN=BBU>, <TASK=SUMMARY>\n" + body).format_ok
    assert not parse_dense("BBU detection\n" + body).format_ok


def test_summary_parsing_and_facts() -> None:
    text = '<DOMAIN=RRU>, <TASK=SUMMARY>\n{"统计": [{"类别": "天线", "品牌": {"华为": 2, "中兴": 1}}, {"类别": "螺丝", "可见性": {"完整": 3}}]}'
    s = parse_summary(text)
    assert s.ok and s.header == ("RRU", "SUMMARY")
    assert summary_facts(s.data) == {
        ("天线", "品牌", "华为"): 2,
        ("天线", "品牌", "中兴"): 1,
        ("螺丝", "可见性", "完整"): 3,
    }
    assert summary_object_count(s.data) == 6
    assert parse_summary("无关图片").irrelevant
    assert parse_summary('<DOMAIN=RRU>, <TASK=SUMMARY>\n{"统计": [], "统计": []}').duplicate_keys
    assert not parse_summary('<DOMAIN=RRU>, <TASK=SUMMARY>\n{"统计": {}}').ok
    assert not parse_summary("<DOMAIN=RRU>, <TASK=SUMMARY>\n{nope").format_ok


def test_desc_tokens() -> None:
    assert desc_category("类别=BBU设备,品牌=华为|中兴") == "BBU设备"
    assert desc_category("person") == "person"
    assert desc_attributes("类别=BBU设备,品牌=华为|中兴,可见性=完整") == {
        "品牌": frozenset({"华为", "中兴"}),
        "可见性": frozenset({"完整"}),
    }
