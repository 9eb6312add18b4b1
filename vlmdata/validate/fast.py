"""The fast bulk path: typed msgspec decoding plus vectorised numpy checks over every coordinate of a batch.

It only ever says "valid" or "not sure". Each line is decoded into msgspec structs that mirror the contract
(`vlmdata.contract.structs`, derived from the pydantic models: strict types, unknown keys forbidden, list
lengths, positive sizes); the remaining rules
(inverted boxes, odd/short/zero-area polygons, degenerate lines, bounds, `*_points`, image_index) run as numpy
operations over all objects of the batch at once. A line that fails to decode or breaks any rule, and every
chat record, goes to the pydantic models (`vlmdata.contract.explain`), which give the verdict and explain
it, and so does a line that repeats a key in one object (`vlmdata.validate.keyscan` finds those at C speed;
JSON's last-wins would hide the repeat from the structs). So the fast path can make validation faster but
never change a verdict; the benchmark checks both agree.
Accepted records come out as one Arrow table in the normalised schema, built from flat arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain, compress
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vlmdata.contract import codes
from vlmdata.contract.imagesize import MAX_RATIO
from vlmdata.contract.kinds import GEOMETRY_KINDS
from vlmdata.contract.rows import OBJECT_COLUMNS, json_text
from vlmdata.contract.rules import (
    BOUNDS_TOLERANCE,
    PIXEL_OVERRIDE_KEYS,
    ZERO_AREA,
    Issue,
    is_remote,
)
from vlmdata.contract.structs import FObject, FRecord
from vlmdata.contract.text import summary_issue
from vlmdata.validate.coords import parse_flat
from vlmdata.validate.ids import derive_id
from vlmdata.validate.keyscan import repeated_key_positions
from vlmdata.validate.strings import parse_strings

DECODER = msgspec.json.Decoder(FRecord)
KIND_NAMES = np.array(GEOMETRY_KINDS)
_KIND_ARROW = pa.array(GEOMETRY_KINDS, pa.string())
_DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError, OverflowError)


@dataclass
class FastResult:
    accepted: list[int]  # positions in the batch, ascending
    unsure: list[int]
    records: list[FRecord]  # parallel to `accepted`
    warnings: dict[int, list[Issue]] = field(default_factory=dict)  # batch position -> warnings
    objects_table: Any = None  # pa.ListArray of object structs, parallel to `accepted`


def _decode(lines: list[bytes]) -> tuple[list[int], list[FRecord], list[int]]:
    pos: list[int] = []
    recs: list[FRecord] = []
    unsure: list[int] = []
    decode = DECODER.decode
    for i, raw in enumerate(lines):
        try:
            r = decode(raw)
        except _DECODE_ERRORS:
            unsure.append(i)
            continue
        if r.messages is not None or r.images is None or r.width is None or r.height is None:
            unsure.append(i)
        elif not r.objects and r.summary is None:
            unsure.append(i)
        elif (r.summary is not None and summary_issue(r.summary) is not None) or not all(r.images):
            unsure.append(i)
        elif r.metadata and any(k in r.metadata for k in PIXEL_OVERRIDE_KEYS):
            unsure.append(i)  # per-record resize bounds: the models check them
        else:
            pos.append(i)
            recs.append(r)
    return pos, recs, unsure


def _segments_any(flags: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.logical_or.reduceat(flags, starts) if len(starts) else np.zeros(0, bool)


def check_batch(lines: list[bytes]) -> FastResult:
    blob = b"\n".join(lines)  # one buffer to ask "does any line mention key K?" before mapping over objects
    pos, recs, unsure = _decode(lines)
    repeats = repeated_key_positions(lines, blob, pos, recs)  # JSON keeps the last value: the models decide
    if repeats:
        kept = [i for i, p in enumerate(pos) if p not in repeats]
        pos, recs, unsure = [pos[i] for i in kept], [recs[i] for i in kept], sorted(unsure + list(repeats))
    n_rec = len(recs)
    counts = np.fromiter((len(r.objects) if r.objects else 0 for r in recs), np.int64, count=n_rec)
    obj_rec = np.repeat(np.arange(n_rec), counts)
    objs = list(chain.from_iterable(r.objects for r in recs if r.objects))
    n = len(objs)
    bad_rec = np.zeros(n_rec, bool)
    if ":" in "\x00".join(chain.from_iterable(map(attrgetter("images"), recs))):  # a URL needs a colon
        bad_rec |= np.array([any(map(is_remote, r.images or ())) for r in recs], bool)
    if b"\\u0000" in blob:  # an escaped NUL somewhere: the models decide records with one in a path
        bad_rec |= np.array([any("\x00" in p for p in r.images or ()) for r in recs], bool)
    W = np.fromiter(map(attrgetter("width"), recs), np.float64, count=n_rec)
    H = np.fromiter(map(attrgetter("height"), recs), np.float64, count=n_rec)
    if n_rec:
        bad_rec |= np.maximum(W, H) / np.minimum(W, H) > MAX_RATIO  # the same float division as the models
    n_img = np.fromiter((len(r.images or ()) for r in recs), np.int64, count=n_rec)

    geoms = {k: list(map(attrgetter(k), objs)) for k in GEOMETRY_KINDS}
    sizes = {k: np.fromiter(map(len, v), np.int64, count=n) for k, v in geoms.items()}
    kind = np.full(n, -1, np.int8)
    n_geom = np.zeros(n, np.int8)
    for code, k in enumerate(GEOMETRY_KINDS):
        has = sizes[k] > 0
        kind[has] = code
        n_geom += has
    bad_obj = n_geom != 1
    desc_column, desc_bad = parse_strings(list(map(attrgetter("desc"), objs)))
    bad_obj |= desc_bad
    if n and (
        b"<" in blob or b"\\u003c" in blob or b"\\u003C" in blob
    ):  # `<` may start a token: models decide
        bad_obj |= pc.match_substring(desc_column, "<").to_numpy(zero_copy_only=False)
    nvals = np.zeros(n, np.int64)  # values in each object's geometry
    worst = np.zeros(n)  # per object: how far outside the image its worst point lies
    obj_min = np.full(n, np.inf)
    obj_max = np.full(n, -np.inf)
    obj_xmax = np.zeros(n)
    obj_ymax = np.zeros(n)
    flat_parts: list[np.ndarray] = []
    lens_parts: list[np.ndarray] = []
    order_parts: list[np.ndarray] = []
    ow, oh = W[obj_rec], H[obj_rec]

    for code, k in enumerate(GEOMETRY_KINDS):
        mask = (kind == code) & ~bad_obj
        idx = np.flatnonzero(mask)
        flat, lens, good = parse_flat(list(compress(geoms[k], mask)), sizes[k][idx])
        bad_obj[idx[~good]] = True
        idx = idx[good]
        nvals[idx] = lens
        shape_ok = (lens == 4) if k == "bbox_2d" else ((lens % 2 == 0) & (lens >= (6 if k == "poly" else 4)))
        if not shape_ok.all():
            bad_obj[idx[~shape_ok]] = True
            flat, lens, idx = flat[np.repeat(shape_ok, lens)], lens[shape_ok], idx[shape_ok]
        npts = lens // 2
        x, y = flat[0::2], flat[1::2]
        starts = np.concatenate(([0], np.cumsum(npts)[:-1])) if len(npts) else np.zeros(0, np.int64)
        if k == "bbox_2d":
            b = flat.reshape(-1, 4)
            bad_obj[idx[~((b[:, 0] < b[:, 2]) & (b[:, 1] < b[:, 3]))]] = True
        elif len(idx):
            nxt = np.arange(1, len(x) + 1)
            ends = starts + npts - 1
            nxt[ends] = starts
            if k == "poly":
                area2 = np.add.reduceat(x * y[nxt] - x[nxt] * y, starts)
                bad_obj[idx[np.abs(area2) <= 2 * ZERO_AREA]] = True
            else:
                fx, fy = np.repeat(x[starts], npts), np.repeat(y[starts], npts)
                bad_obj[idx[~_segments_any((x != fx) | (y != fy), starts)]] = True
        if len(idx):
            pw, ph = np.repeat(ow[idx], npts), np.repeat(oh[idx], npts)
            out = np.maximum(np.maximum(-x, x - pw), np.maximum(-y, y - ph))
            worst[idx] = np.maximum.reduceat(out, starts)
            obj_min[idx] = np.minimum(np.minimum.reduceat(x, starts), np.minimum.reduceat(y, starts))
            obj_max[idx] = np.maximum(np.maximum.reduceat(x, starts), np.maximum.reduceat(y, starts))
            obj_xmax[idx] = np.maximum.reduceat(x, starts)
            obj_ymax[idx] = np.maximum.reduceat(y, starts)
        flat_parts.append(flat)
        lens_parts.append(lens)
        order_parts.append(idx)

    bad_obj |= worst > BOUNDS_TOLERANCE
    if n:
        if b'"image_index"' in blob:
            ii = np.fromiter(map(attrgetter("image_index"), objs), np.int64, count=n)
        else:
            ii = np.zeros(n, np.int64)
        bad_obj |= ii >= n_img[obj_rec]
        for count_key, code in (("poly_points", 1), ("line_points", 2)):
            if f'"{count_key}"'.encode() not in blob:
                continue
            declared = list(map(attrgetter(count_key), objs))
            if declared.count(None) != n:
                try:  # Arrow converts a list with Nones in C (≈ 4× numpy's object path); null -> nan
                    vals = pa.array(declared, pa.float64()).to_numpy(zero_copy_only=False)
                    given = ~np.isnan(vals)
                    bad_obj |= given & ((kind != code) | (vals * 2 != nvals))
                except (
                    OverflowError,
                    pa.ArrowInvalid,
                ):  # an absurd integer: leave those records to the models
                    bad_obj |= np.fromiter((v is not None for v in declared), bool, count=n)
        np.logical_or.at(bad_rec, obj_rec[bad_obj], True)
    else:
        ii = np.zeros(0, np.int64)

    keep = ~bad_rec
    accepted = [p for p, k in zip(pos, keep, strict=False) if k]
    unsure = sorted(unsure + [p for p, k in zip(pos, keep, strict=False) if not k])
    result = FastResult(accepted, unsure, [r for r, k in zip(recs, keep, strict=False) if k])
    _warnings(result, pos, keep, counts, obj_rec, kind, worst, obj_min, obj_max, obj_xmax, obj_ymax, W, H)
    obj_keep = keep[obj_rec]
    result.objects_table = _objects_array(
        objs,
        desc_column,
        b'"attributes"' in blob,
        b'"metadata"' in blob,
        obj_keep,
        counts[keep],
        kind,
        ii,
        flat_parts,
        lens_parts,
        order_parts,
    )
    return result


def _warnings(
    result: FastResult,
    pos: list[int],
    keep: np.ndarray,
    counts: np.ndarray,
    obj_rec: np.ndarray,
    kind: np.ndarray,
    worst: np.ndarray,
    omin: np.ndarray,
    omax: np.ndarray,
    xmax: np.ndarray,
    ymax: np.ndarray,
    W: np.ndarray,
    H: np.ndarray,
) -> None:
    offsets = np.concatenate(([0], np.cumsum(counts)))
    near = np.flatnonzero((worst > 0) & keep[obj_rec])
    for o in near:
        r = obj_rec[o]
        k = KIND_NAMES[kind[o]]
        result.warnings.setdefault(pos[r], []).append(
            Issue(
                codes.NEAR_BOUNDS.code,
                f"a point lies {worst[o]:g} px outside the {int(W[r])}×{int(H[r])} image",
                f"objects[{o - offsets[r]}].{k}",
            )
        )
    has = counts > 0
    if not has.any():
        return
    starts = offsets[:-1][has]
    rmin = np.minimum.reduceat(omin, starts)
    rmax = np.maximum.reduceat(omax, starts)
    rxm = np.maximum.reduceat(xmax, starts)
    rym = np.maximum.reduceat(ymax, starts)
    rw, rh = W[has], H[has]
    beyond = (rxm > rw + BOUNDS_TOLERANCE) | (rym > rh + BOUNDS_TOLERANCE)
    flag = ((rmin >= 0) & (rmax <= 1) & (np.maximum(rw, rh) > 1)) | (beyond & (rmin >= 0) & (rmax <= 1000))
    for j in np.flatnonzero(flag & keep[has]):
        r = np.flatnonzero(has)[j]
        result.warnings.setdefault(pos[r], []).append(
            Issue(
                codes.LOOKS_NORMALISED.code,
                f"coordinates span [{rmin[j]:g}, {rmax[j]:g}] on a {int(W[r])}×{int(H[r])} image",
                "objects",
            )
        )


def _json_col(values: list[Any]) -> pa.Array:
    if values.count(None) == len(values):
        return pa.nulls(len(values), pa.string())
    return pa.array(list(map(json_text, values)), pa.string())


def _objects_array(
    objs: list[FObject],
    descs: pa.Array,
    has_attributes: bool,
    has_metadata: bool,
    obj_keep: np.ndarray,
    counts: np.ndarray,
    kind: np.ndarray,
    ii: np.ndarray,
    flat_parts: list[np.ndarray],
    lens_parts: list[np.ndarray],
    order_parts: list[np.ndarray],
) -> pa.Array:
    """The `objects` column (list<struct>) of the accepted records, built from flat arrays."""
    # points were gathered per kind; put them back in object order with one `take`
    order = np.concatenate(order_parts) if order_parts else np.zeros(0, np.int64)
    lens = np.concatenate(lens_parts) if lens_parts else np.zeros(0, np.int64)
    flat = np.concatenate(flat_parts) if flat_parts else np.zeros(0)
    point_offsets = np.concatenate(([0], np.cumsum(lens))).astype(np.int32)
    by_kind = pa.ListArray.from_arrays(pa.array(point_offsets), pa.array(flat, pa.float64()))
    position = np.empty(len(objs), np.int64)
    position[order] = np.arange(len(order))
    kept = np.flatnonzero(obj_keep)
    points = by_kind.take(pa.array(position[kept]))
    every = len(kept) == len(objs)
    kept_objs = objs if every else list(compress(objs, obj_keep))
    kinds = pa.DictionaryArray.from_arrays(pa.array(kind[kept], pa.int8()), _KIND_ARROW).cast(pa.string())
    struct = pa.StructArray.from_arrays(
        [
            descs if every else descs.filter(pa.array(obj_keep)),
            kinds,
            points,
            pa.array(ii[kept].astype(np.int32), pa.int32()),
            _json_col(list(map(attrgetter("attributes"), kept_objs)))
            if has_attributes
            else pa.nulls(len(kept), pa.string()),
            _json_col(list(map(attrgetter("metadata"), kept_objs)))
            if has_metadata
            else pa.nulls(len(kept), pa.string()),
        ],
        names=list(OBJECT_COLUMNS),
    )
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), struct)


def record_ids(records: list[FRecord], lines: list[bytes], positions: list[int]) -> list[str]:
    return [
        r.id if r.id is not None else derive_id(lines[p]) for r, p in zip(records, positions, strict=True)
    ]
