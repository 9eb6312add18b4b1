"""Row gathers from memory-mapped, many-batch Arrow columns in time linear in the rows taken.

Arrow's `take` on a chunked column of flat values (strings, numbers) resolves each index to its chunk and is
fast. On a chunked *list* column (`images`, `objects`, the objects' `points`) it first concatenates every
chunk — a full copy of the column per call — and a `take` per record batch instead pays ~0.2 ms of fixed
dispatch per batch, so a chunk of the plan that touches all batches of a large input costs O(batches).

`ChunkedGather` therefore takes list columns level by level with index arithmetic: it keeps the global
offsets of each list level (int64, one per row or element of the level, computed once from the offset
buffers), turns the wanted rows into the wanted child positions with numpy, and recurses until it reaches
flat children, which are taken with Arrow's chunked `take`. Structs gather each field. The result equals
`concat(chunks).take(rows)`, tested against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ChunkedGather:
    """Gather rows of one column given as a list of same-typed Arrow arrays (the file's record batches)."""

    def __init__(self, chunks: list[Any]) -> None:
        import pyarrow as pa

        self.pa = pa
        self.chunks = chunks
        self.type = chunks[0].type if chunks else None
        self.has_nulls = any(c.null_count for c in chunks)
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

    def take(self, rows: np.ndarray) -> Any:
        pa = self.pa
        if pa.types.is_list(self.type):
            return self._take_list(rows)
        if pa.types.is_struct(self.type):
            children = self._struct_children()
            arrays = [child.take(rows) for child in children]
            return pa.StructArray.from_arrays(arrays, fields=list(self.type), mask=self._null_mask(rows))
        return (
            pa.chunked_array(self.chunks, type=self.type)
            .take(pa.array(rows, type=pa.int64()))
            .combine_chunks()
        )

    # -- lists ---------------------------------------------------------------------------------------------
    def _take_list(self, rows: np.ndarray) -> Any:
        pa = self.pa
        starts_all, ends_all = self._bounds()
        starts = starts_all[rows].astype(np.int64)
        lengths = ends_all[rows] - starts
        new_offsets = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=new_offsets[1:])
        total = int(new_offsets[-1])
        if total >= 2**31:
            raise OverflowError("a gathered list column exceeds 2**31 elements; use smaller chunks")
        positions = np.repeat(starts - new_offsets[:-1], lengths) + np.arange(total, dtype=np.int64)
        values = self._children_of_list().take(positions)
        return pa.ListArray.from_arrays(
            pa.array(new_offsets.astype(np.int32)), values, type=self.type, mask=self._null_mask(rows)
        )

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and end of every row's values within the concatenation of the chunks' value arrays.

        Read from the offset buffers once. Chunks written by Arrow use their values contiguously, so one
        global offsets array serves as starts and (shifted by one) ends: 4 bytes per row while the level
        holds < 2**31 values, else 8. Sliced chunks get exact per-row ends instead.
        """
        if self._offsets is None:
            raws = [np.asarray(c.offsets.to_numpy(), dtype=np.int64) for c in self.chunks]
            sizes = [len(c.values) for c in self.chunks]
            total = int(sum(sizes))
            dtype = np.int32 if total < 2**31 else np.int64
            bases = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            contiguous = all(r[0] == 0 and r[-1] == n for r, n in zip(raws, sizes, strict=True))
            if contiguous:
                parts = [(r[:-1] + b).astype(dtype) for r, b in zip(raws, bases, strict=False)]
                offsets = np.concatenate([*parts, np.array([total], dtype=dtype)])
                self._offsets, self._ends = offsets[:-1], offsets[1:]
            else:
                self._offsets = np.concatenate(
                    [(r[:-1] + b).astype(dtype) for r, b in zip(raws, bases, strict=False)]
                )
                self._ends = np.concatenate(
                    [(r[1:] + b).astype(dtype) for r, b in zip(raws, bases, strict=False)]
                )
        return self._offsets, self._ends

    def _children_of_list(self) -> ChunkedGather:
        if self._children is None:
            self._children = [ChunkedGather([c.values for c in self.chunks])]
        return self._children[0]

    # -- structs and nulls -------------------------------------------------------------------------------
    def _struct_children(self) -> list[ChunkedGather]:
        if self._children is None:
            self._children = [
                ChunkedGather([c.field(i) for c in self.chunks]) for i in range(self.type.num_fields)
            ]
        return self._children

    def _null_mask(self, rows: np.ndarray) -> Any:
        if not self.has_nulls:
            return None
        pa = self.pa
        valid = pa.chunked_array([c.is_null() for c in self.chunks], type=pa.bool_())
        return valid.take(pa.array(rows, type=pa.int64())).combine_chunks()
