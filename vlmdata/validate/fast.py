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
from vlmdata.contract.kinds import GEOMETRY_KINDS, KIND_CODE, MIN_POINTS, POINT_COUNT_KEYS
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
from vlmdata.validate.coords import Tokens, parse_flat, shortest_texts
from vlmdata.validate.ids import derive_id, derive_id_from_struct
from vlmdata.validate.keyscan import repeated_key_positions
from vlmdata.validate.strings import parse_strings

_SLOTS = attrgetter(*GEOMETRY_KINDS)
_IMAGE_INDEX = attrgetter("image_index")
_ATTRIBUTES = attrgetter("attributes")
_METADATA = attrgetter("metadata")
BOX = KIND_CODE["bbox_2d"]
POLY = KIND_CODE["poly"]
LINE = KIND_CODE["line"]
_MIN_VALUES = np.array([2 * MIN_POINTS[k] for k in GEOMETRY_KINDS], np.int64)  # per kind code


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
    ids: list[str] = field(default_factory=list)  # given or derived, parallel to `accepted`


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


def _segments(
    x: np.ndarray, y: np.ndarray, starts: np.ndarray, npts: np.ndarray, which: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The points of the objects `which` (x, y, and where each object starts among them)."""
    n = npts[which]
    sub_starts = np.zeros(len(which), np.int64)
    np.cumsum(n[:-1], out=sub_starts[1:])
    at = np.repeat(starts[which] - sub_starts, n) + np.arange(int(n.sum()))
    return x[at], y[at], sub_starts


def check_batch(lines: list[bytes]) -> FastResult:
    pos, recs, unsure = _decode(lines)
    repeats = repeated_key_positions(lines, b"\n".join(lines), pos, recs)  # JSON keeps the last value
    if repeats:  # the models decide (VD109)
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
    if "\x00" in "".join(chain.from_iterable(map(attrgetter("images"), recs))):  # NUL in a path: the models
        bad_rec |= np.array([any("\x00" in p for p in r.images or ()) for r in recs], bool)
    W = np.fromiter(map(attrgetter("width"), recs), np.float64, count=n_rec)
    H = np.fromiter(map(attrgetter("height"), recs), np.float64, count=n_rec)
    if n_rec:
        bad_rec |= np.maximum(W, H) / np.minimum(W, H) > MAX_RATIO  # the same float division as the models
    n_img = np.fromiter((len(r.images or ()) for r in recs), np.int64, count=n_rec)

    # every object's three geometry slots in one pass (an absent one is the empty raw text)
    n_kinds = len(GEOMETRY_KINDS)
    slots = list(chain.from_iterable(map(_SLOTS, objs)))
    slot_sizes = np.fromiter(map(len, slots), np.int64, count=n_kinds * n).reshape(n, n_kinds)
    has_geom = slot_sizes > 0
    kind = np.where(has_geom.any(axis=1), has_geom.argmax(axis=1), -1).astype(np.int8)  # the first present
    bad_obj = has_geom.sum(axis=1) != 1
    desc_column, desc_bad, desc_escaped = parse_strings(list(map(attrgetter("desc"), objs)))
    bad_obj |= desc_bad
    if n:  # `<` may start a token (decoded descs: an escaped one counts too): the models decide
        bad_obj |= pc.match_substring(desc_column, "<").to_numpy(zero_copy_only=False)
    nvals = np.zeros(n, np.int64)  # values in each object's geometry
    worst = np.zeros(n)  # per object: how far outside the image its worst point lies
    obj_min = np.full(n, np.inf)
    obj_max = np.full(n, -np.inf)
    obj_xmax = np.zeros(n)
    obj_ymax = np.zeros(n)

    # all geometries of the batch, in object order, parsed together; rules by kind on index subsets
    idx = np.flatnonzero(~bad_obj)
    where = n_kinds * idx + kind[idx]
    flat, lens, good, tokens = parse_flat(
        list(map(slots.__getitem__, where.tolist())), slot_sizes.ravel()[where]
    )
    parsed = flat  # value i's text is token i
    bad_obj[idx[~good]] = True
    idx = idx[good]
    nvals[idx] = lens
    k = kind[idx]
    token = np.arange(len(flat))
    shape_ok = np.where(k == BOX, lens == 4, (lens % 2 == 0) & (lens >= _MIN_VALUES[k]))
    if not shape_ok.all():
        bad_obj[idx[~shape_ok]] = True
        points = np.repeat(shape_ok, lens)
        flat, token = flat[points], token[points]
        lens, idx, k = lens[shape_ok], idx[shape_ok], k[shape_ok]
    npts = lens // 2
    x, y = flat[0::2], flat[1::2]
    starts = np.zeros(len(npts), np.int64)
    np.cumsum(npts[:-1], out=starts[1:])
    if len(idx):
        box = np.flatnonzero(k == BOX)
        first = starts[box]
        bad_obj[idx[box[~((x[first] < x[first + 1]) & (y[first] < y[first + 1]))]]] = True
        poly = np.flatnonzero(k == POLY)
        if len(poly):  # twice the signed area, over the polygons' points only
            px, py, pstarts = _segments(x, y, starts, npts, poly)
            nxt = np.arange(1, len(px) + 1)
            nxt[pstarts + npts[poly] - 1] = pstarts
            area2 = np.add.reduceat(px * py[nxt] - px[nxt] * py, pstarts)
            bad_obj[idx[poly[np.abs(area2) <= 2 * ZERO_AREA]]] = True
        line = np.flatnonzero(k == LINE)
        if len(line):  # a line must leave its first point
            lx, ly, lstarts = _segments(x, y, starts, npts, line)
            n_line = npts[line]
            moves = (lx != np.repeat(lx[lstarts], n_line)) | (ly != np.repeat(ly[lstarts], n_line))
            bad_obj[idx[line[~np.logical_or.reduceat(moves, lstarts)]]] = True
        xmin, ymin = np.minimum.reduceat(x, starts), np.minimum.reduceat(y, starts)
        xmax, ymax = np.maximum.reduceat(x, starts), np.maximum.reduceat(y, starts)
        # the worst point's distance outside the image, from the extremes (max commutes with the rounding)
        w, h = W[obj_rec[idx]], H[obj_rec[idx]]
        worst[idx] = np.maximum(np.maximum(-xmin, xmax - w), np.maximum(-ymin, ymax - h))
        obj_xmax[idx], obj_ymax[idx] = xmax, ymax
        obj_min[idx] = np.minimum(xmin, ymin)
        obj_max[idx] = np.maximum(xmax, ymax)

    bad_obj |= worst > BOUNDS_TOLERANCE
    ii = np.fromiter(map(_IMAGE_INDEX, objs), np.int64, count=n)
    bad_obj |= ii >= n_img[obj_rec]
    for count_kind, count_key in POINT_COUNT_KEYS.items():
        code = KIND_CODE[count_kind]
        declared = list(map(attrgetter(count_key), objs))
        if declared.count(None) != n:
            try:  # Arrow converts a list with Nones in C (≈ 4× numpy's object path); null -> nan
                vals = pa.array(declared, pa.float64()).to_numpy(zero_copy_only=False)
                given = ~np.isnan(vals)
                bad_obj |= given & ((kind != code) | (vals * 2 != nvals))
            except (OverflowError, pa.ArrowInvalid):  # an absurd integer: leave those records to the models
                bad_obj |= np.fromiter((v is not None for v in declared), bool, count=n)
    np.logical_or.at(bad_rec, obj_rec[bad_obj], True)

    keep = ~bad_rec
    accepted = [p for p, kept in zip(pos, keep, strict=False) if kept]
    unsure = sorted(unsure + [p for p, kept in zip(pos, keep, strict=False) if not kept])
    result = FastResult(accepted, unsure, [r for r, kept in zip(recs, keep, strict=False) if kept])
    _warnings(result, pos, keep, counts, obj_rec, kind, worst, obj_min, obj_max, obj_xmax, obj_ymax, W, H)
    obj_keep = keep[obj_rec]
    if len(idx) != int(obj_keep.sum()):  # the points of the kept objects (all parsed, a subset of `idx`)
        mine = obj_keep[idx]
        points = np.repeat(mine, lens)
        flat, token, lens = flat[points], token[points], lens[mine]
    kept_objs = objs if bool(obj_keep.all()) else list(compress(objs, obj_keep))
    result.ids = _ids(
        result, lines, kept_objs, counts[keep], desc_escaped[obj_keep], parsed, tokens, token, lens
    )
    result.objects_table = _objects_array(objs, desc_column, obj_keep, counts[keep], kind, ii, flat, lens)
    return result


def _ids(
    result: FastResult,
    lines: list[bytes],
    objs: list[FObject],
    counts: np.ndarray,
    escaped: np.ndarray,
    values: np.ndarray,
    tokens: Tokens | None,
    token: np.ndarray,
    lens: np.ndarray,
) -> list[str]:
    """Given or derived ids of the accepted records (`objs`, `counts`, `escaped`, `token`, `lens`: their
    objects)."""
    records = result.records
    need = np.fromiter((r.id is None for r in records), bool, count=len(records))
    if not need.any():
        return [r.id for r in records]
    shortcut = need.copy()  # derived from the struct (see `ids.derive_id_from_struct`) or from the line
    # `{}` is dropped from canonical JSON: such records take the line path (found with C-level counts first)
    metas = list(map(_METADATA, records))
    if metas.count({}):
        shortcut &= np.fromiter((m != {} for m in metas), bool, count=len(records))
    has = counts > 0
    attrs, obj_metas = list(map(_ATTRIBUTES, objs)), list(map(_METADATA, objs))
    if attrs.count({}) or obj_metas.count({}):
        empty = np.fromiter(
            (a == {} or m == {} for a, m in zip(attrs, obj_metas, strict=True)), bool, count=len(objs)
        )
        shortcut[has] &= ~np.logical_or.reduceat(empty, _starts(counts)[has])
    if len(lens) and tokens is None:  # coordinates parsed one by one: no texts to reuse
        shortcut &= ~has
    elif len(lens) and tokens is not None:
        which = np.repeat(np.repeat(need, counts), lens)  # the values of records that need an id
        mine = values[token[which]]
        texts_ok = np.ones(len(token), bool)
        # canonical JSON writes a coordinate of -0.0 as 0.0 (`ids._typed`): such a text is not canonical
        texts_ok[which] = shortest_texts(values, tokens, token[which]) & ~((mine == 0) & np.signbit(mine))
        object_ok = np.logical_and.reduceat(texts_ok, _starts(lens)) & ~escaped
        shortcut[has] &= np.logical_and.reduceat(object_ok, _starts(counts)[has])
    out = []
    for r, p, fast in zip(records, result.accepted, shortcut.tolist(), strict=True):
        if r.id is not None:
            out.append(r.id)
        elif fast:
            out.append(derive_id_from_struct(r))
        else:
            out.append(derive_id(lines[p]))
    return out


def _starts(counts: np.ndarray) -> np.ndarray:
    starts = np.zeros(len(counts), np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    return starts


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
    obj_keep: np.ndarray,
    counts: np.ndarray,
    kind: np.ndarray,
    ii: np.ndarray,
    flat: np.ndarray,
    lens: np.ndarray,
) -> pa.Array:
    """The `objects` column (list<struct>) of the accepted records, built from flat arrays (`flat`/`lens`:
    the points of the kept objects, in order)."""
    kept = np.flatnonzero(obj_keep)
    every = len(kept) == len(objs)
    point_offsets = np.zeros(len(lens) + 1, np.int32)
    np.cumsum(lens, out=point_offsets[1:])
    points = pa.ListArray.from_arrays(pa.array(point_offsets), pa.array(flat, pa.float64()))
    kinds = pa.DictionaryArray.from_arrays(pa.array(kind[kept], pa.int8()), _KIND_ARROW).cast(pa.string())
    json_columns = []
    for key in ("attributes", "metadata"):
        values = list(map(attrgetter(key), objs))
        if values.count(None) == len(values):
            json_columns.append(pa.nulls(len(kept), pa.string()))
        else:
            json_columns.append(_json_col(values if every else list(compress(values, obj_keep))))
    struct = pa.StructArray.from_arrays(
        [
            descs if every else descs.filter(pa.array(obj_keep)),
            kinds,
            points,
            pa.array(ii[kept].astype(np.int32), pa.int32()),
            *json_columns,
        ],
        names=list(OBJECT_COLUMNS),
    )
    offsets = np.zeros(len(counts) + 1, np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), struct)
