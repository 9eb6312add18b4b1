"""Rules of the dense renderer, template resolution, prompts and the conversation builder."""

from __future__ import annotations

import json
import random
import re

import pytest

from vlmdata.errors import VlmdataError
from vlmdata.render import (
    TEMPLATES,
    build_messages,
    get_template,
    render_target,
    resolve_template,
    to_swift_standard,
)
from vlmdata.render.grid import to_grid


def obj(desc: str, kind: str, points: list[float], image_index: int = 0) -> dict:
    return {
        "desc": desc,
        "kind": kind,
        "points": points,
        "image_index": image_index,
        "attributes": None,
        "metadata": None,
    }


def rec(objects: list[dict], **kw: object) -> dict:
    base = {
        "id": "x",
        "images": ["/i/a.jpg"],
        "width": 640,
        "height": 480,
        "objects": objects,
        "summary": None,
        "messages": None,
        "metadata": "{}",
        "source_file": "f.jsonl",
        "source_line": 3,
    }
    base.update(kw)
    return base


def random_objects(rng: random.Random, n: int, w: int = 640, h: int = 480) -> list[dict]:
    out = []
    for i in range(n):
        kind = rng.choice(["bbox_2d", "poly", "line"])
        if kind == "bbox_2d":
            x1, x2 = sorted(rng.uniform(0, w) for _ in range(2))
            y1, y2 = sorted(rng.uniform(0, h) for _ in range(2))
            pts = [x1, y1, x2 + 1, y2 + 1]
        else:
            k = rng.randint(3, 7) if kind == "poly" else rng.randint(2, 6)
            pts = [c for _ in range(k) for c in (rng.uniform(0, w), rng.uniform(0, h))]
        out.append(obj(f"类别=设备{i % 4},编号={i}", kind, [min(max(v, 0.0), 640.0) for v in pts]))
    return out


def _poly_area2(pts: list[list[int]]) -> int:
    n = len(pts)
    return sum(pts[i][0] * pts[(i + 1) % n][1] - pts[(i + 1) % n][0] * pts[i][1] for i in range(n))


@pytest.mark.parametrize("seed", range(6))
def test_dense_target_rules_hold_on_random_records(seed: int) -> None:
    rng = random.Random(seed)
    objects = random_objects(rng, rng.randint(1, 25))
    r = rec(objects)
    text = render_target(r, "target_dense_bbu")
    header, body = text.split("\n")
    assert header == "<DOMAIN=BBU>, <TASK=DETECTION>"
    data = json.loads(body)
    assert list(data) == [f"object_{i}" for i in range(1, len(objects) + 1)]
    assert body == json.dumps(data, ensure_ascii=False, separators=(", ", ": "))
    keys = []
    for entry in data.values():
        kind = next(k for k in ("bbox_2d", "poly", "line") if k in entry)
        order = ["desc", "line_points", "line"] if kind == "line" else ["desc", kind]
        assert list(entry) == order
        flat = entry[kind] if kind == "bbox_2d" else [c for p in entry[kind] for c in p]
        assert all(isinstance(v, int) and 0 <= v <= 1000 for v in flat)
        if kind == "line":
            assert entry["line_points"] == len(entry["line"])
            assert tuple(entry["line"][-1]) >= tuple(entry["line"][0])
        if kind == "poly":
            pts = entry["poly"]
            if _poly_area2(pts) != 0:
                assert _poly_area2(pts) > 0, "polygons run clockwise on screen"
                assert min((p[1], p[0]) for p in pts) == (pts[0][1], pts[0][0])
        xs, ys = flat[0::2], flat[1::2]
        keys.append((min(ys) + max(ys), min(xs) + max(xs)))
    assert keys == sorted(keys), "objects are in reading order of their box centres"
    shuffled = objects[:]
    rng.shuffle(shuffled)
    assert render_target(rec(shuffled), "target_dense_bbu") == text, "order never depends on the input order"


def test_grid_is_half_up_and_clamped() -> None:
    assert to_grid([1.0, 0.25, 5.0, 1.75], 2000, 500) == [1, 1, 3, 4]
    assert to_grid([-3.0, -1.0, 2001.0, 600.0], 2000, 500) == [0, 0, 1000, 1000]
    assert to_grid([319.99, 240.0], 640, 480) == [500, 500]


def test_source_dense_has_no_header_and_objects_override() -> None:
    r = rec([obj("person", "bbox_2d", [0, 0, 64, 48])])
    assert render_target(r, "source_dense") == '{"object_1": {"desc": "person", "bbox_2d": [0, 0, 100, 100]}}'
    moved = [obj("person", "bbox_2d", [64, 48, 128, 96])]
    assert (
        render_target(r, "source_dense", objects=moved)
        == '{"object_1": {"desc": "person", "bbox_2d": [100, 100, 200, 200]}}'
    )
    assert render_target(r, "source_dense", objects=[]) == "{}"


