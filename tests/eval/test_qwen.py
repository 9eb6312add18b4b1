"""The Qwen-native list read back: the same objects as the object map, Qwen3-VL's own answers, honest
tolerance, and `vlmdata eval` and the GRPO rewards scoring a template in that format."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from vlmdata.eval.evaluate import evaluate
from vlmdata.eval.metrics import score_dense
from vlmdata.eval.parse import PredObject, parse_dense
from vlmdata.eval.qwen import parse_qwen
from vlmdata.io.dataset import save_records
from vlmdata.render import render_target


def _random_record(rng: random.Random, n_images: int) -> dict:
    w, h = rng.choice([(640, 480), (37, 2000), (3000, 17), (1, 1)])
    objs = []
    for _ in range(rng.randint(0, 9)):
        kind = rng.choice(["bbox_2d", "poly", "line"])
        k = {"bbox_2d": 2, "poly": rng.randint(3, 7), "line": rng.randint(2, 6)}[kind]
        pts = [v for _j in range(k) for v in (rng.uniform(-3, w + 3), rng.uniform(-3, h + 3))]
        if kind == "bbox_2d":
            pts = [min(pts[0], pts[2]), min(pts[1], pts[3]), max(pts[0], pts[2]) + 1, max(pts[1], pts[3]) + 1]
        desc = rng.choice(["person", "类别=天线", 'say "hi"', "a\\b", "tab\there"])
        objs.append({"desc": desc, "kind": kind, "points": pts, "image_index": rng.randrange(n_images)})
    return {
        "id": "q",
        "images": [f"/{k}.jpg" for k in range(n_images)],
        "width": w,
        "height": h,
        "objects": objs,
    }


@pytest.mark.parametrize("seed", range(6))
def test_qwen_list_reads_back_the_object_maps_objects(seed: int) -> None:
    """Two renderers and two parsers, one set of objects: the object map is the oracle for the Qwen list."""
    rng = random.Random(seed)
    checked = {False: 0, True: 0}
    for _ in range(40):
        rec = _random_record(rng, rng.choice([1, 1, 2, 3]))
        qwen = parse_dense(render_target(rec, "grounding_qwen"), fmt="qwen")
        omap = parse_dense(render_target(rec, "grounding"))
        # every target reads back exactly, a box that collapses on the grid (an edge-hugging sliver, written
        # with x1 == x2 or y1 == y2) included, in both formats
        assert qwen.ok and qwen.strict_ok and qwen.format_ok, qwen.issues
        assert (omap.ok, omap.strict_ok, omap.format_ok) == (True, True, True), omap.issues
        assert qwen.objects == omap.objects
        collapsed = any(
            o["kind"] == "bbox_2d" and _collapses(o["points"], rec["width"], rec["height"])
            for o in rec["objects"]
        )
        checked[collapsed] += 1
        assert {o.image for o in qwen.objects} <= set(range(len(rec["images"])))
    assert checked[False] > 10 and checked[True] > 0


def _collapses(pts: list[float], w: int, h: int) -> bool:
    from vlmdata.render.grid import to_grid

    g = to_grid(pts, w, h)
    return g[0] == g[2] or g[1] == g[3]


COOKBOOK = (  # the shape of Qwen3-VL's own grounding answers (tab-indented items in a ```json block)
    "```json\n[\n"
    '\t{"bbox_2d": [0, 614, 224, 825], "label": "rice"},\n'
    '\t{"bbox_2d": [266, 126, 695, 343], "label": "soup"}\n'
    "]\n```"
)


def test_the_models_own_answer_parses_strictly() -> None:
    p = parse_qwen(COOKBOOK)
    assert p.ok and p.strict_ok and p.format_ok
    assert p.objects == [
        PredObject("rice", "bbox_2d", [0, 614, 224, 825]),
        PredObject("soup", "bbox_2d", [266, 126, 695, 343]),
    ]
    assert parse_qwen("```json\n[]\n```").strict_ok and parse_qwen("[]", fence=False).strict_ok


@pytest.mark.parametrize(
    ("text", "ok", "needle"),
    [
        ('[{"bbox_2d": [1, 2, 30, 40], "label": "a"}]', True, "fence missing"),
        ('```\n[{"bbox_2d": [1, 2, 30, 40], "label": "a"}]\n```', True, "instead of ```json"),
        ('```json\n[{"bbox_2d": [1, 2, 30, 40], "label": "a"}]\n```', True, ""),  # one line: not the layout
        ('```json\n[{"polygon": [0, 0, 10, 0, 10, 10], "label": "a"}]\n```', True, "flat list"),
        ('```json\n[{"bbox_2d": [1.5, 2, 30, 40], "label": "a"}]\n```', True, "non-integer"),
        ('```json\n[{"bbox_2d": [1, 2, 30, 40], "label": "a"}]', False, "not closed"),
        ('```json\n{"bbox_2d": [1, 2, 30, 40], "label": "a"}\n```', False, "not a JSON list"),
        ('```json\n[{"point_2d": [1, 2], "label": "a"}]\n```', False, "exactly one geometry"),
        (
            '```json\n[{"bbox_2d": [1, 2, 3, 4], "line": [[0, 0], [1, 1]], "label": "a"}]\n```',
            False,
            "exactly one",
        ),
        ('```json\n[{"bbox_2d": [1, 2, 30, 40]}]\n```', False, "missing label"),
        ('```json\n[{"bbox_2d": [1, 2, 30, 40], "label": "a", "score": 1}]\n```', False, "unexpected keys"),
        ('```json\n[{"bbox_2d": [1, 2, 30, 40], "label": "a", "label": "b"}]\n```', False, "duplicate key"),
        ('```json\n[{"bbox_2d": [30, 2, 1, 40], "label": "a"}]\n```', False, "inverted"),
        ('```json\n[{"bbox_2d": [1, 2, 30, 1040], "label": "a"}]\n```', False, "outside 0–1000"),
        ('```json\n[{"bbox_2d": [1, 2, 30, 40], "label": "a", "image": 0}]\n```', False, "picture number"),
        ("```json\n[{]\n```", False, "does not parse"),
        ("", False, "empty"),
    ],
)
def test_tolerance_is_honest(text: str, ok: bool, needle: str) -> None:
    p = parse_qwen(text)
    assert p.ok is ok, p.issues
    assert not p.strict_ok
    assert needle in " | ".join(p.issues)


def test_header_lines_are_checked_exactly() -> None:
    body = "```json\n[]\n```"
    assert parse_qwen(f"<SITE=a>\n{body}", header="<SITE=a>").strict_ok
    wrong = parse_qwen(f"<SITE=b>\n{body}", header="<SITE=a>")
    assert wrong.ok and not wrong.format_ok and wrong.header_text == "<SITE=b>"
    assert not parse_qwen(body, header="<SITE=a>").ok  # the header line is missing: line 1 is the fence


def test_objects_on_different_pictures_never_match() -> None:
    a = PredObject("x", "bbox_2d", [0, 0, 100, 100], image=0)
    b = PredObject("x", "bbox_2d", [0, 0, 100, 100], image=1)
    assert score_dense([a], [a]).tp_by_threshold[0.95] == 1
    assert score_dense([a], [b]).tp_by_threshold[0.5] == 0


def _gt(tmp_path: Path, template: str) -> Path:
    meta = json.dumps({"_template": template})
    records = [
        {
            "id": "d1",
            "images": ["a.jpg"],
            "width": 1000,
            "height": 1000,
            "metadata": meta,
            "objects": [
                {"desc": "person", "kind": "bbox_2d", "points": [0, 0, 100, 100]},
                {"desc": "kite", "kind": "poly", "points": [500, 500, 600, 500, 600, 600, 500, 600]},
            ],
        }
    ]
    return save_records(records, tmp_path / "gt")


def test_eval_scores_qwen_answers(tmp_path: Path) -> None:
    gt = _gt(tmp_path, "grounding_qwen")
    exact = render_target({"images": ["a"], "width": 1000, "height": 1000, "objects": [
        {"desc": "person", "kind": "bbox_2d", "points": [0, 0, 100, 100]},
        {"desc": "kite", "kind": "poly", "points": [500, 500, 600, 500, 600, 600, 500, 600]},
    ]}, "grounding_qwen")  # fmt: skip
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": "d1", "completion": exact}) + "\n", encoding="utf-8")
    dense = evaluate(preds, gt)["dense"]
    assert dense["parse_failure_rate"] == 0.0 and dense["by_threshold"]["0.50"]["f1"] == pytest.approx(1.0)
    # the box alone, shifted by 50 on x: IoU 50*100 / (2*10000 - 5000) = 1/3 → no match at 0.5
    half = '```json\n[\n\t{"bbox_2d": [50, 0, 150, 100], "label": "person"}\n]\n```'
    preds.write_text(json.dumps({"id": "d1", "completion": half}) + "\n", encoding="utf-8")
    dense = evaluate(preds, gt)["dense"]
    assert dense["parse_failure_rate"] == 0.0 and dense["by_threshold"]["0.50"]["precision"] == 0.0
    # an object-map answer to a Qwen-list template is a parse failure, not silently re-read
    preds.write_text(
        json.dumps({"id": "d1", "completion": '{"object_1": {"desc": "a", "bbox_2d": [0, 0, 100, 100]}}'})
        + "\n"
    )
    assert evaluate(preds, gt)["dense"]["parse_failure_rate"] == 1.0


@pytest.mark.parametrize("template", ["grounding_qwen", "user"])
def test_rewards_read_the_template_format(template: str, tmp_path: Path) -> None:
    pytest.importorskip("vlmdata_plugins.rewards")
    from vlmdata_plugins.rewards import get_reward

    if template == "user":
        from vlmdata.render import use_templates

        path = tmp_path / "t.yaml"
        path.write_text("name: mine\nuser: 'Find. {format}'\nheader: '<SITE={domain}>'\ntarget: qwen\n")
        use_templates([path])
        template = "mine"
    objects = [{"desc": "person", "kind": "bbox_2d", "points": [0, 0, 100, 100]}]
    record = {
        "id": "r",
        "images": ["a.jpg"],
        "width": 1000,
        "height": 1000,
        "objects": objects,
        "metadata": json.dumps({"_template": template, "domain": "north"}),
    }
    exact = render_target(record, template)
    for name in ("dense_format", "dense_parse", "dense_loc_fbeta", "dense_cat_f1", "dense_attr_recall"):
        assert get_reward(name)(exact, record) == 1.0, name
    head = "<SITE=north>\n" if template == "mine" else ""
    loose = head + '[{"bbox_2d": [0, 0, 100, 100], "label": "person"}]'  # right content, no fence, one line
    assert get_reward("dense_format")(loose, record) == 1.0
    assert get_reward("dense_parse")(loose, record) == 0.0
    assert get_reward("dense_loc_fbeta")(loose, record) == 1.0
    if template == "mine":  # the header names the record's domain exactly
        assert get_reward("dense_format")(exact.replace("north", "south"), record) == 0.0
