"""The vectorised record transforms (writer) agree with the one-record ones (stream) on awkward inputs."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmdata.errors import VlmdataError
from vlmdata.fuse import object_subset
from vlmdata.fuse.records import EntryTags, cap_objects_array, tag_metadata, tag_metadata_array

TAGS = EntryTags("lvis", "source", "dense", "source_dense", False, 3)

METADATA = [
    "{}",
    None,
    '{"a": 1}',
    '{"a": "x"}',
    '{"a": [1, 2]}',
    '{"a": {"b": null}}',
    '{"a": true}',
    '{"a": 1e5}',
    '  {"a": 1}  ',
    '{"a": 1 }',
    '{"a": 1}\n',
    "{ }",
    '{"_source": "old", "b": 2}',
    '{"note": "has \\"_mode\\" inside"}',
    '{"名字": "值"}',
    '{"a": "}"}',
]


def test_vectorised_metadata_equals_scalar() -> None:
    ids = pa.array([f"r{i}" for i in range(len(METADATA))])
    vector = tag_metadata_array(pa.array(METADATA, type=pa.string()), ids, TAGS).to_pylist()
    scalar = [tag_metadata(m, TAGS) for m in METADATA]
    assert vector == scalar
    for text, original in zip(scalar, METADATA, strict=True):
        obj = json.loads(text)
        assert obj["_source"] == "lvis" and obj["_template"] == "source_dense" and obj["_augment"] is False
        if original and "名字" in original:
            assert "名字" in text  # non-ASCII kept as is


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(
    objects=st.lists(
        st.dictionaries(
            st.sampled_from(["a", "_source", "名", "_mode", "x y", "n"]) | st.text(max_size=5),
            json_values,
            max_size=4,
        ),
        min_size=1,
        max_size=8,
    ),
    pad=st.sampled_from(["", " ", "\n", "\t "]),
    compact=st.booleans(),
)
def test_vectorised_metadata_equals_scalar_on_random_objects(objects, pad, compact) -> None:
    sep = (",", ":") if compact else (", ", ": ")
    texts = [pad + json.dumps(o, ensure_ascii=False, separators=sep) + pad for o in objects]
    ids = pa.array([f"r{i}" for i in range(len(texts))])
    vector = tag_metadata_array(pa.array(texts, type=pa.string()), ids, TAGS).to_pylist()
    assert vector == [tag_metadata(t, TAGS) for t in texts]
    for text, original in zip(vector, objects, strict=True):
        assert json.loads(text) == {**original, **TAGS.as_dict()}


def test_vectorised_metadata_rejects_non_objects_with_record_id() -> None:
    with pytest.raises(VlmdataError) as err:
        tag_metadata_array(pa.array(["{}", "[1]"]), pa.array(["ok", "bad-7"]), TAGS)
    assert err.value.code_str == "VD525" and "bad-7" in str(err.value)


def test_vectorised_cap_equals_scalar_subsets() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 9, size=200)
    rows = [[{"desc": f"o{j}", "n": j} for j in range(n)] for n in lengths]
    rows[5] = None  # a null list stays null
    ids = pa.array([f"id-{i}" for i in range(len(rows))])
    capped = cap_objects_array(pa.array(rows), ids, TAGS, seed=3, epoch=2).to_pylist()
    for i, (before, after) in enumerate(zip(rows, capped, strict=True)):
        if before is None:
            assert after is None
            continue
        keep = object_subset(3, 2, "lvis", f"id-{i}", len(before), 3)
        assert after == [before[k] for k in keep]
        assert len(after) == min(3, len(before))
    # not always the first objects: the subset is random, yet order-preserving
    assert any(a != b[:3] for a, b in zip(capped, rows, strict=True) if b is not None and len(b) > 3)


def test_table_taker_any_order_and_index_mappings(tmp_path, make_dataset) -> None:
    from datasets import Dataset

    from vlmdata.fuse.inputs import TableTaker
    from vlmdata.io.dataset import load_dataset

    make_dataset(tmp_path / "d", 2500)
    ds = load_dataset(tmp_path / "d")
    # several record batches, so takes cross batch boundaries
    small_batches = pa.Table.from_batches(ds.data.table.combine_chunks().to_batches(max_chunksize=300))
    multi = Dataset(small_batches)
    assert len(TableTaker(multi).batches) == 9
    for dataset in (ds, multi, ds.select([2499, 7, 1200, 7, 0])):
        taker = TableTaker(dataset)
        assert len(taker) == len(dataset)
        for idx in (np.array([3, 1, 2, 4, 0]), np.array([4, 4, 0]), np.array([], dtype=np.int64)):
            if len(dataset) > 2000:
                idx = np.concatenate([idx, [2499, 301, 299, 1800]])
            got = taker.take(idx).column("id").to_pylist()
            assert got == [dataset[int(i)]["id"] for i in idx]
