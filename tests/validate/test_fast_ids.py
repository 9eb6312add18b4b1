"""Derived ids from the fast path equal `derive_id` of the line, for every spelling of the same record.

The fast path derives ids from its decoded structs when descs and coordinates are already canonical text and
from the line otherwise; either way the id must be the SHA-256 of the canonical JSON `derive_id` computes.
Numbers are written in many spellings (integers, trailing zeros, exponents, long and tiny decimals, negative
zero), with and without whitespace, escapes in descs, metadata and attributes in any key order or empty.
"""

from __future__ import annotations

import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlmdata.validate.fast import check_batch
from vlmdata.validate.ids import derive_id

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _spell(value: float, how: int) -> str:
    if how == 0:
        return repr(float(value))
    if how == 1 and float(value).is_integer():
        return str(int(value))  # 10 rather than 10.0
    if how == 2:
        return f"{value:.4f}"  # trailing zeros
    if how == 3:
        return f"{value:e}"  # exponent
    if how == 4:
        return f"{value:.17g}"
    return repr(round(value, 1))


coordinate = st.one_of(
    st.floats(0, 90, allow_nan=False),
    st.sampled_from([0.0, -0.0, 1.0, 10.0, 12.5, 0.0001, 0.00012, 0.00001234, 33.300000000000004, 89.99]),
)
desc = st.one_of(
    st.sampled_from(["类别=BBU设备,品牌=华为", "plain desc", 'a "quoted" one', "back\\slash", "tab\u0001x"]),
    st.text(min_size=1, max_size=8).filter(lambda s: not any(c in s for c in "\n\r\t")),
)


@st.composite
def record_line(draw: st.DrawFn) -> bytes:
    rng = random.Random(draw(st.integers(0, 2**32)))
    objects = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["bbox_2d", "poly", "line"]))
        if kind == "bbox_2d":
            x, y = draw(coordinate), draw(coordinate)
            pts = [x, y, x + 1 + draw(coordinate), y + 1 + draw(coordinate)]
        else:
            n = 3 if kind == "poly" else 2
            pts = [
                v
                for i in range(n)
                for v in (5.0 + 7 * i + draw(coordinate) / 9, 3.0 + 11 * (i % 2) * (i + 1))
            ]
        obj: dict = {"desc": draw(desc), kind: pts}
        if kind == "poly" and rng.random() < 0.3:
            obj["poly_points"] = 3
        if rng.random() < 0.2:
            obj["attributes"] = {"z": 1, "a": [1.5, "x"], "m": {"k": 2.0}}
        if rng.random() < 0.2:
            obj["metadata"] = {"score": 0.25}
        if rng.random() < 0.1:
            obj[rng.choice(["attributes", "metadata"])] = {}  # the same record as without it
        objects.append(obj)
    record: dict = {"images": ["a.jpg"], "width": 200, "height": 200, "objects": objects}
    if rng.random() < 0.3:
        record["summary"] = json.dumps({"统计": [{"类别": "BBU"}]}, ensure_ascii=False)
    if rng.random() < 0.3:
        record["metadata"] = {"b": 1, "a": {"y": 2, "x": 1}}
    elif rng.random() < 0.2:
        record["metadata"] = {}
    if rng.random() < 0.2:
        record["id"] = None
    keys = list(record)
    rng.shuffle(keys)
    how = draw(st.integers(0, 5))
    sep = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,\t", " :  ")]))

    def enc(value: object) -> str:
        if isinstance(value, float):
            return _spell(value, how)
        if isinstance(value, list):
            return "[" + sep[0].join(enc(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + sep[0].join(json.dumps(k) + sep[1] + enc(v) for k, v in value.items()) + "}"
        return json.dumps(value, ensure_ascii=draw(st.booleans()))

    return enc({k: record[k] for k in keys}).encode()


@SETTINGS
@given(st.lists(record_line(), min_size=1, max_size=8))
def test_fast_ids_equal_derive_id(lines: list[bytes]) -> None:
    result = check_batch(lines)
    assert len(result.ids) == len(result.accepted)
    for p, rid in zip(result.accepted, result.ids, strict=True):
        assert rid == derive_id(lines[p]), lines[p]


def test_the_shortcut_is_taken_for_canonical_text() -> None:
    """Shortest float texts and escape-free descs: the struct path serves them (no second decode)."""
    import vlmdata.validate.fast as fast

    calls: list[bytes] = []
    line = json.dumps(
        {
            "images": ["a.jpg"],
            "width": 100,
            "height": 80,
            "objects": [{"desc": "类别=螺丝", "bbox_2d": [1.5, 2.0, 30.25, 40.0]}],
        },
        ensure_ascii=False,
    ).encode()
    original = fast.derive_id
    fast.derive_id = lambda raw: calls.append(raw) or original(raw)
    try:
        integers = line.replace(b"2.0,", b"2,")  # an integer coordinate: derived from the line
        result = check_batch([line, integers])
    finally:
        fast.derive_id = original
    assert calls == [integers]
    assert result.ids == [derive_id(line), derive_id(integers)] and result.ids[0] == result.ids[1]


def test_negative_zero_and_empty_free_form_take_the_line_path() -> None:
    """Canonical JSON writes -0.0 as 0.0 and drops `{}`: such records cannot use the struct's own text."""
    base = {
        "images": ["a.jpg"],
        "width": 100,
        "height": 80,
        "objects": [{"desc": "类别=螺丝", "bbox_2d": [0.0, 2.0, 30.25, 40.0]}],
    }
    variants = [
        json.dumps(base, ensure_ascii=False).encode().replace(b"[0.0,", b"[-0.0,"),
        json.dumps({**base, "metadata": {}}, ensure_ascii=False).encode(),
        json.dumps(
            {**base, "objects": [{**base["objects"][0], "attributes": {}, "metadata": {}}]},
            ensure_ascii=False,
        ).encode(),
    ]
    plain = json.dumps(base, ensure_ascii=False).encode()
    result = check_batch([plain, *variants])
    assert result.accepted == [0, 1, 2, 3]
    assert result.ids == [derive_id(plain)] * 4
