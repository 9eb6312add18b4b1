"""A key repeated in one JSON object is an error (VD109) with file:line and field path, never last-wins — and
the fast path and the models agree on it, at every depth and in every spelling."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlmdata.contract.explain import explain_line
from vlmdata.contract.jsonkeys import repeated_keys
from vlmdata.validate import ValidateOptions, validate_files
from vlmdata.validate.fast import check_batch

BOX = '{"desc": "类别=BBU设备", "bbox_2d": [10, 10, 50, 40]}'
HEAD = '"images": ["a.jpg"], "width": 100, "height": 80'
# (line, field path of the repeat)
CASES = [
    ('{"id": "a", "id": "b", ' + HEAD + ', "objects": [' + BOX + "]}", "id"),
    ("{" + HEAD + ', "width": 90, "objects": [' + BOX + "]}", "width"),
    (
        "{" + HEAD + ', "objects": [{"desc": "x", "bbox_2d": [1, 1, 2, 2], "bbox_2d": [10, 10, 50, 40]}]}',
        "objects[0].bbox_2d",
    ),
    (
        "{" + HEAD + ', "objects": [' + BOX + ', {"desc": "a", "desc": "b", "line": [0, 0, 9, 9]}]}',
        "objects[1].desc",
    ),
    ("{" + HEAD + ', "objects": [' + BOX + '], "metadata": {"k": 1, "k": 1}}', "metadata.k"),
    (
        "{"
        + HEAD
        + ', "objects": [{"desc": "x", "bbox_2d": [1, 1, 2, 2], "attributes": {"a": {"b": 1, "b": 2}}}]}',
        "objects[0].attributes.a.b",
    ),
    ("{" + HEAD + ', "objects": [' + BOX + '], "\\u0069d": "x", "id": "y"}', "id"),  # an escaped spelling
    ("{" + HEAD + ', "objects": [' + BOX + '], "summary" : null, "summary": "无关图片"}', "summary"),
    (
        '{"id": "c", "messages": [{"role": "user", "content": "hi", "content": "ho"},'
        ' {"role": "assistant", "content": "ok"}]}',
        "messages[0].content",
    ),
]


@pytest.mark.parametrize(("line", "field"), CASES, ids=[c[1] for c in CASES])
def test_each_repeat_is_rejected_by_fast_path_and_models_alike(line: str, field: str) -> None:
    raw = line.encode()
    json.loads(raw)  # valid JSON: only the repeat is wrong
    record, issues = explain_line(raw)
    assert record is None
    assert [(i.code, i.field) for i in issues if i.code == "VD109"] == [("VD109", field)]
    assert check_batch([raw]).accepted == []
    unique = json.dumps(json.loads(raw), ensure_ascii=False).encode()  # the same line, last value kept
    assert explain_line(unique)[0] is not None and check_batch([unique]).accepted in ([0], [])


def test_validate_reports_the_repeat_with_file_line_and_id(tmp_path: Path) -> None:
    good = "{" + HEAD + ', "id": "ok", "objects": [' + BOX + "]}"
    repeat = (
        '{"id": "dup", '
        + HEAD
        + ', "objects": [{"desc": "x", "bbox_2d": [1, 1, 2, 2], "bbox_2d": [3, 3, 4, 4]}]}'
    )
    src = tmp_path / "data.jsonl"
    src.write_text(good + "\n" + repeat + "\n" + good.replace('"ok"', '"ok2"') + "\n", encoding="utf-8")
    report = validate_files([src], tmp_path / "out", ValidateOptions(image_check=False))
    assert (report.total("valid"), report.total("rejected")) == (2, 1)
    (entry,) = [json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert (entry["file"], entry["line"], entry["id"]) == (str(src), 2, "dup")
    assert entry["issues"][0]["code"] == "VD109" and entry["issues"][0]["field"] == "objects[0].bbox_2d"
    example = report.examples["VD109"][0]
    assert (example["line"], example["id"]) == (2, "dup")


def _spell(rng: random.Random, value: object) -> str:
    """JSON text for `value` in a random but valid spelling; dicts may repeat one of their keys."""
    if isinstance(value, dict):
        pairs = [(json.dumps(k, ensure_ascii=rng.random() < 0.5), _spell(rng, v)) for k, v in value.items()]
        if pairs and rng.random() < 0.15:
            pairs.insert(rng.randrange(len(pairs) + 1), rng.choice(pairs))
        sep = rng.choice([":", ": ", " :", ":\t"])
        return "{" + rng.choice([",", ", "]).join(k + sep + v for k, v in pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_spell(rng, v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=rng.random() < 0.5)


records = st.builds(
    lambda n, meta, attrs, summary, seed: (
        {
            "images": ["a.jpg"],
            "width": 100,
            "height": 80,
            "objects": [
                {"desc": f"类别={i}:x", "bbox_2d": [1, 1, 9 + i, 9], "attributes": attrs, "image_index": 0}
                for i in range(n)
            ],
            "summary": summary,
            "metadata": meta,
        },
        seed,
    ),
    st.integers(1, 4),
    st.dictionaries(
        st.sampled_from(["a", "b", "k:v", "类", 'q"']), st.one_of(st.integers(), st.text(max_size=3))
    ),
    st.one_of(st.none(), st.dictionaries(st.sampled_from(["x", "y"]), st.integers(), max_size=2)),
    st.one_of(st.none(), st.just("无关图片")),
    st.integers(0, 2**32),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records, min_size=1, max_size=10))
def test_fast_path_verdicts_equal_the_models_with_repeats(batch: list[tuple[dict, int]]) -> None:
    lines = [_spell(random.Random(seed), record).encode() for record, seed in batch]
    result = check_batch(lines)
    assert sorted(result.accepted + result.unsure) == list(range(len(lines)))
    for p in result.accepted:
        assert explain_line(lines[p])[0] is not None, lines[p]
        assert repeated_keys(lines[p]) == []
    for line in lines:
        assert (explain_line(line)[0] is None) == bool(repeated_keys(line)), line


def test_allow_extra_judges_repeats_as_the_line_was_written(tmp_path: Path) -> None:
    """--allow-extra re-encodes a line to move its unknown keys, which would keep one value per key."""
    line = (
        "{"
        + HEAD
        + ', "colour": "red", "objects": ['
        + BOX
        + '], "summary": "无关图片", "summary": "无关图片"}'
    )
    src = tmp_path / "data.jsonl"
    src.write_text(line + "\n", encoding="utf-8")
    report = validate_files([src], tmp_path / "out", ValidateOptions(image_check=False, allow_extra=True))
    assert report.total("rejected") == 1 and "VD109" in report.examples
    clean = tmp_path / "clean.jsonl"
    clean.write_text(line.replace(', "summary": "无关图片"}', "}") + "\n", encoding="utf-8")
    report = validate_files([clean], tmp_path / "out2", ValidateOptions(image_check=False, allow_extra=True))
    assert report.total("valid") == 1  # the unknown key alone is moved into metadata, as before


_KEYS = st.sampled_from(["a", "b", "id", "desc", "k:v", "\\u0061", "\\u003a", "é", 'x\\"y'])
_SCALARS = st.one_of(
    st.integers(-5, 5).map(str),
    st.sampled_from(['"s:t"', '"\\u003a"', '"plain"', "null", "true", "1.5e3", '"\\"q:\\""']),
)


@st.composite
def _json_text(draw: st.DrawFn, depth: int = 0) -> str:
    """JSON text with keys that may repeat, in escaped and literal spellings, colons inside strings."""
    kind = draw(st.sampled_from(["object", "array", "scalar"] if depth < 3 else ["scalar"]))
    if kind == "scalar":
        return draw(_SCALARS)
    if kind == "array":
        return "[" + ",".join(draw(st.lists(_json_text(depth + 1), max_size=3))) + "]"
    keys = draw(st.lists(_KEYS, max_size=4))
    sep = draw(st.sampled_from([":", " : ", ":\t"]))
    return "{" + ", ".join(f'"{k}"{sep}{draw(_json_text(depth + 1))}' for k in keys) + "}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_json_text())
def test_the_cheap_proof_never_hides_a_repeat(text: str) -> None:
    """`repeated_keys` with its msgspec colon-count proof equals the exact pairs-hook walk on every line."""
    import vlmdata.contract.jsonkeys as jsonkeys

    raw = text.encode()
    try:
        json.loads(raw)
    except ValueError:
        return
    got = repeated_keys(raw)
    exact = []
    jsonkeys._walk(json.loads(raw, object_pairs_hook=jsonkeys._pairs), "", exact)
    assert got == exact, text
