"""The contract has one definition: the msgspec mirrors, the stored row, the Arrow features and every copy of
the geometry kinds agree with the pydantic models, and a field added to one shape but not the others fails."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import msgspec
import pytest

from vlmdata.contract import rows, structs
from vlmdata.contract.kinds import GEOMETRY_KINDS, KIND_CODE, MIN_POINTS, POINT_COUNT_KEYS
from vlmdata.contract.models import Message, Object, Record

ROOT = Path(__file__).resolve().parents[2]


def _fields(struct: type) -> list[tuple[str, bool, object]]:
    return [(f.name, f.required, f.default) for f in msgspec.inspect.type_info(struct).fields]


def _model_fields(model: type) -> list[tuple[str, bool, object]]:
    return [
        (n, f.is_required(), None if f.is_required() else f.get_default())
        for n, f in model.model_fields.items()
    ]


@pytest.mark.parametrize(
    ("model", "fast", "canonical"),
    [
        (Record, structs.FRecord, structs.CRecord),
        (Object, structs.FObject, structs.CObject),
        (Message, structs.FMessage, None),
    ],
)
def test_msgspec_mirrors_have_the_models_fields(model, fast, canonical) -> None:
    expected = _model_fields(model)
    for mirror in (fast, canonical) if canonical is not None else (fast,):
        got = _fields(mirror)
        assert [g[:2] for g in got] == [e[:2] for e in expected], mirror  # names, order, required
        for (name, required, default), (_, _, got_default) in zip(expected, got, strict=True):
            if required:
                continue
            if mirror is fast and (model.__name__, name) in structs.FAST_RAW:
                assert isinstance(got_default, msgspec.Raw), name  # kept as raw text, parsed in bulk
            else:
                assert got_default == default, name
    assert msgspec.inspect.type_info(fast).forbid_unknown_fields


def test_content_items_are_tagged_by_their_type_literal() -> None:
    decode = msgspec.json.Decoder(structs.FMessage).decode
    message = decode(b'{"role":"user","content":[{"type":"image","image":"a"},{"type":"text","text":"t"}]}')
    assert [type(item).__name__ for item in message.content] == ["FImageItem", "FTextItem"]
    for bad in (b'{"role":"user","content":[{"type":"video","video":"a"}]}', b'{"role":"bot","content":"x"}'):
        with pytest.raises(msgspec.ValidationError):
            decode(bad)


def test_the_fast_structs_keep_the_models_constraints() -> None:
    decode = msgspec.json.Decoder(structs.FRecord).decode
    ok = b'{"images":["a"],"width":3,"height":2,"objects":[{"desc":"d","bbox_2d":[0,0,1,1]}]}'
    assert decode(ok).width == 3
    for bad in (
        b'{"images":[],"width":3,"height":2}',  # images: min_length 1
        b'{"images":["a"],"width":0,"height":2}',  # width > 0
        b'{"images":["a"],"width":3,"height":2147483648}',  # height <= 2**31 - 1
        b'{"id":"","images":["a"],"width":3,"height":2}',  # id: min_length 1
        b'{"images":["a"],"width":3,"height":2,"objects":[{"desc":"d","image_index":-1}]}',
        b'{"images":["a"],"width":true,"height":2}',  # no booleans for numbers
        b'{"images":["a"],"width":3,"height":2,"typo":1}',  # unknown keys forbidden
    ):
        with pytest.raises(msgspec.ValidationError):
            decode(bad)


def test_every_model_field_has_one_storage_rule_and_a_new_field_is_loud() -> None:
    rows._check_storage()  # the shipped tables agree

    class Extended(Object):
        confidence: float | None = None

    storage_before = dict(rows.OBJECT_STORAGE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rows, "Object", Extended)
        with pytest.raises(TypeError, match="confidence"):
            rows._check_storage()
        mp.setitem(rows.OBJECT_STORAGE, "confidence", "confidence")  # a rule naming no column
        with pytest.raises(TypeError, match="columns"):
            rows._check_storage()
    assert rows.OBJECT_STORAGE == storage_before
    with pytest.raises(TypeError):
        structs._Deriver("X", fast=True).type(set[int], {})  # an annotation the mirrors cannot follow


def test_arrow_features_and_row_builders_use_the_stored_columns() -> None:
    from vlmdata.io.dataset import normalise_record
    from vlmdata.io.features import COLUMNS, arrow_schema, record_features

    features = record_features()
    assert tuple(features) == rows.RECORD_COLUMNS == COLUMNS
    assert tuple(features["objects"].feature) == rows.OBJECT_COLUMNS
    assert arrow_schema().names == list(rows.RECORD_COLUMNS)
    row = normalise_record(
        {
            "id": "a",
            "images": ["x"],
            "width": 1,
            "height": 1,
            "objects": [{"desc": "d", "kind": "bbox_2d", "points": [0, 0, 1, 1]}],
        }
    )
    assert tuple(row) == rows.RECORD_COLUMNS and tuple(row["objects"][0]) == rows.OBJECT_COLUMNS


FULL = {
    "id": "r1",
    "images": ["a.jpg", "b.jpg"],
    "width": 100,
    "height": 80,
    "objects": [
        {"desc": "类别=BBU设备", "bbox_2d": [1, 2, 30, 40], "attributes": {"b": 1, "a": [1, {"z": None}]}},
        {"desc": "poly", "poly": [1, 1, 50, 1, 50, 50], "poly_points": 3, "image_index": 1},
        {"desc": "line", "line": [0, 0, 10, 10.5], "line_points": 2, "metadata": {"source": "x"}},
    ],
    "summary": '{"BBU设备": 1}',
    "metadata": {"z": 1, "_source": "s"},
}
SHAPES = [
    FULL,
    {**FULL, "id": None},
    {"images": ["a.jpg"], "width": 5, "height": 5, "summary": "无关图片"},
    {
        "id": "chat",
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [{"type": "image", "image": "a.jpg"}, {"type": "text", "text": "hi"}],
            },
            {"role": "assistant", "content": "ok"},
        ],
        "images": ["a.jpg"],
        "width": 5,
        "height": 5,
    },
    {"id": "text", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
]


def _validated_rows(tmp_path: Path, records: list[dict]) -> list[dict]:
    from vlmdata.io.dataset import load_dataset
    from vlmdata.validate import ValidateOptions, validate_files

    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(
            json.dumps({k: v for k, v in r.items() if v is not None}, ensure_ascii=False) + "\n"
            for r in records
        ),
        encoding="utf-8",
    )
    report = validate_files(
        [src], tmp_path / f"out{len(list(tmp_path.iterdir()))}", ValidateOptions(image_check=False)
    )
    assert report.total("rejected") == 0, report.as_dict()
    return list(load_dataset(Path(report.out_dir) / "data"))


def test_fast_path_and_models_write_the_same_row_and_it_converts_back(tmp_path: Path) -> None:
    from vlmdata.contract.explain import explain_line
    from vlmdata.validate.fast import check_batch
    from vlmdata.validate.slow import SlowOutcome, normalised_row

    lines = [
        json.dumps({k: v for k, v in r.items() if v is not None}, ensure_ascii=False).encode() for r in SHAPES
    ]
    fast = check_batch(lines)
    assert fast.accepted == [0, 1, 2]  # the dense/summary records take the fast path, chat ones the models
    stored = _validated_rows(tmp_path, SHAPES)
    for line, row in zip(lines, stored, strict=True):
        record, issues = explain_line(line)
        assert issues == []
        expected = normalised_row(SlowOutcome(record, [], raw=line), row["images"])
        assert {k: row[k] for k in expected} == expected  # fast-path rows equal the models' rows
        back = rows.row_record(row)
        again, issues = explain_line(json.dumps(back, ensure_ascii=False).encode())
        assert issues == [], issues
        assert rows.record_row(again, row["images"]) | {"id": row["id"]} == {k: row[k] for k in expected}


def test_one_geometry_kind_constant() -> None:
    """No other module spells the kinds out: a literal sequence naming every kind once, or a kind → number
    table (codes, ranks, minimum points). Per-kind tables of functions or text are dispatch tables (next test);
    a subset of kinds (a category's allowed kinds) or a weighted draw is data."""
    assert set(MIN_POINTS) == set(GEOMETRY_KINDS) and set(POINT_COUNT_KEYS) <= set(GEOMETRY_KINDS)
    assert KIND_CODE == {k: i for i, k in enumerate(GEOMETRY_KINDS)}
    kinds = set(GEOMETRY_KINDS)
    copies = []
    for folder in ("vlmdata", "plugins"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == ROOT / "vlmdata" / "contract" / "kinds.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                    named = [e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in kinds]
                    copy = sorted(named) == sorted(kinds)
                elif isinstance(node, ast.Dict):
                    keyed = [k.value for k in node.keys if isinstance(k, ast.Constant) and k.value in kinds]
                    numbers = all(
                        isinstance(v, ast.Constant) and isinstance(v.value, int) for v in node.values
                    )
                    copy = len(keyed) >= 2 and numbers
                else:
                    continue
                if copy:
                    copies.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert copies == [], copies


def test_dispatch_tables_cover_exactly_the_kinds() -> None:
    from vlmdata.audit import dense
    from vlmdata.geometry import canonical
    from vlmdata.geometry.kernels import KERNELS

    for op, table in KERNELS.items():
        assert tuple(table) == GEOMETRY_KINDS, op
    assert tuple(canonical._CANON) == GEOMETRY_KINDS
    assert tuple(dense._KIND_HEAD) == GEOMETRY_KINDS
