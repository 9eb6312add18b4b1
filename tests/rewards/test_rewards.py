"""The reward table: every reward against hand-computed expectations, malformed inputs included."""

from __future__ import annotations

import json

import pytest
from vlmdata_plugins.rewards import REWARDS, get_reward

from vlmdata.errors import VlmdataError

SUMMARY = {"统计": [{"类别": "天线", "品牌": {"华为": 2}}, {"类别": "螺丝", "可见性": {"完整": 2}}]}
SUMMARY_LINE = json.dumps(SUMMARY, ensure_ascii=False)
RRU_SUMMARY = {"id": "s1", "summary": SUMMARY_LINE, "metadata": json.dumps({"_template": "summary_rru"})}
IRRELEVANT = {"id": "s2", "summary": "无关图片", "metadata": json.dumps({"_template": "summary_rru"})}
HEADER = "<DOMAIN=RRU>, <TASK=SUMMARY>"
HALF = json.dumps(
    {"统计": [{"类别": "天线", "品牌": {"华为": 1}}, {"类别": "螺丝", "可见性": {"部分": 1}}]},
    ensure_ascii=False,
)
REORDERED = json.dumps({"统计": [SUMMARY["统计"][1], SUMMARY["统计"][0]]}, ensure_ascii=False)

# (reward, completion, record, expected)
SUMMARY_TABLE = [
    # exact answer
    ("summary_format", f"{HEADER}\n{SUMMARY_LINE}", RRU_SUMMARY, 1.0),
    ("summary_header", f"{HEADER}\n{SUMMARY_LINE}", RRU_SUMMARY, 1.0),
    ("summary_parse", f"{HEADER}\n{SUMMARY_LINE}", RRU_SUMMARY, 1.0),
    ("summary_dataset", f"{HEADER}\n{SUMMARY_LINE}", RRU_SUMMARY, 1.0),
    ("summary_objects_total", f"{HEADER}\n{SUMMARY_LINE}", RRU_SUMMARY, 1.0),
    ("summary_content_f1", f"{HEADER}\n{SUMMARY_LINE}", RRU_SUMMARY, 1.0),
    ("summary_content", f"{HEADER}\n{SUMMARY_LINE}", RRU_SUMMARY, 1.0),
    # order of 统计 entries does not matter
    ("summary_content", f"{HEADER}\n{REORDERED}", RRU_SUMMARY, 1.0),
    ("summary_content_f1", f"{HEADER}\n{REORDERED}", RRU_SUMMARY, 1.0),
    # half right: totals 2 vs 4 → 1 / 3; facts tp 1 of 2 predicted, 4 reference → F1 1/3
    ("summary_objects_total", f"{HEADER}\n{HALF}", RRU_SUMMARY, 1 / 3),
    ("summary_content_f1", f"{HEADER}\n{HALF}", RRU_SUMMARY, 1 / 3),
    ("summary_content", f"{HEADER}\n{HALF}", RRU_SUMMARY, 0.0),
    # wrong header (domain)
    ("summary_header", f"<DOMAIN=BBU>, <TASK=SUMMARY>\n{SUMMARY_LINE}", RRU_SUMMARY, 0.0),
    ("summary_dataset", f"<DOMAIN=BBU>, <TASK=SUMMARY>\n{SUMMARY_LINE}", RRU_SUMMARY, 0.0),
    ("summary_format", f"<DOMAIN=BBU>, <TASK=SUMMARY>\n{SUMMARY_LINE}", RRU_SUMMARY, 1.0),
    ("summary_parse", f"<DOMAIN=BBU>, <TASK=SUMMARY>\n{SUMMARY_LINE}", RRU_SUMMARY, 1.0),
    # malformed JSON after a correct header: negative parse reward
    ("summary_parse", f'{HEADER}\n{{"统计": [', RRU_SUMMARY, -1.0),
    ("summary_format", f'{HEADER}\n{{"统计": [', RRU_SUMMARY, 0.0),
    ("summary_objects_total", f'{HEADER}\n{{"统计": [', RRU_SUMMARY, 0.0),
    ("summary_content_f1", f'{HEADER}\n{{"统计": [', RRU_SUMMARY, 0.0),
    # malformed with a wrong header: 0, not negative
    ("summary_parse", "<DOMAIN=X>\n{nope", RRU_SUMMARY, 0.0),
    # duplicate keys
    ("summary_parse", f'{HEADER}\n{{"统计": [], "统计": []}}', RRU_SUMMARY, -1.0),
    ("summary_format", f'{HEADER}\n{{"统计": [], "统计": []}}', RRU_SUMMARY, 1.0),
    # empty output
    ("summary_format", "", RRU_SUMMARY, 0.0),
    ("summary_header", "", RRU_SUMMARY, 0.0),
    ("summary_parse", "", RRU_SUMMARY, 0.0),
    ("summary_content_f1", "", RRU_SUMMARY, 0.0),
    # three lines
    ("summary_format", f"{HEADER}\n{SUMMARY_LINE}\nextra", RRU_SUMMARY, 0.0),
    # a relevant record answered as irrelevant
    ("summary_format", "无关图片", RRU_SUMMARY, 0.0),
    ("summary_content_f1", "无关图片", RRU_SUMMARY, 0.0),
    # irrelevant record: exactly 无关图片 and nothing else
    ("summary_format", "无关图片", IRRELEVANT, 1.0),
    ("summary_header", "无关图片", IRRELEVANT, 1.0),
    ("summary_parse", "无关图片", IRRELEVANT, 1.0),
    ("summary_content", "无关图片", IRRELEVANT, 1.0),
    ("summary_format", f"{HEADER}\n无关图片", IRRELEVANT, 0.0),
    ("summary_content_f1", f"{HEADER}\n{SUMMARY_LINE}", IRRELEVANT, 0.0),
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
