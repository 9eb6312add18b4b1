"""ChunkedGather equals Arrow's take on the concatenated column, for nested, sliced and null-bearing chunks."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmdata.fuse.gather import ChunkedGather
from vlmdata.io.features import arrow_schema

OBJECTS = arrow_schema().field("objects").type

obj = st.fixed_dictionaries(
    {
        "desc": st.text(max_size=4),
        "kind": st.sampled_from(["bbox_2d", "poly", "line"]),
        "points": st.none() | st.lists(st.floats(allow_nan=False, width=32), max_size=6),
        "image_index": st.integers(0, 3),
        "attributes": st.none() | st.text(max_size=3),
        "metadata": st.none(),
    }
)
rows = st.lists(st.none() | st.lists(obj, max_size=4), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    data=rows, cuts=st.lists(st.integers(0, 40), max_size=5), sliced=st.booleans(), seed=st.integers(0, 1000)
)
def test_gather_equals_concatenated_take(data, cuts, sliced, seed) -> None:
    whole = pa.array(data, type=OBJECTS)
    bounds = sorted({0, len(data), *[min(c, len(data)) for c in cuts]})
    if sliced:  # slices of one array: chunks share and skip parts of their values buffers
        chunks = [whole.slice(a, b - a) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    else:  # independent arrays, as record batches of an Arrow file
        chunks = [pa.array(data[a:b], type=OBJECTS) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    chunks = [c for c in chunks if len(c)] or [whole]
    idx = np.random.default_rng(seed).integers(0, len(data), size=2 * len(data))
    got = ChunkedGather(chunks).take(idx)
    expected = pa.concat_arrays(chunks).take(pa.array(idx))
    assert got.type == expected.type
    assert got.to_pylist() == expected.to_pylist()
    assert got.null_count == expected.null_count


def test_flat_and_empty_takes() -> None:
    chunks = [pa.array(["a", None, "c"]), pa.array(["d"]), pa.array(["e", "f"])]
    g = ChunkedGather(chunks)
    assert g.take(np.array([5, 0, 1, 3, 3])).to_pylist() == ["f", "a", None, "d", "d"]
    assert g.take(np.array([], dtype=np.int64)).to_pylist() == []
    lists = ChunkedGather([pa.array([["x"], []]), pa.array([None, ["y", "z"]])])
    assert lists.take(np.array([3, 2, 1, 0])).to_pylist() == [["y", "z"], None, [], ["x"]]
    assert ChunkedGather.supported(OBJECTS) and not ChunkedGather.supported(pa.large_list(pa.int32()))


@settings(max_examples=40, deadline=None)
@given(data=rows, cuts=st.lists(st.integers(0, 40), max_size=5), seed=st.integers(0, 1000))
def test_gather_from_memory_mapped_file_regions(data, cuts, seed) -> None:
    import tempfile
    from pathlib import Path

    from vlmdata.fuse.gather import Region

    schema = pa.schema([("objects", OBJECTS), ("id", pa.string()), ("n", pa.int32())])
    bounds = sorted({0, len(data), *[min(c, len(data)) for c in cuts]})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                ids = [None if i % 7 == 3 else f"id-{i}-é" for i in range(a, b)]
                writer.write_batch(
                    pa.record_batch(
                        [
                            pa.array(data[a:b], type=OBJECTS),
                            pa.array(ids),
                            pa.array(list(range(a, b)), pa.int32()),
                        ],
                        schema=schema,
                    )
                )
        buffer = pa.memory_map(str(path)).read_buffer()
        batches = list(pa.ipc.open_stream(buffer))
        region = [Region(buffer)]
        idx = np.random.default_rng(seed).integers(0, len(data), size=2 * len(data))
        for i in range(len(schema.names)):
            chunks = [b.column(i) for b in batches]
            gather = ChunkedGather(chunks, region)
            got = gather.take(idx)
            expected = pa.concat_arrays(chunks).take(pa.array(idx))
            assert got.to_pylist() == expected.to_pylist() and got.type == expected.type
            assert got.null_count == expected.null_count
            for leaf in _leaves(gather):  # every flat leaf, nested ones included, was read in place
                assert leaf._leaf_plan() is not None, leaf.type


def _leaves(gather: ChunkedGather) -> list[ChunkedGather]:
    if pa.types.is_list(gather.type):
        return _leaves(gather._children_of_list())
    if pa.types.is_struct(gather.type):
        return [leaf for child in gather._struct_children() for leaf in _leaves(child)]
    return [gather]
