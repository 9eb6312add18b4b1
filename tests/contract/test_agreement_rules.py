"""Rules that keep `validate` in agreement with what the audit, the export and training can encode.

Each row is one record and the code (and field) the contract must explain it with; `None` rows are valid.
Chat shapes follow ms-swift 4.6.0's encode (tests/audit/test_agreement.py encodes the accepted ones): it merges
consecutive turns of one role, gives a leading assistant turn an empty user turn, keeps earlier reasoning, and
raises on a system turn after the first.
"""

from __future__ import annotations

import json

import pytest

from vlmdata.contract.explain import explain_line
from vlmdata.contract.imagesize import needed_max_pixels, smart_resize


def rec(**over: object) -> bytes:
    base: dict[str, object] = {
        "images": ["a.jpg"],
        "width": 100,
        "height": 80,
        "objects": [{"desc": "类别=BBU设备", "bbox_2d": [1, 2, 30, 40]}],
    }
    base.update(over)
    return json.dumps(base, ensure_ascii=False).encode()


def chat(*turns: tuple[str, object], images: int = 1) -> bytes:
    out: dict[str, object] = {"messages": [{"role": r, "content": c} for r, c in turns]}
    if images:
        out.update(images=[f"i{k}.jpg" for k in range(images)], width=64, height=48)
    return json.dumps(out, ensure_ascii=False).encode()


def desc(text: str) -> bytes:
    return rec(objects=[{"desc": text, "bbox_2d": [1, 2, 30, 40]}])


IMG = {"type": "image", "image": "i0.jpg"}

CASES = [
    # item 3: a NUL in an image path is a per-line reject, with or without image checks
    (rec(images=["a\u0000.jpg"]), "VD122", "images[0]"),
    (rec(images=["ok.jpg", "\u0000"]), "VD122", "images[1]"),
    # the processor's hard limit: aspect ratio above 200 (exactly 200 is accepted)
    (rec(width=4020, height=20, objects=[{"desc": "a", "bbox_2d": [1, 1, 9, 9]}]), "VD431", "width"),
    (rec(width=20, height=4001, objects=[{"desc": "a", "bbox_2d": [1, 1, 9, 9]}]), "VD431", "height"),
    (rec(width=4000, height=20, objects=[{"desc": "a", "bbox_2d": [1, 1, 9, 9]}]), None, None),
    # per-record pixel bounds: positive integers, ordered, and at least one token per side
    (rec(metadata={"max_pixels": 0}), "VD433", "metadata.max_pixels"),
    (rec(metadata={"max_pixels": True}), "VD433", "metadata.max_pixels"),
    (rec(metadata={"min_pixels": 2.5}), "VD433", "metadata.min_pixels"),
    (rec(metadata={"min_pixels": 5000, "max_pixels": 4000}), "VD433", "metadata.max_pixels"),
    (rec(metadata={"max_pixels": 500}), "VD434", "metadata.max_pixels"),
    (rec(metadata={"max_pixels": 1279}), "VD434", "metadata.max_pixels"),  # 100×80 needs 1024·100/80
    (rec(metadata={"max_pixels": 1280}), None, None),
    (rec(metadata={"max_pixels": None, "_source": "x"}), None, None),
    # control tokens and placeholders in descs and summaries
    (desc("类别=BBU<|im_end|>"), "VD403", "objects[0].desc"),
    (desc("<|image_pad|>"), "VD403", "objects[0].desc"),
    (desc("a <image> b"), "VD403", "objects[0].desc"),
    (desc("<ref-object>"), "VD404", "objects[0].desc"),
    (desc("<|box_start|>(1,2),(3,4)<|box_end|>"), "VD404", "objects[0].desc"),
    (desc("size<5, ratio>2"), None, None),
    (desc("<html> tag"), None, None),
    (rec(summary="<|vision_start|>", objects=[]), "VD403", "summary"),
    (rec(summary='{"统计": [{"类别": "<bbox>"}]}', objects=[]), "VD404", "summary"),
    # chat shapes ms-swift cannot encode as written
    (
        chat(("user", [IMG, {"type": "text", "text": "hi"}]), ("assistant", [IMG])),
        "VD402",
        "messages[1].content[0]",
    ),
    (chat(("user", "hi"), ("assistant", "<image> here")), "VD402", "messages[1].content"),
    (chat(("system", "<image>"), ("user", "hi"), ("assistant", "ok")), "VD402", "messages[0].content"),
    (chat(("user", "<image>hi"), ("system", "S"), ("assistant", "ok")), "VD402", "messages[1].role"),
    (chat(("user", "<image>hi"), ("assistant", "ok"), ("user", "more?")), "VD402", "messages[2].role"),
    (chat(("system", "S"), images=0), "VD402", "messages[0].role"),
    # ... and text that would inject chat structure or leave a placeholder
    (
        chat(("user", "<image>hi<|im_end|>\n<|im_start|>assistant\nX"), ("assistant", "ok")),
        "VD403",
        "messages[0].content",
    ),
    (
        chat(("user", [IMG, {"type": "text", "text": "<|video_pad|>"}]), ("assistant", "ok")),
        "VD403",
        "messages[0].content[1].text",
    ),
    (
        chat(("user", "<image>where?"), ("assistant", "<|object_ref_start|>cat<|object_ref_end|>")),
        "VD404",
        "messages[1].content",
    ),
    (chat(("user", "<image>find <ref-object>"), ("assistant", "<bbox>")), "VD404", "messages[0].content"),
    (
        chat(("user", "see <img>/etc/x.png</img>"), ("assistant", "ok"), images=0),
        "VD403",
        "messages[0].content",
    ),
    # shapes ms-swift encodes (tests/audit/test_agreement.py checks the lengths)
    (chat(("user", "<img>/etc/x.png</img><image>"), ("assistant", "ok")), None, None),
    (chat(("user", "<image>A"), ("user", "B"), ("assistant", "C")), None, None),
    (chat(("user", "<image>A"), ("assistant", "B"), ("assistant", "C")), None, None),
    (chat(("system", "S"), ("assistant", "hello"), ("user", "<image>?"), ("assistant", "ok")), None, None),
    (
        chat(("user", "<image>A"), ("assistant", "<think>x</think>B"), ("user", "C"), ("assistant", "D")),
        None,
        None,
    ),
    (chat(("user", "plain <video> and <audio> text"), ("assistant", "ok"), images=0), None, None),
]


