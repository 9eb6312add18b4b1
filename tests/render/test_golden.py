"""Golden files for every built-in template: the exact bytes of targets and conversations.

Regenerate after an intended format change with `VLMDATA_UPDATE_GOLDEN=1 pytest tests/render`, then review
the diff of tests/render/golden/ like any other code change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vlmdata.render import TEMPLATES, build_messages, get_template, render_target

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("VLMDATA_UPDATE_GOLDEN") == "1"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"missing golden file {path}; create it with VLMDATA_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def obj(desc: str, kind: str, points: list[float], image_index: int = 0) -> dict:
    return {
        "desc": desc,
        "kind": kind,
        "points": points,
        "image_index": image_index,
        "attributes": None,
        "metadata": None,
    }


def record(
    objects: list[dict],
    *,
    width: int = 1000,
    height: int = 500,
    images: int = 1,
    summary: str | None = None,
    messages: str | None = None,
    metadata: dict | None = None,
    rid: str = "r1",
) -> dict:
    return {
        "id": rid,
        "images": [f"/data/img/{rid}_{i}.jpg" for i in range(images)],
        "width": width,
        "height": height,
        "objects": objects,
        "summary": summary,
        "messages": messages,
        "metadata": json.dumps(metadata or {}, ensure_ascii=False),
        "source_file": "/data/train.jsonl",
        "source_line": 7,
    }


# Poly given counter-clockwise with a repeated closing vertex; line given right-to-left; CJK + quotes in descs.
MIXED = record(
    [
        obj("类别=光纤,颜色=黄|绿,可见性=部分", "line", [900.0, 10.0, 800.0, 20.0, 700.4, 30.6]),
        obj(
            "类别=螺丝,可见性=完整",
            "poly",
            [500.0, 100.0, 500.0, 200.0, 600.0, 200.0, 600.0, 100.0, 500.0, 100.0],
        ),
        obj('类别=标签,文字="5G"', "bbox_2d", [10.2, 400.7, 110.6, 480.1]),
        obj("类别=BBU设备,品牌=华为,可见性=完整", "bbox_2d", [100.0, 50.0, 300.0, 200.0]),
    ]
)

# Same box centre (500, 500) for a box, a polygon and a line, plus two nested boxes with one centre: ties are
# broken by kind (bbox, poly, line), then by the reference point (the larger box starts higher).
TIES = record(
    [
        obj("line", "line", [400.0, 200.0, 600.0, 300.0]),
        obj("poly", "poly", [400.0, 200.0, 600.0, 200.0, 500.0, 300.0]),
        obj("small box", "bbox_2d", [450.0, 225.0, 550.0, 275.0]),
        obj("big box", "bbox_2d", [400.0, 200.0, 600.0, 300.0]),
        obj("twin b", "bbox_2d", [0.0, 0.0, 10.0, 10.0]),
        obj("twin a", "bbox_2d", [0.0, 0.0, 10.0, 10.0]),
    ],
    width=1000,
    height=500,
)

# Out-of-canvas by < 0.5 px clamps to 0/1000; x = 1 and 5 on a 2000 px width are the half-way values 0.5 and
# 2.5 (half-up: 1 and 3); y = 0.25 on 500 px is 0.5.
CLAMP = record(
    [
        obj("edge", "bbox_2d", [-0.4, -0.3, 2000.4, 500.2]),
        obj("halves", "bbox_2d", [1.0, 0.25, 5.0, 1.75]),
        obj("tiny poly", "poly", [3.0, 0.1, 3.6, 0.1, 3.3, 0.2]),
    ],
    width=2000,
    height=500,
)

MULTI = record(
    [
        obj("类别=RRU设备,可见性=完整", "bbox_2d", [10.0, 10.0, 200.0, 300.0], image_index=1),
        obj("类别=天线", "poly", [600.0, 100.0, 700.0, 100.0, 650.0, 250.0], image_index=0),
        obj("类别=馈线", "line", [100.0, 450.0, 900.0, 400.0], image_index=1),
    ],
    images=2,
)

BBU_SUMMARY = (
    '{"统计": [{"类别": "BBU设备", "可见性": {"完整": 1}, "品牌": {"华为": 1}}], "备注": ["线缆整齐"]}'
)
RRU_SUMMARY = (
    '{"统计": [{"类别": "RRU设备", "可见性": {"完整": 2, "部分": 1}}], "分组统计": {"1": 2, "2": 1}}'
)

CHAT_STRING = record(
    [],
    images=2,
    messages=json.dumps(
        [
            {"role": "system", "content": "You compare pictures."},
            {"role": "user", "content": "<image>Picture A.\n<image>Which one shows a BBU?"},
            {"role": "assistant", "content": "图1 shows a BBU."},
            {"role": "user", "content": "And the cable colour?"},
            {"role": "assistant", "content": "黄色"},
        ],
        ensure_ascii=False,
    ),
)

CHAT_ITEMS = record(
    [],
    images=1,
    messages=json.dumps(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe "},
                    {"type": "image", "image": "x.jpg"},
                    {"type": "text", "text": " briefly."},
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "A cabinet."}]},
        ]
    ),
)

PLAIN_SUMMARY = '{"统计": [{"类别": "person", "pose": {"standing": 2}}, {"类别": "kite"}]}'

TARGET_CASES = [
    ("mixed", MIXED, ["target_dense_bbu", "target_dense_rru", "source_dense", "grounding", "grounding_qwen"]),
    ("ties", TIES, ["source_dense", "grounding_qwen"]),
    ("clamp", CLAMP, ["source_dense", "grounding_qwen"]),
    (
        "empty",
        record([], summary="无关图片"),
        ["target_dense_bbu", "source_dense", "grounding", "grounding_qwen"],
    ),
    ("multi", MULTI, ["target_dense_rru", "grounding", "grounding_qwen"]),
    ("plain_summary", record([], summary=PLAIN_SUMMARY), ["counting"]),
    ("irrelevant_counting", record([], summary="无关图片"), ["counting"]),
    ("generic_domain", {**MIXED, "metadata": '{"domain": "rru"}'}, ["target_dense", "summary_rru"]),
    ("bbu_summary", record([], summary=BBU_SUMMARY), ["summary_bbu"]),
    ("rru_summary", record([], summary=RRU_SUMMARY, metadata={"domain": "RRU"}), ["summary_rru", "summary"]),
    ("irrelevant", record([], summary="无关图片"), ["summary_bbu", "summary_rru", "summary"]),
    ("irrelevant_flag", record([], metadata={"irrelevant": True}), ["summary_bbu"]),
    ("chat_string", CHAT_STRING, ["chat"]),
    ("chat_items", CHAT_ITEMS, ["chat"]),
]


@pytest.mark.parametrize(("case", "rec", "template"), [(c, r, t) for c, r, ts in TARGET_CASES for t in ts])
def test_target_golden(case: str, rec: dict, template: str) -> None:
    if case == "generic_domain" and template == "summary_rru":
        rec = {**rec, "summary": RRU_SUMMARY}
    check_golden(f"target/{case}.{template}.txt", render_target(rec, template))


MESSAGE_CASES = [
    ("mixed", MIXED, "grounding"),
    ("multi", MULTI, "grounding_qwen"),
    ("plain_summary", record([], summary=PLAIN_SUMMARY, images=2), "counting"),
    ("mixed", MIXED, "target_dense_bbu"),
    ("multi", MULTI, "target_dense_rru"),
    ("bbu_summary", record([], summary=BBU_SUMMARY), "summary_bbu"),
    ("chat_string", CHAT_STRING, "chat"),
    ("chat_items", CHAT_ITEMS, "chat"),
]


@pytest.mark.parametrize(("case", "rec", "template"), MESSAGE_CASES)
def test_messages_golden(case: str, rec: dict, template: str) -> None:
    messages = build_messages(rec, template)
    check_golden(
        f"messages/{case}.{template}.json", json.dumps(messages, ensure_ascii=False, indent=1) + "\n"
    )


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_prompt_golden(name: str) -> None:
    """The prompt text is part of the trained model's interface: any change shows up as a reviewed diff."""
    t = get_template(name)
    text = f"# system\n{t.system or ''}\n# user, 1 image\n{t.prompt(1)}\n# user, 2+ images\n{t.prompt(2)}\n"
    check_golden(f"prompts/{name}.txt", text)
