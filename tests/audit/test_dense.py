"""The dense fast path counts exactly what the tokenizer counts on the rendered target, or declines."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from vlmdata.audit.dense import DenseCounter
from vlmdata.audit.tokens import TokenCounter
from vlmdata.render import get_template, render_target


@pytest.fixture(scope="module")
def counter(tmp_path_factory: pytest.TempPathFactory) -> TokenCounter:
    from vlmdata.models.tokenizer import build_backend_tokenizer

    out = tmp_path_factory.mktemp("tok-dense")
    build_backend_tokenizer().save(str(out / "tokenizer.json"))
    return TokenCounter.from_model_dir(out)


DESCS = [
    "类别=BBU设备,品牌=华为,可见性=完整",
    "类别=螺丝",
    "类别=线缆,颜色=黄|绿",
    'say "hi"',
    "tab\there",
    "",
    "类别=标签,文字=\\n",
    "RRU设备 / 天线",
]


def _poly(rng: random.Random, w: int, h: int) -> list[float]:
    shape = rng.random()
    x, y = rng.uniform(-20, w), rng.uniform(-20, h)
    if shape < 0.2:  # closing vertex repeated, counter-clockwise
        pts = [x, y, x, y + 50, x + 50, y + 50, x + 50, y, x, y]
    elif shape < 0.35:  # collinear middle vertex
        pts = [x, y, x + 25, y, x + 50, y, x + 50, y + 40]
    elif shape < 0.45:  # collapses on the grid
        pts = [x, y, x + 0.2, y, x + 0.1, y + 0.2]
    else:
        pts = [
            v
            for _ in range(rng.randint(3, 9))
            for v in (rng.uniform(x - 80, x + 80), rng.uniform(y - 80, y + 80))
        ]
    return pts


def _record(rng: random.Random, n_images: int = 1) -> dict:
    w, h = rng.choice([(1024, 768), (640, 480), (2048, 1536), (333, 777), (10, 10)])
    objs = []
    for _ in range(rng.randint(0, 25)):
        kind = rng.choice(["bbox_2d", "bbox_2d", "poly", "line"])
        if kind == "bbox_2d":
            x, y = rng.uniform(-5, w), rng.uniform(-5, h)
            pts = [x, y, x - rng.uniform(-60, 60), y + rng.uniform(-60, 60)]
        elif kind == "poly":
            pts = _poly(rng, w, h)
        else:
            pts = [
                v
                for _ in range(rng.randint(2, 6))
                for v in (rng.uniform(-10, w + 10), rng.uniform(-10, h + 10))
            ]
            if rng.random() < 0.2:
                pts = pts[:2] + pts[:2] + pts[2:]  # a repeated point
        objs.append(
            {
                "desc": rng.choice(DESCS),
                "kind": kind,
                "points": pts,
                "image_index": rng.randrange(n_images),
                "attributes": None,
                "metadata": None,
            }
        )
    return {
        "id": "r",
        "images": [f"{i}.jpg" for i in range(n_images)],
        "width": w,
        "height": h,
        "objects": objs,
        "summary": None,
        "messages": None,
        "metadata": json.dumps({"domain": "RRU"}),
    }


@pytest.mark.parametrize("name", ["target_dense_bbu", "target_dense", "source_dense", "grounding", "user"])
def test_fast_count_equals_tokenizer_on_rendered_target(counter: TokenCounter, name: str, tmp_path) -> None:
    from vlmdata.render import use_templates
    from vlmdata.render.templates import record_domain

    if name == "user":  # a user object-map template whose header line holds the record's domain
        (tmp_path / "t.yaml").write_text("name: user\nuser: '{format}'\nheader: '== {domain} =='\n")
        use_templates([tmp_path / "t.yaml"])
    dense = DenseCounter(counter)
    template = get_template(name)
    rng = random.Random(name)
    used = 0
    for i in range(200):
        rec = _record(rng, n_images=1 if i % 4 else rng.randint(2, 4))
        header = template.header_line(record_domain(template, rec)) if template.header else None
        fast = dense.count(rec, header)
        exact = counter.exact(render_target(rec, name))
        if fast is not None:
            used += 1
            assert fast == exact, (i, rec)
    assert used >= 190  # it declines only on digits in descs or headers, none here


def test_declines_on_digits_in_descs(counter: TokenCounter) -> None:
    dense = DenseCounter(counter)
    rec = _record(random.Random(1))
    rec["objects"] = [
        {
            "desc": "类别=5G标签",
            "kind": "bbox_2d",
            "points": [1, 2, 30, 40],
            "image_index": 0,
            "attributes": None,
            "metadata": None,
        }
    ]
    assert dense.count(rec, "<DOMAIN=BBU>, <TASK=DETECTION>") is None
    rec["objects"][0]["desc"] = "类别=标签"
    assert dense.count(rec, "<DOMAIN=BBU>, <TASK=DETECTION>") == counter.exact(
        render_target(rec, "target_dense_bbu")
    )


def test_audit_uses_the_fast_path(counter: TokenCounter, tmp_path: Path) -> None:
    from vlmdata.audit.length import size_conversation, size_record
    from vlmdata.render import build_messages

    rng = random.Random(5)
    rec = _record(rng)
    before = counter.calls
    sized, _ = size_record(rec, "target_dense_bbu", counter, (3072, 1048576))
    slow = size_conversation(rec, build_messages(rec, "target_dense_bbu"), counter, (3072, 1048576))
    assert sized == slow
    assert counter.dense is not None and counter.calls - before < 40  # pieces only, not whole targets


def test_ordinary_shapes_skip_the_renderer_and_odd_ones_use_it(counter: TokenCounter) -> None:
    dense = DenseCounter(counter)
    calls: list[int] = []
    real = dense._grid_object

    def spy(*args: object) -> tuple:
        calls.append(1)
        return real(*args)

    dense._grid_object = spy
    obj = {"desc": "类别=天线", "image_index": 0, "attributes": None, "metadata": None}
    ordinary = [
        dict(obj, kind="poly", points=[10.5, 10.0, 200.0, 30.0, 120.0, 300.0, 15.0, 200.0]),
        dict(obj, kind="line", points=[5.0, 5.0, 400.0, 380.0, 600.0, 20.0]),
        dict(obj, kind="bbox_2d", points=[1.0, 2.0, 3.0, 4.0]),
    ]
    odd = [
        dict(obj, kind="poly", points=[0.0, 0.0, 50.0, 0.0, 100.0, 0.0, 100.0, 80.0]),  # collinear vertex
        dict(obj, kind="poly", points=[0.0, 0.0, 0.0, 50.0, 50.0, 50.0, 0.0, 0.0]),
    ]  # closing vertex
    for objs, expect_calls in ((ordinary, 0), (odd, 2)):
        calls.clear()
        rec = {
            "id": "r",
            "images": ["a.jpg"],
            "width": 640,
            "height": 480,
            "objects": objs,
            "summary": None,
            "messages": None,
            "metadata": "{}",
        }
        assert dense.count(rec, None) == counter.exact(render_target(rec, "source_dense"))
        assert len(calls) == expect_calls