def test_resolve_template_rules() -> None:
    plain = rec([])
    assert resolve_template(plain, "source_dense") == "source_dense"
    assert (
        resolve_template({**plain, "metadata": '{"_template": "summary_rru"}'}, "source_dense")
        == "summary_rru"
    )
    chat = {
        **plain,
        "messages": '[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]',
    }
    assert resolve_template(chat, "target_dense_bbu") == "chat"
    assert resolve_template({**plain, "messages": []}, "source_dense") == "source_dense"
    assert resolve_template({**plain, "messages": "[]"}, "source_dense") == "source_dense"
    assert resolve_template({**chat, "metadata": '{"_template": "source_dense"}'}, "chat") == "source_dense"
    with pytest.raises(VlmdataError) as err:
        resolve_template({**plain, "metadata": '{"_template": "dense_typo"}'}, "chat")
    assert err.value.code_str == "VD410"
    with pytest.raises(VlmdataError) as err:
        resolve_template(plain, None)
    assert err.value.code_str == "VD410"


def test_summary_template_keeps_its_prompt_on_irrelevant_records() -> None:
    irrelevant = rec([], summary="无关图片")
    relevant = rec([], summary='{"统计": []}')
    a = build_messages(irrelevant, "summary_bbu")
    b = build_messages(relevant, "summary_bbu")
    assert a[:2] == [{**m} for m in b[:2]]
    assert a[-1]["content"] == "无关图片"
    assert b[-1]["content"] == '<DOMAIN=BBU>, <TASK=SUMMARY>\n{"统计": []}'


PLACEHOLDER = re.compile(
    r"\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}|\{\{|\}\}|<(?!DOMAIN=|TASK=)[A-Za-z_ ]+>|TODO|XXX|\$\{"
)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_prompts_are_real_text_without_placeholders(name: str) -> None:
    from vlmdata.contract.text import text_issues

    t = get_template(name)
    for text in (t.prompt(1), t.prompt(3), t.system or ""):
        assert not PLACEHOLDER.search(text), f"{name}: placeholder-like text {PLACEHOLDER.search(text)!r}"
        assert "\n" not in text
        assert text_issues(text, "prompt", "system") == []  # no control token, placeholder or media tag
    if t.mode != "chat":
        assert len(t.prompt(1)) > 80 and t.system
        assert t.prompt(1) in t.prompt(2) and t.prompt(2) != t.prompt(1)
        if t.domain:
            assert f"<DOMAIN={t.domain}>, <TASK={t.task}>" in t.prompt(1)


def test_build_messages_layout_and_images() -> None:
    r = rec([obj("a", "bbox_2d", [0, 0, 10, 10])], images=["/i/a.jpg", "/i/b.jpg"])
    msgs = build_messages(r, "source_dense")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant"]
    assert msgs[1]["content"][:2] == [
        {"type": "image", "image": "/i/a.jpg"},
        {"type": "image", "image": "/i/b.jpg"},
    ]
    assert msgs[1]["content"][2] == {"type": "text", "text": get_template("source_dense").prompt(2)}
    pil_like = [object(), object()]
    msgs = build_messages(r, "source_dense", images=pil_like, system="")
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    assert [it["image"] for it in msgs[0]["content"][:2]] == pil_like
    flat, imgs = to_swift_standard(build_messages(r, "source_dense", system="S"))
    assert flat[0] == {"role": "system", "content": "S"}
    assert flat[1]["content"] == "<image><image>" + get_template("source_dense").prompt(2)
    assert imgs == ["/i/a.jpg", "/i/b.jpg"]
    with pytest.raises(VlmdataError) as err:
        build_messages(r, "source_dense", images=["/only/one.jpg"])
    assert err.value.code_str == "VD418"


def test_chat_normalisation_round_trips_to_swift_strings() -> None:
    msgs = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "<image>left <image>right<image>"},
        {"role": "assistant", "content": "ok"},
    ]
    r = rec([], images=["/a", "/b", "/c"], messages=json.dumps(msgs))
    built = build_messages(r, "chat")
    flat, imgs = to_swift_standard(built)
    assert flat == msgs and imgs == ["/a", "/b", "/c"]
    over = build_messages(r, "chat", system="other")
    assert over[0] == {"role": "system", "content": "other"} and sum(m["role"] == "system" for m in over) == 1
    with pytest.raises(VlmdataError) as err:
        build_messages({**r, "images": ["/a"]}, "chat")
    assert err.value.code_str == "VD418"


