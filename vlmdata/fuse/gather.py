"""Row gathers from memory-mapped, many-batch Arrow columns in time linear in the rows taken.

Arrow's `take` on a chunked column of flat values (strings, numbers) resolves each index to its chunk and is
fast. On a chunked *list* column (`images`, `objects`, the objects' `points`) it first concatenates every
chunk — a full copy of the column per call — and a `take` per record batch instead pays ~0.2 ms of fixed
dispatch per batch, so a chunk of the plan that touches all batches of a large input costs O(batches).

`ChunkedGather` therefore addresses every row as (chunk, position in the chunk): the rows asked for are
resolved to their chunks once, at the top, and that address travels down the column's levels. A list level
reads each row's start and end from the chunk's offsets buffer where it lies in the memory-mapped file (`Region`)
and turns them into the children's addresses (the children of chunk c are in chunk c of the child column);
structs pass the address to each field; flat leaves read values and string bytes in place. So nothing is
concatenated, no per-row table is kept (memory is O(chunks), whatever the input size) and the work is linear
in the rows taken. Columns that are not memory-mapped by us fall back to global offsets and Arrow's chunked
`take`. The result equals `concat(chunks).take(rows)`, tested against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ChunkedGather:
    """Gather rows of one column given as a list of same-typed Arrow arrays (the file's record batches)."""

    def __init__(self, chunks: list[Any], regions: list[Region] | None = None) -> None:
        import pyarrow as pa

        self.pa = pa
        self.chunks = chunks
        self.regions = regions or []
        self._leaf: _LeafPlan | None = None
        self._leaf_checked = False
        self._list: _ListPlan | None = None
        self._list_checked = False
        self.type: Any = chunks[0].type if chunks else None
        self.has_nulls = any(c.null_count for c in chunks)
        self.bases = np.zeros(len(chunks) + 1, dtype=np.int64)  # first row of each chunk (+ total)
        np.cumsum([len(c) for c in chunks], out=self.bases[1:])
        self._offsets: np.ndarray | None = None
        self._ends: np.ndarray = np.zeros(0, dtype=np.int64)
        self._children: list[ChunkedGather] | None = None

    @staticmethod
    def supported(type_: Any) -> bool:
        import pyarrow as pa

        if pa.types.is_list(type_):
            return ChunkedGather.supported(type_.value_type)
        if pa.types.is_struct(type_):
            return all(ChunkedGather.supported(f.type) for f in type_)
        return not (
            pa.types.is_large_list(type_)
            or pa.types.is_map(type_)
            or pa.types.is_union(type_)
            or pa.types.is_fixed_size_list(type_)
            or pa.types.is_list_view(type_)
        )

    def locate(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(chunk, position in the chunk) of global rows."""
        rows = np.asarray(rows, dtype=np.int64)
        chunk = np.searchsorted(self.bases, rows, side="right") - 1
        return chunk, rows - self.bases[chunk]

    def take(self, rows: np.ndarray) -> Any:
        return self.take_at(*self.locate(rows))

    def take_at(self, chunk: np.ndarray, local: np.ndarray) -> Any:
        """The rows at (chunk, position in the chunk), in that order."""
        pa = self.pa
        if pa.types.is_list(self.type):
            return self._take_list(chunk, local)
        if pa.types.is_struct(self.type):
            children = self._struct_children()
            arrays = [child.take_at(chunk, local) for child in children]
            return pa.StructArray.from_arrays(
                arrays, fields=list(self.type), mask=self._null_mask(chunk, local)
            )
        leaf = self._leaf_plan()
        if leaf is not None:
            return leaf.take(chunk, local)
        # not memory-mapped by us (or a type the in-place path does not read): Arrow's chunked take, which
        # concatenates the chunks first
        rows = self.bases[chunk] + local
        return (
            pa.chunked_array(self.chunks, type=self.type)
            .take(pa.array(rows, type=pa.int64()))
            .combine_chunks()
        )

    def _leaf_plan(self) -> _LeafPlan | None:
        if not self._leaf_checked:
            self._leaf = _LeafPlan.build(self.chunks, self.type, self.regions)
            self._leaf_checked = True
        return self._leaf

    def _list_plan(self) -> _ListPlan | None:
        if not self._list_checked:
            self._list = _ListPlan.build(self.chunks, self.regions)
            self._list_checked = True
        return self._list

    # -- lists ---------------------------------------------------------------------------------------------
    def _take_list(self, chunk: np.ndarray, local: np.ndarray) -> Any:
        pa = self.pa
        plan = self._list_plan()
        child = self._children_of_list()
        if plan is not None:  # offsets read in place; the children of chunk c are chunk c of the child
            starts, ends = plan.bounds(chunk, local)
            child_of = chunk
        else:
            starts_all, ends_all = self._bounds()
            rows = self.bases[chunk] + local
            starts, ends = starts_all[rows].astype(np.int64), ends_all[rows].astype(np.int64)
            child_of = None
        lengths = ends - starts
        new_offsets = np.zeros(chunk.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=new_offsets[1:])
        total = int(new_offsets[-1])
        if total >= 2**31:
            raise OverflowError("a gathered list column exceeds 2**31 elements; use smaller chunks")
        positions = np.repeat(starts - new_offsets[:-1], lengths) + np.arange(total, dtype=np.int64)
        if child_of is not None:
            values = child.take_at(np.repeat(child_of, lengths), positions)
        else:
            values = child.take(positions)
        return pa.ListArray.from_arrays(
            pa.array(new_offsets.astype(np.int32)),
            values,
            type=self.type,
            mask=self._null_mask(chunk, local),
        )

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and end of every row's values within the concatenation of the chunks' value arrays (the
        fallback when the offsets are not read in place).

        Read from the offset buffers once. Chunks written by Arrow use their values contiguously, so one
        global offsets array serves as starts and (shifted by one) ends: 4 bytes per row while the level
        holds < 2**31 values, else 8. Sliced chunks get exact per-row ends instead.
        """
        if self._offsets is None:
            raws = [c.offsets.to_numpy(zero_copy_only=False) for c in self.chunks]  # int32 views of the map
            sizes = [len(c.values) for c in self.chunks]
            total = int(sum(sizes))
            dtype = np.int32 if total < 2**31 else np.int64
            contiguous = all(int(r[0]) == 0 and int(r[-1]) == n for r, n in zip(raws, sizes, strict=True))
            rows = sum(len(r) - 1 for r in raws)
            starts = np.empty(rows + 1, dtype=dtype)
            ends = starts[1:] if contiguous else np.empty(rows, dtype=dtype)
            at = base = 0
            for r, n in zip(raws, sizes, strict=True):
                k = len(r) - 1
                np.add(r[:-1], base, out=starts[at : at + k], casting="unsafe")
                if not contiguous:
                    np.add(r[1:], base, out=ends[at : at + k], casting="unsafe")
                at += k
                base += n
            starts[rows] = total
            self._offsets, self._ends = starts[:rows], ends
        return self._offsets, self._ends

    def _children_of_list(self) -> ChunkedGather:
        if self._children is None:
            self._children = [ChunkedGather([c.values for c in self.chunks], self.regions)]
        return self._children[0]

    # -- structs and nulls -------------------------------------------------------------------------------
    def _struct_children(self) -> list[ChunkedGather]:
        if self._children is None:
            self._children = [
                ChunkedGather([c.field(i) for c in self.chunks], self.regions)
                for i in range(self.type.num_fields)
            ]
        return self._children

    def _null_mask(self, chunk: np.ndarray, local: np.ndarray) -> Any:
        if not self.has_nulls:
            return None
        pa = self.pa
        valid = pa.chunked_array([c.is_null() for c in self.chunks], type=pa.bool_())
        return valid.take(pa.array(self.bases[chunk] + local, type=pa.int64())).combine_chunks()


class _ListPlan:
    """Where each chunk's offsets buffer lies in the memory-mapped files: a list level's row bounds read in
    place, O(chunks) memory."""

    def __init__(self, regions: list[Region], region: np.ndarray, first: np.ndarray) -> None:
        self.regions, self.region, self.first = regions, region, first

    @classmethod
    def build(cls, chunks: list[Any], regions: list[Region]) -> _ListPlan | None:
        if not regions or not chunks:
            return None
        region_of, first = [], []
        for c in chunks:
            buffer = c.buffers()[1]
            found = None
            if buffer is not None:
                for r, reg in enumerate(regions):
                    at = reg.offset_of(buffer)
                    if at is not None and at % 4 == 0 and (int(buffer.size) > 0 or len(c) == 0):
                        found = (r, at // 4 + c.offset)
                        break
            if found is None:
                return None
            region_of.append(found[0])
            first.append(found[1])
        return cls(regions, np.asarray(region_of, np.int64), np.asarray(first, np.int64))

    def bounds(self, chunk: np.ndarray, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's start and end within its chunk's values (as its own offsets say)."""
        at = self.first[chunk] + local
        if len(self.regions) == 1:
            view = self.regions[0].view("<i4")
            return view[at].astype(np.int64), view[at + 1].astype(np.int64)
        starts = np.empty(len(at), np.int64)
        ends = np.empty(len(at), np.int64)
        region = self.region[chunk]
        for r in np.unique(region):
            own = region == r
            view = self.regions[int(r)].view("<i4")
            starts[own], ends[own] = view[at[own]], view[at[own] + 1]
        return starts, ends


class Region:
    """One memory-mapped Arrow file as a byte array: leaves of its record batches are gathered in place."""

    def __init__(self, buffer: Any) -> None:
        self.buffer = buffer
        self.base = int(buffer.address)
        self.size = int(buffer.size)
        self.bytes = np.frombuffer(buffer, dtype=np.uint8)
        self._views: dict[str, np.ndarray] = {}

    def view(self, dtype: str) -> np.ndarray:
        if dtype not in self._views:
            width = np.dtype(dtype).itemsize
            self._views[dtype] = self.bytes[: self.size - self.size % width].view(dtype)
        return self._views[dtype]

    def offset_of(self, buf: Any) -> int | None:
        if buf is None:
            return None
        if int(buf.size) == 0:  # nothing is ever read from an empty buffer (e.g. all-empty strings)
            return 0
        start = int(buf.address) - self.base
        return start if 0 <= start and start + int(buf.size) <= self.size else None


class _LeafPlan:
    """Where every chunk of a flat column (numbers or strings) lives inside the memory-mapped files.

    A gather is then pure numpy over the file bytes: element addresses from the chunk's buffer offsets,
    string bytes copied range by range, validity bits read in place. Nothing is concatenated and the work is
    linear in the rows taken, whatever the number of chunks.
    """

    def __init__(self) -> None:
        self.kind = ""
        self.dtype = ""
        self.type: Any = None
        self.bases = np.zeros(1, dtype=np.int64)  # first global position of each chunk (+ total)
        self.region = np.zeros(0, dtype=np.int64)
        self.value_base = np.zeros(0, dtype=np.int64)  # element index (numbers) / offsets index (strings)
        self.data_base = np.zeros(0, dtype=np.int64)  # byte offset of string data
        self.valid_base = np.zeros(0, dtype=np.int64)  # byte offset of the validity bitmap, -1 if none
        self.bit_base = np.zeros(0, dtype=np.int64)  # the chunk's array offset (bit position of element 0)
        self.regions: list[Region] = []

    @classmethod
    def build(cls, chunks: list[Any], type_: Any, regions: list[Region]) -> _LeafPlan | None:
        import pyarrow as pa

        if not regions or not chunks:
            return None
        plan = cls()
        plan.type, plan.regions = type_, regions
        if pa.types.is_string(type_):
            plan.kind, plan.dtype = "string", "<i4"
        elif pa.types.is_integer(type_) or pa.types.is_floating(type_):
            plan.kind, plan.dtype = "number", np.dtype(type_.to_pandas_dtype()).newbyteorder("<").str
        else:
            return None
        width = np.dtype(plan.dtype).itemsize
        rows = []
        for chunk in chunks:
            if len(chunk) == 0:  # never indexed; its (empty) buffers may live anywhere
                rows.append((0, 0, 0, 0, -1, 0))
                continue
            buffers = chunk.buffers()
            found: tuple[int, Region, int] | None = None
            for r, region in enumerate(regions):
                at = region.offset_of(buffers[1])
                if at is not None and at % width == 0:
                    found = (r, region, at)
                    break
            if found is None:
                return None
            r, region, first = found
            valid = region.offset_of(buffers[0]) if buffers[0] is not None else -1
            if valid is None:
                return None
            if plan.kind == "string":
                data = region.offset_of(buffers[2]) if buffers[2] is not None else 0
                if data is None:
                    return None
                rows.append((len(chunk), r, first // width + chunk.offset, data, valid, chunk.offset))
            else:
                rows.append(
                    (
                        len(chunk),
                        r,
                        first // width + chunk.offset,
                        0,
                        valid,
                        chunk.offset,
                    )
                )
        table = np.array(rows, dtype=np.int64).reshape(-1, 6)
        plan.bases = np.concatenate([[0], np.cumsum(table[:, 0])]).astype(np.int64)
        plan.region, plan.value_base, plan.data_base, plan.valid_base, plan.bit_base = (
            table[:, i] for i in range(1, 6)
        )
        return plan

    def take(self, chunk: np.ndarray, local: np.ndarray) -> Any:
        import pyarrow as pa

        n = int(chunk.size)
        region = self.region[chunk]
        groups = (
            [(int(region[0]), slice(None))]
            if n and (len(self.regions) == 1 or (region == region[0]).all())
            else [(int(r), region == r) for r in np.unique(region)]
        )
        valid = np.ones(n, dtype=bool)
        values = np.empty(n, dtype=self.dtype) if self.kind == "number" else None
        starts = np.empty(n, dtype=np.int64)
        lengths = np.empty(n, dtype=np.int64)
        for r, sel in groups:
            reg = self.regions[r]
            c, loc = chunk[sel], local[sel]
            has_bitmap = self.valid_base[c] >= 0
            if has_bitmap.any():
                bits = self.bit_base[c] + loc
                byte = np.where(has_bitmap, self.valid_base[c] + bits // 8, 0)
                flags = ((reg.bytes[byte] >> (bits % 8).astype(np.uint8)) & 1).astype(bool)
                valid[sel] = flags | ~has_bitmap
            index = self.value_base[c] + loc
            if values is not None:
                values[sel] = reg.view(self.dtype)[index]
            else:
                off = reg.view("<i4")
                first = off[index].astype(np.int64)
                starts[sel] = self.data_base[c] + first  # byte offset in region r
                lengths[sel] = off[index + 1] - first
        validity = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
        if values is not None:
            return pa.Array.from_buffers(self.type, n, [validity, pa.py_buffer(values)])
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        total = int(offsets[-1])
        if total >= 2**31:
            raise OverflowError("a gathered string column exceeds 2 GiB; use smaller chunks")
        pos = np.repeat(starts - offsets[:-1], lengths) + np.arange(total, dtype=np.int64)
        if len(groups) == 1:
            data = self.regions[groups[0][0]].bytes[pos]
        else:
            data = np.empty(total, dtype=np.uint8)
            owner = np.repeat(region, lengths)
            for r, _ in groups:
                own = owner == r
                data[own] = self.regions[r].bytes[pos[own]]
        return pa.Array.from_buffers(
            self.type, n, [validity, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
        )
