"""Token count of a dense target without building its text: memoised scaffolding + arithmetic digit counts.

The dense target (`vlmdata.render.dense`) is a header line and one JSON line whose variable parts are the
object numbers, the descriptions and integers on the 0–1000 grid. Under Qwen's pre-tokeniser every ASCII
digit is one token and cuts the text (see `vlmdata.audit.tokens`), so the target splits into digits and a
handful of digit-free pieces that repeat across objects and records:

    <header>\\n{"object_ | n | ": {"desc": "<desc>", "bbox_ | 2 | d": [ | x1 | ,_ | y1 | ,_ | x2 | ,_ | y2 | ]}, "object_ | n …
    … "poly": [[ | x | ,_ | y | ], [ | x | ,_ | y | ]]}}        … "line_points": | m | , "line": [[ | …

tokens = Σ memoised piece counts + Σ digit counts (a table lookup per grid value). Object order does not
matter except for the closing piece of the last object (`]}}` or `]]}}`), found from the renderer's sort key
when the two closings count differently. When a description or the header contains a digit, or anything is
unusual, this returns None and the caller renders and tokenises the target instead. Grid values, sort keys
and canonicalisation (dropped duplicate/collinear vertices) come from the renderer's own per-object routine,
so they are exactly the renderer's; only the JSON text is never built. tests/audit/test_dense.py compares it with the
tokenizer on the rendered text for random and adversarial records.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from vlmdata.audit.tokens import TokenCounter

_DIGITS = [len(str(v)) for v in range(1001)]
# the digit-free head of each geometry key; "bbox_2d" continues after its digit with `d": [`
_KIND_HEAD = {"bbox_2d": '"bbox_', "poly": '"poly": [[', "line": '"line_points": '}
_HAS_DIGIT = str.maketrans("", "", "0123456789")


def _digits(v: int) -> int:
    return _DIGITS[v] if 0 <= v <= 1000 else len(str(v))


def _digit_free(text: str) -> bool:
    return len(text.translate(_HAS_DIGIT)) == len(text)


class DenseCounter:
    """Counts dense targets for one tokenizer; memoises every piece."""

    def __init__(self, counter: TokenCounter) -> None:
        from vlmdata.render.dense import grid_object
        from vlmdata.render.grid import to_grid

        self.counter = counter
        self._to_grid = to_grid
        self._grid_object: Callable[..., tuple] = grid_object  # the renderer's own per-object routine
        self._esc: dict[str, str] = {}
        self._piece_a: dict[tuple[str, str, bool], int | None] = {}
        bd = counter.count_before_digit
        self.sep = bd(", ")
        self.pair_sep = bd("], [")
        self.line_mid = bd(', "line": [[')
        self.close = {"bbox_2d": bd(']}, "object_'), "other": bd(']]}, "object_')}
        self.final = {"bbox_2d": counter.cached("]}}"), "other": counter.cached("]]}}")}
        self.order_free = (self.final["bbox_2d"] - self.close["bbox_2d"]) == (
            self.final["other"] - self.close["other"]
        )
        self.image_to_kind = {k: bd(", " + head) for k, head in _KIND_HEAD.items()}
        self.bbox_tail = 1 + bd('d": [')  # the "2" of bbox_2d, then the rest of the key

    def _piece(self, desc: str, kind: str, multi: bool) -> int | None:
        key = (desc, kind, multi)
        n = self._piece_a.get(key, -1)
        if n != -1:
            return n
        esc = json.dumps(desc, ensure_ascii=False)
        text = '": {"desc": ' + esc + (', "image": ' if multi else ", " + _KIND_HEAD[kind])
        # a desc with `<` may hold a token the template acts on: the full path renders and checks it
        n = self.counter.count_before_digit(text) if _digit_free(text) and "<" not in desc else None
        self._piece_a[key] = n
        return n

    def _fast_box(
        self, obj: Mapping[str, Any], kind: str, width: Any, height: Any, n_images: int
    ) -> list[int] | None:
        """Grid values of a valid box, in any order (enough when object order cannot change the count).

        Same arithmetic as the renderer (`to_grid`); anything the renderer would reject returns None, so the
        renderer's own routine then decides.
        """
        pts = obj.get("points")
        index = obj.get("image_index") or 0
        if (
            kind != "bbox_2d"
            or not isinstance(pts, list)
            or len(pts) != 4
            or not isinstance(obj.get("desc"), str)
        ):
            return None
        if not isinstance(index, int) or (n_images > 0 and not 0 <= index < n_images):
            return None
        try:
            return self._to_grid(pts, width, height)
        except (TypeError, ValueError, OverflowError):
            return None

    def _fast_shape(
        self, obj: Mapping[str, Any], kind: str, width: Any, height: Any, n_images: int
    ) -> list[int] | None:
        """Flat grid values of the vertices the renderer keeps for a polygon or line, when provably so.

        Lines: the renderer only reverses (no change to the values) and drops consecutive repeats on the grid.
        Polygons: when no vertex is a repeat or (clearly) collinear, in pixels and again on the integer grid,
        canonicalisation only rotates/reverses, so every vertex survives. Anything else returns None and the
        renderer's own routine decides.
        """
        pts = obj.get("points")
        index = obj.get("image_index") or 0
        min_pts = 3 if kind == "poly" else 2
        if (
            not isinstance(pts, list)
            or len(pts) % 2
            or len(pts) < 2 * min_pts
            or not isinstance(obj.get("desc"), str)
        ):
            return None
        if not isinstance(index, int) or (n_images > 0 and not 0 <= index < n_images):
            return None
        try:
            g = self._to_grid(pts, width, height)
            raw = [float(v) for v in pts]
        except (TypeError, ValueError, OverflowError):
            return None
        n = len(g) // 2
        if kind == "line":
            keep = [0, 1]
            for i in range(1, n):
                if g[2 * i] != g[2 * i - 2] or g[2 * i + 1] != g[2 * i - 1]:
                    keep += (2 * i, 2 * i + 1)
            return [g[k] for k in keep] if len(keep) >= 4 else g
        hypot = math.hypot
        for i in range(n):
            j, k = (i + 1) % n, (i + 2) % n
            # pixels: a repeat or a nearly collinear vertex is left to the renderer (margin far above its 1e-12)
            ax, ay, bx, by, cx, cy = (
                raw[2 * i],
                raw[2 * i + 1],
                raw[2 * j],
                raw[2 * j + 1],
                raw[2 * k],
                raw[2 * k + 1],
            )
            ux, uy, vx, vy = bx - ax, by - ay, cx - bx, cy - by
            if abs(ux * vy - uy * vx) <= 1e-9 * (hypot(ux, uy) * hypot(vx, vy)) or (ux == 0 and uy == 0):
                return None
            # grid: integer cross products are exact, so collinear means exactly zero
            gux, guy = g[2 * j] - g[2 * i], g[2 * j + 1] - g[2 * i + 1]
            gvx, gvy = g[2 * k] - g[2 * j], g[2 * k + 1] - g[2 * j + 1]
            if gux * gvy - guy * gvx == 0 or (gux == 0 and guy == 0):
                return None
        return g

    def count(self, record: Mapping[str, Any], header: str | None) -> int | None:
        """Tokens of the record's dense target (header line, if any, included), or None when unsure."""
        objs = record.get("objects") or []
        prefix = (header + "\n") if header else ""
        if not _digit_free(prefix):
            return None
        if not objs:
            return self.counter.cached(prefix + "{}")
        width, height = record.get("width"), record.get("height")
        if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < math.inf
            for v in (width, height)
        ):
            return None
        n_images = len(record.get("images") or [])
        multi = n_images > 1
        total = self.counter.count_before_digit(prefix + '{"object_')
        last_key = None
        last_kind = "bbox_2d"
        for i, obj in enumerate(objs):
            kind = obj.get("kind")
            if kind not in _KIND_HEAD:
                return None
            piece = self._piece(obj.get("desc") or "", kind, multi)
            if piece is None:
                return None
            flat = None
            if self.order_free:
                if kind == "bbox_2d":
                    flat = self._fast_box(obj, kind, width, height, n_images)
                else:
                    flat = self._fast_shape(obj, kind, width, height, n_images)
            geom: Any
            if flat is not None:
                index = int(obj.get("image_index") or 0)
                key = None
                geom = flat if kind == "bbox_2d" else list(zip(flat[::2], flat[1::2], strict=True))
            else:
                try:
                    key, _, geom, index = self._grid_object(obj, width, height, record, i, n_images)
                except Exception:
                    return None
            total += piece + _digits(i + 1)
            if multi:
                total += _digits(index + 1) + self.image_to_kind[kind]
            group = "bbox_2d" if kind == "bbox_2d" else "other"
            if kind == "bbox_2d":
                total += (
                    self.bbox_tail
                    + _DIGITS[geom[0]]
                    + _DIGITS[geom[1]]
                    + _DIGITS[geom[2]]
                    + _DIGITS[geom[3]]
                    + 3 * self.sep
                )
            else:
                m = len(geom)
                total += (
                    sum(_DIGITS[x] + _DIGITS[y] for x, y in geom) + m * self.sep + (m - 1) * self.pair_sep
                )
                if kind == "line":
                    total += _digits(m) + self.line_mid
            total += self.close[group]
            if not self.order_free and (last_key is None or key > last_key):
                last_key, last_kind = key, group
            elif self.order_free:
                last_kind = group
        return total - self.close[last_kind] + self.final[last_kind]
