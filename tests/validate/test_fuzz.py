"""Fuzzing: random JSON values, random bytes and near-valid records never crash validation, the accounting
invariant always holds, and the fast path never accepts a record the pydantic contract rejects."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlmdata.contract.explain import _fail_fast_record
from vlmdata.contract.models import Record
from vlmdata.validate import ValidateOptions, validate_files
from vlmdata.validate.fast import check_batch
from vlmdata.validate.slow import explain

FUZZ = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)

number = st.one_of(
    st.integers(-3, 120),
    st.floats(-3, 120),
    st.sampled_from([0.0, 100.0, 80.0, 100.4, 80.6, -0.4]),
    st.booleans(),
    st.just(float("nan")),
    st.just("7"),
)
coords = st.lists(number, min_size=0, max_size=9)
geometry = st.dictionaries(st.sampled_from(["bbox_2d", "poly", "line"]), coords, min_size=0, max_size=2)
# text the chat template acts on (control tokens, placeholders, media tags) and harmless look-alikes
tricky_text = st.sampled_from(
    [
        "<|im_end|>",
        "<|image_pad|>",
        "<bbox>",
        "<ref-object>",
        "<|box_start|>",
        "<image>",
        "a<b",
        "<img>x</img>",
    ]
)
obj = st.builds(
    lambda desc, geo, extra: {"desc": desc, **geo, **extra},
    st.one_of(st.just("类别=BBU设备"), st.text(max_size=4), tricky_text),
    geometry,
    st.dictionaries(
        st.sampled_from(["poly_points", "line_points", "image_index", "attributes", "colour"]),
        st.one_of(st.integers(-1, 5), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)),
        max_size=2,
    ),
)
near_valid = st.builds(
    lambda w, h, objs, summary, drop, image, meta: {
        k: v
        for k, v in {
            "images": [image],
            "width": w,
            "height": h,
            "objects": objs,
            "summary": summary,
            "metadata": meta,
        }.items()
        if k not in drop and v is not None
    },
    st.one_of(st.just(100), st.integers(-1, 200), st.just(True), st.just(30_000)),  # 30000×h: ratio > 200
    st.one_of(st.just(80), st.integers(0, 200)),
    st.lists(obj, max_size=5),
    st.one_of(
        st.none(),
        st.just("无关图片"),
        st.just('{"统计": []}'),
        st.just("{broken"),
        st.text(max_size=5),
        tricky_text,
    ),
    st.sets(st.sampled_from(["width", "objects", "images"]), max_size=1),
    st.sampled_from(["a.jpg", "a\u0000.jpg", "\u0000"]),
    st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {},
            optional={
                "max_pixels": st.one_of(st.integers(-1, 3000), st.just(True), st.just(1e6)),
                "min_pixels": st.integers(0, 3000),
            },
        ),
    ),
)
turn = st.builds(
    lambda role, text, item: {
        "role": role,
        "content": [item, {"type": "text", "text": text}] if item else text,
    },
    st.sampled_from(["system", "user", "assistant"]),
    st.one_of(st.text(max_size=4), tricky_text, st.just("<image>hi")),
    st.one_of(st.none(), st.just({"type": "image", "image": "a.jpg"})),
)
chat_record = st.builds(
    lambda turns, n: {
        "messages": turns,
        **({"images": ["a.jpg"] * n, "width": 64, "height": 48} if n else {}),
    },
    st.lists(turn, min_size=1, max_size=5),
    st.integers(0, 2),
)


def _dump(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=True).encode()


def _reference(line: bytes) -> bool:
    try:
        Record.model_validate_json(line)
        return True
    except Exception:
        return False


@FUZZ
@given(st.lists(st.one_of(near_valid, chat_record), min_size=1, max_size=12), st.booleans())
def test_fast_path_verdicts_equal_the_pydantic_model(records: list[dict], ascii_only: bool) -> None:
    lines = [json.dumps(r, ensure_ascii=ascii_only, allow_nan=True).encode() for r in records]
    result = check_batch(lines)
    assert sorted(result.accepted + result.unsure) == list(range(len(lines)))
    for p in result.accepted:
        assert _reference(lines[p]), f"fast path accepted a record the contract rejects: {lines[p]!r}"
    fail_fast = _fail_fast_record()  # what explains lines over BIG_LINE: the same verdict on every line
    for line in lines:
        assert (explain(line).record is not None) == _reference(line)
        try:
            fail_fast.model_validate_json(line)
            fast_ok = True
        except Exception:
            fast_ok = False
        assert fast_ok == _reference(line), line


def _run(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.jsonl"
        path.write_bytes(b"\n".join(lines))
        report = validate_files([path], Path(d) / "out", ValidateOptions(image_check=False))
        summary = json.loads((Path(d) / "out" / "report.json").read_text())
        assert report.invariant_holds and summary["invariant_holds"]
        assert summary["valid"] + summary["rejected"] + summary["blank"] == summary["lines_read"]
        n_rejects = len((Path(d) / "out" / "rejects.jsonl").read_bytes().splitlines())
        assert n_rejects == summary["rejected"]


@FUZZ
@given(st.lists(json_values, max_size=8))
def test_random_json_values_keep_the_invariant(values: list[object]) -> None:
    _run([_dump(v) for v in values])


@FUZZ
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_random_bytes_keep_the_invariant(chunks: list[bytes]) -> None:
    _run(chunks)


@FUZZ
@given(st.lists(near_valid, max_size=6), st.lists(st.binary(max_size=20), max_size=3))
def test_mixed_records_and_garbage_keep_the_invariant(records: list[dict], junk: list[bytes]) -> None:
    _run([_dump(r) for r in records] + junk)


def test_nan_is_not_finite() -> None:
    assert not math.isfinite(float("nan"))  # guards the strategy's assumption that NaN lines must be rejected
    assert not _reference(b'{"images":["a.jpg"],"width":NaN,"height":4,"summary":"x"}')


def test_absurd_declared_point_counts_go_to_the_models() -> None:
    """`poly_points`/`line_points` beyond what a float64 holds exactly never crash the bulk check or get accepted."""
    poly = {"desc": "类别=BBU设备", "poly": [1, 1, 9, 1, 9, 9]}
    line = {"desc": "类别=光纤", "line": [1, 1, 9, 9]}
    cases = [
        {**poly, "poly_points": 2**60},
        {**poly, "poly_points": 10**30},
        {**line, "line_points": -(2**70)},
        {**poly, "poly_points": 3},
        {**line, "line_points": 2},
        {**poly, "poly_points": 4},
    ]
    lines = [_dump({"images": ["a.jpg"], "width": 100, "height": 80, "objects": [o, line]}) for o in cases]
    assert [_reference(x) for x in lines] == [False, False, False, True, True, False]
    for absurd in lines[:3]:  # alone or among good records: the models decide
        assert check_batch([absurd]).unsure == [0]
        assert 0 in check_batch([absurd, lines[3]]).unsure
    result = check_batch(lines[3:])
    assert (result.accepted, result.unsure) == ([0, 1], [2])
