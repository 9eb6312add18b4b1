"""COCO RLE masks → polygons: the runs are checked and decoded, the pixel edges traced into outlines.

The contract has no mask kind, so a mask (a crowd region, or an RLE on a normal annotation) becomes one polygon
per connected region. Both RLE spellings are read: uncompressed (`counts` a list of run lengths, as COCO's
crowd annotations are written) and compressed (`counts` a string, as LVIS and most tools write). The mask's
`size` must be the image's `[height, width]` and its runs must cover exactly its pixels.

Tracing follows the pixel edges, not the pixel centres: each outline runs along the boundary between inside
and outside pixels, with integer corner coordinates in the contract's continuous frame (pixel `i` covers
`[i, i + 1)`). OpenCV's `findContours` would give the centres of the boundary pixels instead, and a polygon
through them rasterises back half a pixel short all round (two blobs of 7,400 px came back as 7,152); an
edge outline rasterises back (`pycocotools` `frPyObjects` + `decode`, i.e. `annToMask`) to exactly the same
pixels, which the tests check on random masks. Inside pixels that touch only at a corner belong to separate
outlines (4-connected regions). Holes cannot be expressed by a contract polygon: they are filled and counted
(`holes` in the object's metadata, `mask_holes_filled` in the report). An empty mask is `no_geometry`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vlmdata.importers.common import BadGeometry


def string_counts(text: str) -> list[int]:
    """The run lengths of a compressed COCO RLE string, checked character by character.

    COCO's format: each count is written in 5-bit groups, least significant first, as characters from `0`
    (48) upwards; bit 0x20 of a character says another group follows, bit 0x10 of the last group is the sign;
    from the third count on, the value is stored as the difference to the count two places before. Anything
    else (a character outside `0`..`o`, a count cut off at the end, a negative run) is `BadGeometry`.
    """
    counts: list[int] = []
    value = shift = 0
    for ch in text:
        c = ord(ch) - 48
        if not 0 <= c < 64:
            raise BadGeometry(
                "wrong_type", "VD111", f"RLE string holds {ch!r}, not a COCO RLE character", None
            )
        value |= (c & 0x1F) << shift
        shift += 5
        if c & 0x20:
            continue
        if c & 0x10:
            value -= 1 << shift
        if len(counts) > 2:
            value += counts[-2]
        if value < 0:
            raise BadGeometry("wrong_type", "VD111", "RLE string decodes to a negative run length", None)
        counts.append(value)
        value = shift = 0
    if shift:
        raise BadGeometry("wrong_type", "VD111", "RLE string ends inside a run length", None)
    return counts


def decode_rle(seg: Any, height: int, width: int) -> np.ndarray:
    """The (height, width) uint8 mask of a COCO RLE dict (compressed or not), or `BadGeometry`.

    The runs are checked before anything is built (non-negative, summing to height · width): pycocotools' C
    decoder trusts its input and corrupts memory on a malformed string, so it never sees one. The mask is
    built from the runs directly (column-major, starting with a run of zeros, COCO's layout); the tests
    compare it with pycocotools' `decode` on valid masks.
    """
    if not isinstance(seg, dict) or "counts" not in seg or "size" not in seg:
        raise BadGeometry("wrong_type", "VD111", "RLE segmentation needs `counts` and `size`", seg)
    size = seg["size"]
    if not (isinstance(size, list) and len(size) == 2 and all(type(v) is int for v in size)):
        raise BadGeometry("wrong_type", "VD111", "RLE `size` must be [height, width]", size)
    if size != [height, width]:
        raise BadGeometry(
            "size_mismatch",
            "VD304",
            f"RLE size {size} is not the image's [height, width] {[height, width]}",
            size,
        )
    counts = seg["counts"]
    if isinstance(counts, str):
        counts = string_counts(counts)
    elif not (isinstance(counts, list) and all(type(v) is int and v >= 0 for v in counts)):
        raise BadGeometry(
            "wrong_type", "VD111", "RLE counts must be non-negative run lengths or a string", None
        )
    if sum(counts) != height * width:
        raise BadGeometry(
            "wrong_type",
            "VD111",
            f"RLE runs cover {sum(counts)} pixels, the image has {height * width}",
            None,
        )
    values = np.arange(len(counts), dtype=np.int64) % 2
    flat = np.repeat(values.astype(np.uint8), np.asarray(counts, dtype=np.int64))
    return np.ascontiguousarray(flat.reshape((height, width), order="F"))


def _outlines(mask: np.ndarray) -> list[np.ndarray]:
    """Every closed pixel-edge outline of the mask as an (n, 2) array of integer corner points.

    Each boundary edge of an inside pixel is directed so the pixel lies to its right on screen (y down): the
    top edge runs +x, the right edge +y, the bottom edge −x, the left edge −y. Outer outlines then run
    clockwise on screen and holes counter-clockwise. Edges are chained end to start; where two edges leave one
    corner (two inside pixels touching only diagonally) the right turn is taken, which keeps such pixels in
    separate outlines. Only the corners where the heading changes are kept.
    """
    m = np.pad(mask.astype(bool), 1)
    inside = m[1:-1, 1:-1]
    outgoing: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for (dy, dx), (sx, sy), heading in (
        ((-1, 0), (0, 0), (1, 0)),  # top edge: from the pixel's top-left corner, heading +x
        ((0, 1), (1, 0), (0, 1)),  # right edge: from the top-right corner, heading +y
        ((1, 0), (1, 1), (-1, 0)),  # bottom edge: from the bottom-right corner, heading -x
        ((0, -1), (0, 1), (0, -1)),  # left edge: from the bottom-left corner, heading -y
    ):
        neighbour = m[1 + dy : m.shape[0] - 1 + dy, 1 + dx : m.shape[1] - 1 + dx]
        ys, xs = np.nonzero(inside & ~neighbour)
        for x, y in zip((xs + sx).tolist(), (ys + sy).tolist(), strict=True):
            outgoing.setdefault((x, y), []).append(heading)
    loops: list[np.ndarray] = []
    while outgoing:
        start = next(iter(outgoing))
        first = heading = outgoing[start][0]
        point = start
        corners: list[tuple[int, int]] = []
        while True:
            options = outgoing[point]
            options.remove(heading)
            if not options:
                del outgoing[point]
            nxt = (point[0] + heading[0], point[1] + heading[1])
            leaving = list(outgoing.get(nxt, ()))
            if nxt == start:
                leaving.append(first)
            dx, dy = heading
            new = next(h for h in ((-dy, dx), (dx, dy), (dy, -dx)) if h in leaving)  # right, straight, left
            if new != heading:
                corners.append(nxt)
            if nxt == start and new == first:
                break
            point, heading = nxt, new
        loops.append(np.array(corners, np.int64))
    return loops


def mask_polygons(mask: np.ndarray) -> tuple[list[list[float]], int]:
    """(one flat polygon per outer outline, number of holes filled) of a binary mask."""
    polygons: list[list[float]] = []
    holes = 0
    for loop in _outlines(mask):
        x, y = loop[:, 0].astype(np.float64), loop[:, 1].astype(np.float64)
        area2 = float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))
        if area2 < 0:  # counter-clockwise on screen: a hole
            holes += 1
            continue
        polygons.append(loop.reshape(-1).astype(np.float64).tolist())
    return polygons, holes


def rle_polygons(seg: Any, height: int, width: int) -> tuple[list[list[float]], int]:
    """(polygons, holes filled) of one RLE annotation; `BadGeometry` when the mask is empty."""
    polygons, holes = mask_polygons(decode_rle(seg, height, width))
    if not polygons:
        raise BadGeometry("no_geometry", "VD167", "the mask is empty", None)
    return polygons, holes