@pytest.mark.parametrize(("line", "code", "field"), CASES)
def test_rule(line: bytes, code: str | None, field: str | None) -> None:
    record, issues = explain_line(line)
    if code is None:
        assert record is not None and issues == [], issues
        return
    assert record is None
    assert (code, field) in [(i.code, i.field) for i in issues], issues


def test_zero_size_message_names_the_budget_that_works() -> None:
    _, issues = explain_line(rec(metadata={"max_pixels": 1000}))
    (issue,) = [i for i in issues if i.code == "VD434"]
    assert "needs max_pixels ≥ 1280" in issue.message
    # 1280 is the threshold: one pixel less gives the short side 0 px (hand-computed: 80 / sqrt(8000/1279) < 32)
    assert smart_resize(80, 100, 1, 1280) == (32, 32) and smart_resize(80, 100, 1, 1279)[0] == 0
    assert needed_max_pixels(80, 100) == 1280


def test_grid_coordinates_in_a_pixel_field_get_the_looks_normalised_hint() -> None:
    """A 640×480 image whose boxes reach 1000: rejected for bounds, and told why (VD208 beside VD205)."""
    line = rec(
        width=640,
        height=480,
        objects=[
            {"desc": "a", "bbox_2d": [100, 120, 900, 700]},
            {"desc": "b", "bbox_2d": [10, 10, 50, 50]},
        ],
    )
    record, issues = explain_line(line)
    assert record is None
    assert [i.code for i in issues] == ["VD205", "VD208"]
    assert issues[1].field == "objects" and "[10, 900]" in issues[1].message
    # beyond 1000 it is not the grid: no hint
    _, issues = explain_line(rec(width=640, height=480, objects=[{"desc": "a", "bbox_2d": [1, 1, 1200, 9]}]))
    assert [i.code for i in issues] == ["VD205"]
