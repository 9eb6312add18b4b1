"""The reward table: every reward against hand-computed expectations, malformed inputs included."""

from __future__ import annotations

import json
from typing import Any

import pytest
from vlmdata_plugins.rewards import REWARDS, get_reward

from vlmdata.errors import VlmdataError

SUMMARY = {"统计": [{"类别": "天线", "品牌": {"华为": 2}}, {"类别": "螺丝", "可见性": {"完整": 2}}]}
SUMMARY_LINE = json.dumps(SUMMARY, ensure_ascii=False)


def _record(rid: str, summary: Any, template: str, **meta: Any) -> dict[str, Any]:
    text = summary if isinstance(summary, str) else json.dumps(summary, ensure_ascii=False)
    return {"id": rid, "summary": text, "metadata": json.dumps({"_template": template, **meta})}


def _line(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


RRU_SUMMARY = _record("s1", SUMMARY, "summary_rru")
IRRELEVANT = _record("s2", "无关图片", "summary_rru")
# the generic template takes the domain from metadata.domain; an irrelevant record has none and needs none
IRRELEVANT_GENERIC = _record("s3", "无关图片", "summary")
GENERIC_RRU = _record("s4", SUMMARY, "summary", domain="rru")
HEADER = "<DOMAIN=RRU>, <TASK=SUMMARY>"
BBU_HEADER = "<DOMAIN=BBU>, <TASK=SUMMARY>"
HALF = _line({"统计": [{"类别": "天线", "品牌": {"华为": 1}}, {"类别": "螺丝", "可见性": {"部分": 1}}]})
REORDERED = _line({"统计": [SUMMARY["统计"][1], SUMMARY["统计"][0]]})
EXACT = f"{HEADER}\n{SUMMARY_LINE}"

# two attributes on the same two antennas: 2 objects, not 4
TWO_ATTRS = {"统计": [{"类别": "天线", "品牌": {"华为": 2}, "可见性": {"完整": 1, "部分": 1}}]}
RRU_TWO_ATTRS = _record("s5", TWO_ATTRS, "summary_rru")
ONE_ATTR = _line({"统计": [{"类别": "天线", "品牌": {"华为": 2}}]})
THREE = _line({"统计": [{"类别": "天线", "品牌": {"华为": 3}}]})
NO_COUNTS = _line({"统计": [{"类别": "天线"}]})

# BBU remarks (a multiset of notes) and RRU groups are facts too
BBU_NOTES = {"统计": [{"类别": "BBU设备", "品牌": {"华为": 1}}], "备注": ["线缆松动", "标签缺失"]}
BBU_REC = _record("b1", BBU_NOTES, "summary_bbu")
BBU_EXACT = f"{BBU_HEADER}\n{_line(BBU_NOTES)}"
BBU_NO_NOTES = f"{BBU_HEADER}\n{_line({'统计': BBU_NOTES['统计']})}"
BBU_NOTES_REORDERED = f"{BBU_HEADER}\n{_line({'备注': ['标签缺失', '线缆松动'], '统计': BBU_NOTES['统计']})}"
BBU_NOTE_TWICE = f"{BBU_HEADER}\n{_line({**BBU_NOTES, '备注': ['线缆松动', '线缆松动', '标签缺失']})}"
BBU_OTHER_NOTE = f"{BBU_HEADER}\n{_line({**BBU_NOTES, '备注': ['线缆松动', '螺丝缺失']})}"
BBU_WITH_GROUPS = f"{BBU_HEADER}\n{_line({**BBU_NOTES, '分组统计': {'1': 1}})}"
RRU_GROUPS = {"统计": [{"类别": "天线", "组": {"1": 2, "2": 1}}], "分组统计": {"1": 2, "2": 1}}
RRU_GROUP_REC = _record("r1", RRU_GROUPS, "summary_rru")
RRU_GROUP_EXACT = f"{HEADER}\n{_line(RRU_GROUPS)}"
RRU_NO_GROUPS = f"{HEADER}\n{_line({'统计': RRU_GROUPS['统计']})}"
RRU_WITH_NOTES = f"{HEADER}\n{_line({**RRU_GROUPS, '备注': ['x']})}"

# the neutral `counting` template: no header, the JSON line alone
COUNTING = _record("c1", SUMMARY, "counting")
COUNTING_IRRELEVANT = _record("c2", "无关图片", "counting")

# (reward, completion, record, expected)
SUMMARY_TABLE = [
    # exact answer: every reward at its best; the parse penalty is 0, never positive
    ("summary_format", EXACT, RRU_SUMMARY, 1.0),
    ("summary_header", EXACT, RRU_SUMMARY, 1.0),
    ("summary_parse", EXACT, RRU_SUMMARY, 0.0),
    ("summary_dataset", EXACT, RRU_SUMMARY, 1.0),
    ("summary_objects_total", EXACT, RRU_SUMMARY, 1.0),
    ("summary_content_f1", EXACT, RRU_SUMMARY, 1.0),
    ("summary_content", EXACT, RRU_SUMMARY, 1.0),
    # the generic template with metadata.domain behaves like the domain template
    ("summary_header", EXACT, GENERIC_RRU, 1.0),
    ("summary_dataset", EXACT, GENERIC_RRU, 1.0),
    ("summary_header", f"{BBU_HEADER}\n{SUMMARY_LINE}", GENERIC_RRU, 0.0),
    # order of 统计 entries does not matter
    ("summary_content", f"{HEADER}\n{REORDERED}", RRU_SUMMARY, 1.0),
    ("summary_content_f1", f"{HEADER}\n{REORDERED}", RRU_SUMMARY, 1.0),
    # half right: objects 1 + 1 vs 2 + 2 → 1 / (1 + 2); facts tp 1 of 2 predicted, 4 reference → F1 1/3
    ("summary_objects_total", f"{HEADER}\n{HALF}", RRU_SUMMARY, 1 / 3),
    ("summary_content_f1", f"{HEADER}\n{HALF}", RRU_SUMMARY, 1 / 3),
    ("summary_content", f"{HEADER}\n{HALF}", RRU_SUMMARY, 0.0),
    ("summary_parse", f"{HEADER}\n{HALF}", RRU_SUMMARY, 0.0),
    # object count: the largest attribute total per category, so dropping an attribute keeps it
    ("summary_objects_total", EXACT.replace(SUMMARY_LINE, _line(TWO_ATTRS)), RRU_TWO_ATTRS, 1.0),
    ("summary_objects_total", f"{HEADER}\n{ONE_ATTR}", RRU_TWO_ATTRS, 1.0),
    ("summary_objects_total", f"{HEADER}\n{THREE}", RRU_TWO_ATTRS, 1 / 2),  # 3 vs 2
    ("summary_objects_total", f"{HEADER}\n{NO_COUNTS}", RRU_TWO_ATTRS, 1 / 2),  # a bare category is 1 object
    # ... while the content F1 does notice the missing attribute: tp 2, pred 2, ref 4 → P 1, R 1/2, F1 2/3
    ("summary_content_f1", f"{HEADER}\n{ONE_ATTR}", RRU_TWO_ATTRS, 2 / 3),
    # wrong header (domain)
    ("summary_header", f"{BBU_HEADER}\n{SUMMARY_LINE}", RRU_SUMMARY, 0.0),
    ("summary_dataset", f"{BBU_HEADER}\n{SUMMARY_LINE}", RRU_SUMMARY, 0.0),
    ("summary_format", f"{BBU_HEADER}\n{SUMMARY_LINE}", RRU_SUMMARY, 1.0),
    ("summary_parse", f"{BBU_HEADER}\n{SUMMARY_LINE}", RRU_SUMMARY, 0.0),
    # line 1 must have the header shape: any text there is not a format
    ("summary_format", f"hello\n{SUMMARY_LINE}", RRU_SUMMARY, 0.0),
    ("summary_format", f"<DOMAIN=rru>, <TASK=SUMMARY>\n{SUMMARY_LINE}", RRU_SUMMARY, 0.0),
    ("summary_format", f"<DOMAIN=RRU>,<TASK=SUMMARY>\n{SUMMARY_LINE}", RRU_SUMMARY, 0.0),
    ("summary_format", f"<DOMAIN=RRU>, <TASK=DETECTION>\n{SUMMARY_LINE}", RRU_SUMMARY, 1.0),  # shape only
    ("summary_format", f"{HEADER}\n[1, 2]", RRU_SUMMARY, 0.0),  # line 2 not an object
    # ... but the parse penalty does not need a header
    ("summary_parse", f"hello\n{SUMMARY_LINE}", RRU_SUMMARY, 0.0),
    ("summary_header", f"hello\n{SUMMARY_LINE}", RRU_SUMMARY, 0.0),
    # malformed JSON: −1 with or without the right header
    ("summary_parse", f'{HEADER}\n{{"统计": [', RRU_SUMMARY, -1.0),
    ("summary_parse", "<DOMAIN=X>\n{nope", RRU_SUMMARY, -1.0),
    ("summary_format", f'{HEADER}\n{{"统计": [', RRU_SUMMARY, 0.0),
    ("summary_objects_total", f'{HEADER}\n{{"统计": [', RRU_SUMMARY, 0.0),
    ("summary_content_f1", f'{HEADER}\n{{"统计": [', RRU_SUMMARY, 0.0),
    # duplicate keys, 统计 not a list, one line without a header: −1
    ("summary_parse", f'{HEADER}\n{{"统计": [], "统计": []}}', RRU_SUMMARY, -1.0),
    ("summary_format", f'{HEADER}\n{{"统计": [], "统计": []}}', RRU_SUMMARY, 1.0),
    ("summary_parse", f'{HEADER}\n{{"统计": {{}}}}', RRU_SUMMARY, -1.0),
    ("summary_parse", SUMMARY_LINE, RRU_SUMMARY, -1.0),
    # empty output
    ("summary_format", "", RRU_SUMMARY, 0.0),
    ("summary_header", "", RRU_SUMMARY, 0.0),
    ("summary_parse", "", RRU_SUMMARY, -1.0),
    ("summary_content_f1", "", RRU_SUMMARY, 0.0),
    ("summary_objects_total", "", RRU_SUMMARY, 0.0),
    # three lines
    ("summary_format", f"{EXACT}\nextra", RRU_SUMMARY, 0.0),
    ("summary_parse", f"{EXACT}\nextra", RRU_SUMMARY, -1.0),
    # a relevant record answered as irrelevant
    ("summary_format", "无关图片", RRU_SUMMARY, 0.0),
    ("summary_header", "无关图片", RRU_SUMMARY, 0.0),
    ("summary_parse", "无关图片", RRU_SUMMARY, -1.0),
    ("summary_dataset", "无关图片", RRU_SUMMARY, 0.0),
    ("summary_objects_total", "无关图片", RRU_SUMMARY, 0.0),
    ("summary_content_f1", "无关图片", RRU_SUMMARY, 0.0),
    ("summary_content", "无关图片", RRU_SUMMARY, 0.0),
    # irrelevant record: exactly 无关图片, no header
    ("summary_format", "无关图片", IRRELEVANT, 1.0),
    ("summary_header", "无关图片", IRRELEVANT, 1.0),
    ("summary_parse", "无关图片", IRRELEVANT, 0.0),
    ("summary_dataset", "无关图片", IRRELEVANT, 1.0),
    ("summary_objects_total", "无关图片", IRRELEVANT, 1.0),
    ("summary_content_f1", "无关图片", IRRELEVANT, 1.0),
    ("summary_content", "无关图片", IRRELEVANT, 1.0),
    ("summary_format", f"{HEADER}\n无关图片", IRRELEVANT, 0.0),
    ("summary_header", f"{HEADER}\n无关图片", IRRELEVANT, -1.0),  # a header there is wrong
    ("summary_parse", f"{HEADER}\n无关图片", IRRELEVANT, -1.0),
    ("summary_header", EXACT, IRRELEVANT, -1.0),
    ("summary_header", f"{BBU_HEADER}\n{{}}", IRRELEVANT, -1.0),
    ("summary_format", EXACT, IRRELEVANT, 1.0),  # the shape is right; the header reward says it is wrong
    ("summary_parse", EXACT, IRRELEVANT, 0.0),
    ("summary_dataset", EXACT, IRRELEVANT, 0.0),
    ("summary_content_f1", EXACT, IRRELEVANT, 0.0),
    ("summary_objects_total", EXACT, IRRELEVANT, 0.0),
    ("summary_content", EXACT, IRRELEVANT, 0.0),
    ("summary_header", "no idea", IRRELEVANT, 0.0),
    ("summary_parse", "no idea", IRRELEVANT, -1.0),
    # the generic `summary` template on an irrelevant record: no domain needed, nothing raises
    ("summary_format", "无关图片", IRRELEVANT_GENERIC, 1.0),
    ("summary_header", "无关图片", IRRELEVANT_GENERIC, 1.0),
    ("summary_parse", "无关图片", IRRELEVANT_GENERIC, 0.0),
    ("summary_dataset", "无关图片", IRRELEVANT_GENERIC, 1.0),
    ("summary_objects_total", "无关图片", IRRELEVANT_GENERIC, 1.0),
    ("summary_content_f1", "无关图片", IRRELEVANT_GENERIC, 1.0),
    ("summary_content", "无关图片", IRRELEVANT_GENERIC, 1.0),
    ("summary_header", EXACT, IRRELEVANT_GENERIC, -1.0),
    ("summary_dataset", EXACT, IRRELEVANT_GENERIC, 0.0),
    ("summary_content_f1", EXACT, IRRELEVANT_GENERIC, 0.0),
    # BBU 备注: notes are a multiset of facts (order-insensitive); leaving them out costs recall
    ("summary_content_f1", BBU_EXACT, BBU_REC, 1.0),
    ("summary_content", BBU_EXACT, BBU_REC, 1.0),
    ("summary_content_f1", BBU_NOTES_REORDERED, BBU_REC, 1.0),
    ("summary_content", BBU_NOTES_REORDERED, BBU_REC, 1.0),
    # no notes: tp 1, pred 1, ref 1 + 2 notes → P 1, R 1/3, F1 1/2
    ("summary_content_f1", BBU_NO_NOTES, BBU_REC, 1 / 2),
    ("summary_content", BBU_NO_NOTES, BBU_REC, 0.0),
    # a note twice: pred 1 + 3, tp 1 + 1 + 1 → P 3/4, R 1, F1 6/7
    ("summary_content_f1", BBU_NOTE_TWICE, BBU_REC, 6 / 7),
    ("summary_content", BBU_NOTE_TWICE, BBU_REC, 0.0),
    # one note wrong: pred 3, ref 3, tp 2 → F1 2/3
    ("summary_content_f1", BBU_OTHER_NOTE, BBU_REC, 2 / 3),
    # domain gate: a BBU answer carrying 分组统计 scores 0
    ("summary_content_f1", BBU_WITH_GROUPS, BBU_REC, 0.0),
    ("summary_objects_total", BBU_EXACT, BBU_REC, 1.0),
    # RRU 分组统计: group sizes are facts; no groups: tp 3, pred 3, ref 3 + 3 → P 1, R 1/2, F1 2/3
    ("summary_content_f1", RRU_GROUP_EXACT, RRU_GROUP_REC, 1.0),
    ("summary_content_f1", RRU_NO_GROUPS, RRU_GROUP_REC, 2 / 3),
    ("summary_content", RRU_NO_GROUPS, RRU_GROUP_REC, 0.0),
    # domain gate: an RRU answer carrying 备注 scores 0
    ("summary_content_f1", RRU_WITH_NOTES, RRU_GROUP_REC, 0.0),
    # a template without a header: one JSON line; a header line makes it the wrong shape
    ("summary_format", SUMMARY_LINE, COUNTING, 1.0),
    ("summary_header", SUMMARY_LINE, COUNTING, 1.0),
    ("summary_parse", SUMMARY_LINE, COUNTING, 0.0),
    ("summary_dataset", SUMMARY_LINE, COUNTING, 1.0),
    ("summary_objects_total", SUMMARY_LINE, COUNTING, 1.0),
    ("summary_content_f1", SUMMARY_LINE, COUNTING, 1.0),
    ("summary_content", SUMMARY_LINE, COUNTING, 1.0),
    ("summary_format", EXACT, COUNTING, 0.0),
    ("summary_header", EXACT, COUNTING, 0.0),
    ("summary_parse", EXACT, COUNTING, -1.0),
    # no domain, so no gate on 备注: pred 4 + 1 note, ref 4, tp 4 → P 4/5, R 1, F1 8/9
    ("summary_content_f1", _line({**SUMMARY, "备注": ["x"]}), COUNTING, 8 / 9),
    ("summary_content_f1", f"{HEADER}\n{_line({**SUMMARY, '备注': ['x']})}", RRU_SUMMARY, 0.0),  # RRU: gated
    ("summary_format", "无关图片", COUNTING_IRRELEVANT, 1.0),
    ("summary_header", "无关图片", COUNTING_IRRELEVANT, 1.0),
    ("summary_header", EXACT, COUNTING_IRRELEVANT, -1.0),
    ("summary_parse", "无关图片", COUNTING_IRRELEVANT, 0.0),
    ("summary_parse", SUMMARY_LINE, COUNTING_IRRELEVANT, 0.0),
    ("summary_content_f1", SUMMARY_LINE, COUNTING_IRRELEVANT, 0.0),
    # a trailing chat end token or whitespace changes nothing
    ("summary_format", EXACT + "<|im_end|>", RRU_SUMMARY, 1.0),
    ("summary_parse", EXACT + "\n<|im_end|>\n", RRU_SUMMARY, 0.0),
    ("summary_content", EXACT + "  \n", RRU_SUMMARY, 1.0),
    ("summary_format", "无关图片<|im_end|>", IRRELEVANT, 1.0),
    ("summary_header", "无关图片<|im_end|>", IRRELEVANT, 1.0),
    ("summary_format", "无关图片<|im_end|>", RRU_SUMMARY, 0.0),
]

BOX = {"desc": "类别=BBU设备,品牌=华为,可见性=完整", "kind": "bbox_2d", "points": [100, 100, 300, 300]}
LINE = {"desc": "类别=线缆", "kind": "line", "points": [500, 800, 900, 800]}
DENSE = {
    "id": "d1",
    "images": ["x.jpg"],
    "width": 1000,
    "height": 1000,
    "objects": [BOX, LINE],
    "metadata": json.dumps({"_template": "target_dense_bbu"}),
}
GENERIC = {
    "id": "d2",
    "images": ["x.jpg"],
    "width": 1000,
    "height": 1000,
    "objects": [{"desc": "person", "kind": "bbox_2d", "points": [0, 0, 100, 100]}],
    "metadata": json.dumps({"_template": "source_dense"}),
}
DH = "<DOMAIN=BBU>, <TASK=DETECTION>"
EXACT = json.dumps(
    {
        "object_1": {"desc": BOX["desc"], "bbox_2d": [100, 100, 300, 300]},
        "object_2": {"desc": "类别=线缆", "line_points": 2, "line": [[500, 800], [900, 800]]},
    },
    ensure_ascii=False,
)
# the box shifted right by 50 → IoU 150*200/(2*40000-30000) = 0.6; wrong 品牌; line missing
SHIFTED = json.dumps(
    {"object_1": {"desc": "类别=BBU设备,品牌=中兴,可见性=完整", "bbox_2d": [150, 100, 350, 300]}},
    ensure_ascii=False,
)
# F2 at thresholds .50/.55/.60 (tp 1, P 1, R .5): 5*.5/(4*.5+1)... = 5*1*.5/(4*1+.5) = 2.5/4.5; else 0
F2_SHIFTED = 3 * (2.5 / 4.5) / 10

DENSE_TABLE = [
    ("dense_format", f"{DH}\n{EXACT}", DENSE, 1.0),
    ("dense_parse", f"{DH}\n{EXACT}", DENSE, 1.0),
    ("dense_loc_fbeta", f"{DH}\n{EXACT}", DENSE, 1.0),
    ("dense_cat_f1", f"{DH}\n{EXACT}", DENSE, 1.0),
    ("dense_attr_recall", f"{DH}\n{EXACT}", DENSE, 1.0),
    ("dense_loc_fbeta", f"{DH}\n{SHIFTED}", DENSE, F2_SHIFTED),
    ("dense_cat_f1", f"{DH}\n{SHIFTED}", DENSE, 2 * (1.0 * 0.5) / 1.5),
    (
        "dense_attr_recall",
        f"{DH}\n{SHIFTED}",
        DENSE,
        1 / 2,
    ),  # 可见性=完整 of {品牌=华为, 可见性=完整}; 线缆 has none
    # wrong domain in the header
    ("dense_format", f"<DOMAIN=RRU>, <TASK=DETECTION>\n{EXACT}", DENSE, 0.0),
    # header missing where one is expected
    ("dense_format", EXACT, DENSE, 0.0),
    ("dense_parse", EXACT, DENSE, 0.0),
    ("dense_loc_fbeta", EXACT, DENSE, 1.0),  # content still scored
    # flat list tolerated for scoring, not for the strict parse
    (
        "dense_parse",
        f'{DH}\n{{"object_1": {{"desc": "类别=线缆", "line_points": 2, "line": [500, 800, 900, 800]}}}}',
        DENSE,
        0.0,
    ),
    # duplicate keys, malformed, empty
    (
        "dense_parse",
        f'{DH}\n{{"object_1": {{"desc": "a", "bbox_2d": [1, 2, 3, 4]}}, "object_1": {{"desc": "a", "bbox_2d": [1, 2, 3, 4]}}}}',
        DENSE,
        0.0,
    ),
    (
        "dense_loc_fbeta",
        f'{DH}\n{{"object_1": {{"desc": "a", "bbox_2d": [1, 2, 3, 4]}}, "object_1": {{"desc": "a", "bbox_2d": [1, 2, 3, 4]}}}}',
        DENSE,
        0.0,
    ),
    ("dense_format", f'{DH}\n{{"object_1": ', DENSE, 0.0),
    ("dense_loc_fbeta", f'{DH}\n{{"object_1": ', DENSE, 0.0),
    ("dense_format", "", DENSE, 0.0),
    ("dense_cat_f1", "", DENSE, 0.0),
    ("dense_attr_recall", "", DENSE, 0.0),
    # source_dense: no header wanted
    ("dense_format", json.dumps({"object_1": {"desc": "person", "bbox_2d": [0, 0, 100, 100]}}), GENERIC, 1.0),
    ("dense_parse", json.dumps({"object_1": {"desc": "person", "bbox_2d": [0, 0, 100, 100]}}), GENERIC, 1.0),
    (
        "dense_format",
        DH + "\n" + json.dumps({"object_1": {"desc": "person", "bbox_2d": [0, 0, 100, 100]}}),
        GENERIC,
        0.0,
    ),
    ("dense_loc_fbeta", "{}", GENERIC, 0.0),
]


@pytest.mark.parametrize(("name", "completion", "record", "expected"), SUMMARY_TABLE + DENSE_TABLE)
def test_reward_table(name: str, completion: str, record: dict, expected: float) -> None:
    assert get_reward(name)(completion, record) == pytest.approx(expected)


END_VARIANTS = ["<|im_end|>", " \n", "<|im_end|>\n", "\n<|im_end|><|im_end|>  ", "<|endoftext|>"]


@pytest.mark.parametrize("suffix", END_VARIANTS)
def test_trailing_end_token_and_whitespace_never_change_a_reward(suffix: str) -> None:
    for name, completion, record, expected in SUMMARY_TABLE + DENSE_TABLE:
        got = get_reward(name)(completion + suffix, record)
        assert got == pytest.approx(expected), (name, completion, suffix)


def test_parse_penalty_is_never_positive() -> None:
    parse = get_reward("summary_parse")
    completions = {row[1] for row in SUMMARY_TABLE}
    records = [RRU_SUMMARY, IRRELEVANT, IRRELEVANT_GENERIC, BBU_REC, RRU_GROUP_REC]
    assert {parse(c, r) for c in completions for r in records} == {0.0, -1.0}


def test_summary_format_against_its_definition() -> None:
    """The format reward against a direct reading of its definition, on generated line-1/line-2 pairs."""
    import re

    shape = re.compile(r"^<DOMAIN=[A-Z]+>, <TASK=[A-Z]+>$")
    firsts = [
        HEADER,
        BBU_HEADER,
        "<DOMAIN=X>, <TASK=Y>",
        "<DOMAIN=>, <TASK=SUMMARY>",
        "hello",
        "",
        "无关图片",
    ]
    seconds = [SUMMARY_LINE, "{}", "[]", "{", "无关图片", '"text"', "null"]
    fmt = get_reward("summary_format")
    for first in firsts:
        for second in seconds:
            try:
                is_object = isinstance(json.loads(second), dict)
            except ValueError:
                is_object = False
            expected = 1.0 if shape.match(first) and is_object else 0.0
            assert fmt(f"{first}\n{second}", RRU_SUMMARY) == expected, (first, second)


def test_every_reward_is_in_the_table() -> None:
    covered = {row[0] for row in SUMMARY_TABLE + DENSE_TABLE}
    assert covered == set(REWARDS)


def test_unknown_reward_and_missing_template() -> None:
    with pytest.raises(VlmdataError) as err:
        get_reward("summary_fromat")
    assert "summary_format" in str(err.value)
    with pytest.raises(VlmdataError):
        get_reward("summary_format")("无关图片", {"id": "x", "summary": "无关图片"})


def test_rewards_doc_is_current() -> None:
    from pathlib import Path

    from vlmdata_plugins.rewards.registry import render_rewards_markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "rewards.md"
    assert doc.read_text(encoding="utf-8") == render_rewards_markdown(), (
        "run `python -m vlmdata_plugins.rewards.registry > docs/rewards.md`"
    )
