"""Bulk screening of raw JSON geometry: many polygons or COCO boxes parsed and checked at once.

An importer that keeps coordinates as their JSON text (`msgspec.Raw`) gathers a unit's polygon parts or boxes in
a `Batch` and screens them together: one `vlmdata.validate.coords.parse_flat` call (validate's Arrow-based bulk
parser, no Python floats), then numpy checks of every rule the contract applies (point counts, bounds with the
0.5 px tolerance, the shoelace area with a margin so summation order cannot flip a verdict). A part the screen
proves valid keeps its JSON text, copied verbatim to the output; every other part goes through the contract's
rules one by one (`vlmdata.importers.common.pieces`), which decide, clip (`--clip`) or name the skip reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from vlmdata.contract.rules import BOUNDS_TOLERANCE, ZERO_AREA
from vlmdata.importers.common import BadGeometry, numbers, pieces
from vlmdata.validate.coords import parse_flat

Raw = msgspec.Raw
_ANY = msgspec.json.Decoder()


@dataclass(slots=True)
class Ann:
    slot: int  # record slot in the shard
    index: int  # position in `annotations`
    entry: dict[str, Raw]
    desc: str
    parts: list[Any]  # per part: Raw text (proven valid) / list of checked flat lists / BadGeometry
    kind: str = "poly"  # poly | bbox_2d | mask
    sure: int = 0  # parts proven valid by the bulk screen


class Batch:
    """Raw geometry of a shard gathered for one bulk parse: the text, its owner and its image size."""

    def __init__(self) -> None:
        self.raws: list[Raw] = []
        self.work: list[int] = []
        self.part: list[int] = []
        self.width: list[int] = []
        self.height: list[int] = []

    def add(self, raw: Raw, work: int, part: int, width: int, height: int) -> None:
        self.raws.append(raw)
        self.work.append(work)
        self.part.append(part)
        self.width.append(width)
        self.height.append(height)


def raw_text(raw: Raw) -> str:
    return bytes(raw).decode("utf-8", "replace")


def screen_polygons(work: list[Ann], batch: Batch, clip: bool) -> None:
    """Fill `ann.parts`: Raw text for parts the bulk screen proves valid, checked lists or `BadGeometry` else."""
    raws = batch.raws
    if not raws:
        return
    values, lens, good, _ = parse_flat(raws)
    sure = np.zeros(len(raws), bool)
    if len(lens):
        idx = np.flatnonzero(good)
        widths = np.asarray(batch.width, np.float64)[idx]
        heights = np.asarray(batch.height, np.float64)[idx]
        starts = np.zeros(len(lens), np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        pos = np.arange(len(values)) - np.repeat(starts, lens)
        limit = np.where(pos % 2 == 0, np.repeat(widths, lens), np.repeat(heights, lens))
        outside = np.maximum(-values, values - limit)
        worst = np.maximum.reduceat(outside, starts) if len(values) else np.zeros(0)
        even = lens % 2 == 0
        ok = even & (lens >= 6) & (worst <= BOUNDS_TOLERANCE)
        # twice the shoelace area of the even-length parts, with a margin so float order cannot flip a verdict
        pick = np.repeat(even, lens)
        xs, ys = values[pick][0::2], values[pick][1::2]
        plens = lens[even] // 2
        if len(plens):
            pstarts = np.zeros(len(plens), np.int64)
            np.cumsum(plens[:-1], out=pstarts[1:])
            nxt = np.arange(len(xs)) + 1
            nxt[pstarts + plens - 1] = pstarts
            area2 = np.add.reduceat(xs * ys[nxt] - xs[nxt] * ys, pstarts)
            big = np.zeros(len(lens), bool)
            big[even] = np.abs(area2) > 4 * ZERO_AREA
            ok &= big
        sure[idx[ok]] = True
    owners, parts_of = batch.work, batch.part
    for k in np.flatnonzero(sure).tolist():
        ann = work[owners[k]]
        ann.parts[parts_of[k]] = raws[k]
        ann.sure += 1
    for k in np.flatnonzero(~sure).tolist():
        ann = work[owners[k]]
        raw = raws[k]
        try:
            flat = numbers(_ANY.decode(raw), "polygon")
            ann.parts[parts_of[k]] = pieces("poly", flat, batch.width[k], batch.height[k], clip)
        except BadGeometry as exc:
            ann.parts[parts_of[k]] = exc
        except msgspec.DecodeError:
            ann.parts[parts_of[k]] = BadGeometry(
                "wrong_type", "VD111", "polygon must be a list of numbers", raw_text(raw)
            )


def screen_boxes(work: list[Ann], batch: Batch, clip: bool) -> None:
    """Set each box annotation's one part: its `bbox_2d` from COCO's `[x, y, w, h]`, or `BadGeometry`."""
    raws = batch.raws
    if not raws:
        return
    values, lens, good, _ = parse_flat(raws)
    done = np.zeros(len(raws), bool)
    starts = np.zeros(len(lens), np.int64)
    if len(lens):
        np.cumsum(lens[:-1], out=starts[1:])
    four = lens == 4
    idx = np.flatnonzero(good)[four]
    if len(idx):
        v = values[starts[four][:, None] + np.arange(4)]
        x1, y1 = v[:, 0], v[:, 1]
        x2, y2 = x1 + v[:, 2], y1 + v[:, 3]
        ws = np.asarray(batch.width, np.float64)[idx]
        hs = np.asarray(batch.height, np.float64)[idx]
        tol = BOUNDS_TOLERANCE
        ok = (x1 < x2) & (y1 < y2) & (x1 >= -tol) & (y1 >= -tol) & (x2 - ws <= tol) & (y2 - hs <= tol)
        ok &= (-x2 <= tol) & (-y2 <= tol) & (x1 - ws <= tol) & (y1 - hs <= tol)
        rows = np.flatnonzero(ok)
        boxes = np.stack([x1, y1, x2, y2], axis=1)[rows].tolist()
        owners = batch.work
        for k, box in zip(idx[rows].tolist(), boxes, strict=True):
            ann = work[owners[k]]
            ann.parts[0] = box
            ann.sure = 1
        done[idx[rows]] = True
    for k in np.flatnonzero(~done).tolist():
        ann = work[batch.work[k]]
        raw = raws[k]
        try:
            xywh = numbers(_ANY.decode(raw), "bbox")
            if len(xywh) != 4:
                raise BadGeometry(
                    "bad_box", "VD209", f"bbox needs 4 numbers [x, y, w, h], got {len(xywh)}", xywh
                )
            x, y, w, h = xywh
            ann.parts[0] = pieces("bbox_2d", [x, y, x + w, y + h], batch.width[k], batch.height[k], clip)
        except BadGeometry as exc:
            ann.parts[0] = exc
        except msgspec.DecodeError:
            ann.parts[0] = BadGeometry("wrong_type", "VD111", "bbox must be a list of numbers", raw_text(raw))