def test_chat_turns_take_the_shape_ms_swift_encodes() -> None:
    """Consecutive turns of one role merge as ms-swift merges them (plain concatenation); an opening assistant
    turn gets an empty user turn before it (tests/audit/test_agreement.py encodes both with ms-swift)."""
    msgs = [
        {"role": "system", "content": "S"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "<image>A"},
        {"role": "user", "content": [{"type": "text", "text": " and "}, {"type": "image", "image": "x"}]},
        {"role": "assistant", "content": "B"},
        {"role": "assistant", "content": "C"},
    ]
    r = rec([], images=["/a", "/b"], messages=json.dumps(msgs))
    built = build_messages(r, "chat")
    assert [m["role"] for m in built] == ["system", "user", "assistant", "user", "assistant"]
    assert built[1]["content"] == []
    assert built[3]["content"] == [
        {"type": "image", "image": "/a"},
        {"type": "text", "text": "A"},
        {"type": "text", "text": " and "},
        {"type": "image", "image": "/b"},
    ]
    assert built[4]["content"] == "BC"
    flat, imgs = to_swift_standard(built)
    assert flat[3]["content"] == "<image>A and <image>" and imgs == ["/a", "/b"]
    assert json.loads(r["messages"]) == msgs  # the record itself is untouched
    # no system turn: the empty user turn comes first; prompt-only keeps everything up to the last user turn
    r2 = rec([], images=[], messages=json.dumps(msgs[1:2] + msgs[4:6]))
    assert [m["role"] for m in build_messages(r2, "chat")] == ["user", "assistant"]
    assert build_messages(r2, "chat")[1]["content"] == "Hello.BC"


@pytest.mark.parametrize(
    ("record_kw", "template", "code"),
    [
        ({}, "target_dense", "VD411"),
        ({"metadata": '{"domain": "B<U"}'}, "summary", "VD411"),
        ({"metadata": '{"domain": "generic"}'}, "target_dense", "VD411"),
        ({}, "summary_bbu", "VD412"),
        ({"summary": "{not json"}, "summary_bbu", "VD413"),
        ({"summary": '{"统计": [], "统计": []}'}, "summary_bbu", "VD413"),
        ({"summary": '{"统计": [{"类别": "a"}], "分组统计": {"1": 1}}'}, "summary_bbu", "VD414"),
        ({"summary": '{"统计": [{"类别": "a", "k": {"v": -1}}]}'}, "summary_rru", "VD414"),
        ({}, "chat", "VD416"),
        ({"messages": '[{"role": "robot", "content": "x"}]'}, "chat", "VD417"),
        ({"messages": '[{"role": "assistant", "content": "<image>x"}]'}, "chat", "VD417"),
        ({"objects": [obj("a", "poly", [0, 0, 1, 1])]}, "source_dense", "VD419"),
        ({"objects": [obj("a", "circle", [0, 0, 1, 1])]}, "source_dense", "VD419"),
        ({"objects": [obj("a", "bbox_2d", [0, 0, 1, 1])], "width": None}, "source_dense", "VD420"),
        ({"objects": [obj("a", "bbox_2d", [0, 0, 1, 1])], "width": -640}, "source_dense", "VD420"),
        ({"objects": [obj("a", "bbox_2d", [0, 0, 1, float("nan")])]}, "source_dense", "VD419"),
        ({"objects": [obj("a", "bbox_2d", [0, 0, 1, 1], image_index=1)]}, "source_dense", "VD419"),
        ({"objects": [{**obj("a", "bbox_2d", [0, 0, 1, 1]), "desc": None}]}, "source_dense", "VD419"),
        ({}, "no_such_template", "VD410"),
    ],
)
def test_errors_name_code_and_place(record_kw: dict, template: str, code: str) -> None:
    r = {**rec([]), **record_kw}
    with pytest.raises(VlmdataError) as err:
        render_target(r, template)
    assert err.value.code_str == code
    if code != "VD410":
        assert "f.jsonl:3" in str(err.value) and "id=x" in str(err.value)


def test_prompt_only_needs_no_label_and_equals_the_training_prefix() -> None:
    unlabelled = rec([], images=["/i/a.jpg"])  # no summary: a summary target cannot be rendered
    with pytest.raises(VlmdataError):
        build_messages(unlabelled, "summary_rru")
    prompt = build_messages(unlabelled, "summary_rru", prompt_only=True)
    labelled = build_messages({**unlabelled, "summary": '{"统计": []}'}, "summary_rru")
    assert prompt == labelled[:-1]
    chat = [
        {"role": "user", "content": "<image>q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "a2"},
    ]
    r = rec([], messages=json.dumps(chat))
    assert build_messages(r, "chat", prompt_only=True) == build_messages(r, "chat")[:-1]
