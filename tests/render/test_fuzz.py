"""Fuzz: whatever a record holds, rendering answers a string or a VlmdataError — never a traceback."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlmdata.errors import VlmdataError
from vlmdata.render import TEMPLATES, build_messages, render_target
from vlmdata.render.summary import parse_summary, parse_summary_target

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(min_value=-5, max_value=700)
numbers = st.one_of(
    finite,
    finite,
    finite,
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-10, max_value=10**6),
)
junk = st.one_of(st.none(), st.text(max_size=5), st.booleans(), numbers)
kinds = st.sampled_from(["bbox_2d", "poly", "line"])
objects = st.fixed_dictionaries(
    {
        "desc": st.one_of(st.text(min_size=1, max_size=12), st.text(min_size=1, max_size=12), junk),
        "kind": st.one_of(kinds, kinds, kinds, junk),
        "points": st.one_of(
            st.lists(numbers, min_size=4, max_size=4),
            st.lists(numbers, min_size=4, max_size=10),
            st.lists(numbers, max_size=12),
            st.lists(junk, max_size=6),
            junk,
        ),
        "image_index": st.one_of(st.just(0), st.just(0), st.integers(-2, 3), junk),
    }
)
valid_size = st.integers(1, 2000)
size = st.one_of(valid_size, valid_size, valid_size, valid_size, st.integers(-1, 2000), junk)
DENSE = sorted(n for n, t in TEMPLATES.items() if t.mode == "dense")
messages = st.recursive(
    st.one_of(st.text(max_size=20), st.none(), st.integers()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(["role", "content", "type", "text", "image", "image_url"]), inner, max_size=4
        ),
    ),
    max_leaves=12,
)


@FAST
@given(
    objs=st.lists(st.one_of(objects, objects, objects, objects, junk), max_size=6),
    width=size,
    height=size,
    n_images=st.integers(0, 3),
    template=st.one_of(st.sampled_from(DENSE), st.sampled_from(sorted(TEMPLATES))),
    summary=st.one_of(st.none(), st.text(max_size=30), st.just("无关图片"), st.just('{"统计": []}')),
    meta=st.one_of(st.just("{}"), st.just('{"domain": "bbu"}'), st.text(max_size=10)),
)
def test_render_target_never_crashes(objs, width, height, n_images, template, summary, meta) -> None:
    record = {
        "id": "f",
        "images": [f"/i/{k}.jpg" for k in range(n_images)],
        "width": width,
        "height": height,
        "objects": objs,
        "summary": summary,
        "messages": None,
        "metadata": meta,
    }
    try:
        out = render_target(record, template)
    except VlmdataError as exc:
        assert exc.code_str.startswith("VD4")
        return
    assert isinstance(out, str)
    tpl = TEMPLATES[template]
    if tpl.mode == "dense":
        if tpl.format == "qwen":
            assert out.startswith("```json\n[") and out.endswith("]\n```")
            entries = json.loads(out[len("```json\n") : -len("\n```")])
            keys = ("bbox_2d", "polygon", "line")
        else:
            entries = list(json.loads(out.split("\n")[-1]).values())
            keys = ("bbox_2d", "poly", "line")
        for entry in entries:
            geom = next(entry[k] for k in keys if k in entry)
            flat = geom if isinstance(geom[0], int) else [c for p in geom for c in p]
            assert all(isinstance(v, int) and 0 <= v <= 1000 for v in flat)


any_float = st.floats(allow_nan=True, allow_infinity=True)


def _flat_pairs(lo: int, hi: int) -> st.SearchStrategy:
    return st.lists(st.tuples(any_float, any_float), min_size=lo, max_size=hi).map(
        lambda ps: [c for p in ps for c in p]
    )


shaped = st.one_of(
    st.tuples(st.just("bbox_2d"), _flat_pairs(2, 2)),
    st.tuples(st.just("poly"), _flat_pairs(3, 6)),
    st.tuples(st.just("line"), _flat_pairs(2, 5)),
)


@FAST
@given(objs=st.lists(shaped, min_size=1, max_size=5), width=valid_size, height=valid_size)
def test_well_shaped_objects_with_any_floats(objs, width, height) -> None:
    """Right structure, any float (NaN, ±inf, huge, subnormal): a target or VD419, never a traceback."""
    record = {
        "id": "w",
        "images": ["/i/a.jpg"],
        "width": width,
        "height": height,
        "metadata": "{}",
        "objects": [{"desc": "d", "kind": k, "points": p, "image_index": 0} for k, p in objs],
    }
    try:
        out = render_target(record, "source_dense")
    except VlmdataError as exc:
        assert exc.code_str == "VD419" and "finite" in exc.message
        return
    assert len(json.loads(out)) == len(objs)


@FAST
@given(msgs=messages, images=st.lists(st.text(min_size=1, max_size=4), max_size=3), as_text=st.booleans())
def test_chat_messages_never_crash(msgs, images, as_text) -> None:
    raw = json.dumps(msgs) if as_text else msgs
    record = {"id": "c", "images": images, "messages": raw, "metadata": "{}"}
    try:
        out = build_messages(record, "chat")
    except VlmdataError as exc:
        assert exc.code_str in {"VD416", "VD417", "VD418"}
        return
    assert all(m["role"] in {"system", "user", "assistant", "tool"} for m in out)


@FAST
@given(text=st.one_of(st.text(max_size=60), st.builds(json.dumps, messages)))
def test_summary_parsers_never_crash(text) -> None:
    for fn in (parse_summary, parse_summary_target):
        try:
            fn(text)
        except VlmdataError as exc:
            assert exc.code_str in {"VD413", "VD414", "VD422"}


@FAST
@given(
    objs=st.one_of(st.lists(st.one_of(objects, junk), max_size=5), junk),
    summary=st.one_of(st.none(), st.text(max_size=20), st.just("无关图片")),
    domain=st.one_of(st.none(), st.sampled_from(["BBU", "RRU", "bbu"])),
)
def test_summarize_record_never_crashes(objs, summary, domain) -> None:
    from vlmdata.errors import Location
    from vlmdata.render.summarize import SummarizeResult, summarize_record

    result = SummarizeResult()
    out = summarize_record(
        {"id": "s", "objects": objs, "summary": summary}, domain, False, Location(), result
    )
    assert out is None or parse_summary(out, domain) is not None
    assert all(p.startswith("VD4") for p in result.problems)
