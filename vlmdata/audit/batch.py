"""Whole Arrow batches of single-image dense records sized with numpy, never converted to Python objects.

The same arithmetic as `vlmdata.audit.dense` (memoised digit-free pieces + one token per digit), done per
column: grid values `floor(v / W * 1000 + 0.5)` clamped to 0–1000 (the renderer's `to_grid`, the same float64
operations in the same order), digit counts by comparison, per-object sums with `bincount`. A record is taken
here only when every rule below provably holds; anything else (-1) goes to the per-record path:

- no `messages`, no `_template` / `min_pixels` / `max_pixels` in its metadata, exactly one image, a positive
  width and height, and the run's template writes the object map with a fixed header (or none) and prompts
  that do not depend on the record (no `{domain}` in a user template);
- every object is a box of 4 values, a polygon of at least 3 points with no repeated or near-collinear vertex
  (in pixels with a 1e-9 margin, exactly on the integer grid), or a line of at least 2 points; finite
  coordinates, `image_index` 0, a description without digits;
- the closing of the last object does not change the count (`DenseCounter.order_free`).

tests/audit/test_batch.py checks that every length equals the per-record path's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from vlmdata.audit.dense import DenseCounter
from vlmdata.audit.length import _dense_messages, conversation_pieces
from vlmdata.audit.tokens import TokenCounter
from vlmdata.contract.kinds import GEOMETRY_KINDS, KIND_CODE
from vlmdata.models.qwen import image_tokens

_SKIP_META = ('"_template"', '"min_pixels"', '"max_pixels"')


def _digits(g: np.ndarray) -> np.ndarray:
    return 1 + (g >= 10).astype(np.int64) + (g >= 100) + (g >= 1000)


class BatchSizer:
    """Sizes Arrow batches for one run (tokenizer, dense template, system prompt, pixel bounds)."""

    def __init__(
        self, counter: TokenCounter, template: Any, system: str | None, bounds: tuple[int, int]
    ) -> None:
        if counter.dense is None:
            counter.dense = DenseCounter(counter)
        self.dense: DenseCounter = counter.dense
        self.counter = counter
        self.bounds = bounds
        self.enabled = (
            counter.fast
            and template.mode == "dense"
            and template.format == "object_map"
            and self.dense.order_free
            and (not template.header or template.fixed_header is not None)
            and not template.prompt_needs_domain
        )
        if not self.enabled:
            return
        header = template.fixed_header
        prefix = (header + "\n") if header else ""
        self.empty_target = counter.cached(prefix + "{}")
        self.opening = counter.count_before_digit(prefix + '{"object_')
        probe = {"id": "-", "images": ["-"], "objects": []}
        prompts, _, _ = conversation_pieces(probe, _dense_messages(probe, template, system))
        self.fixed = sum(counter.cached(p) for p in prompts) + counter.cached("<|im_end|>\n")
        self._image: dict[tuple[int, int], int] = {}
        self._piece: dict[tuple[str, int], int] = {}
        self.digits_upto = np.cumsum([0] + [len(str(i)) for i in range(1, 100_001)])

    def _image_tokens(self, h: int, w: int) -> int:
        n = self._image.get((h, w))
        if n is None:
            try:
                n = image_tokens(h, w, *self.bounds)
            except ValueError:
                n = -1
            self._image[(h, w)] = n
        return n

    def _piece_count(self, desc: str, kind: int) -> int:
        n = self._piece.get((desc, kind))
        if n is None:
            name = GEOMETRY_KINDS[kind]
            p = self.dense._piece(desc, name, False)
            n = -1 if p is None else p
            self._piece[(desc, kind)] = n
        return n

    def size(self, table: Any) -> tuple[np.ndarray, np.ndarray]:
        """(lengths, image tokens) per row of an Arrow table slice; -1 where the per-record path must decide."""
        n = table.num_rows
        out = np.full(n, -1, dtype=np.int64)
        img = np.zeros(n, dtype=np.int64)
        if not self.enabled or n == 0:
            return out, img
        ok = np.ones(n, dtype=bool)
        messages = table.column("messages").to_pylist()
        metadata = table.column("metadata").to_pylist()
        for i, (m, meta) in enumerate(zip(messages, metadata, strict=True)):
            if m not in (None, "", "[]") or (meta and any(k in meta for k in _SKIP_META)):
                ok[i] = False
        images = table.column("images").combine_chunks()
        if images.null_count:
            return out, img
        n_img = np.diff(images.offsets.to_numpy())
        widths = table.column("width").to_numpy(zero_copy_only=False)
        heights = table.column("height").to_numpy(zero_copy_only=False)
        ok &= n_img == 1
        ok &= ~np.isnan(widths.astype(float)) & ~np.isnan(heights.astype(float))
        w = np.nan_to_num(widths.astype(float), nan=0.0)
        h = np.nan_to_num(heights.astype(float), nan=0.0)
        ok &= (w > 0) & (h > 0)
        for i in np.nonzero(ok)[0].tolist():
            t = self._image_tokens(int(h[i]), int(w[i]))
            if t < 0:
                ok[i] = False
            img[i] = t

        objects = table.column("objects").combine_chunks()
        if objects.null_count:
            return out, img
        ooff = objects.offsets.to_numpy().astype(np.int64)
        ooff = ooff - ooff[0]
        n_obj = np.diff(ooff)
        fields = dict(
            zip([f.name for f in objects.type.value_type], objects.flatten().flatten(), strict=True)
        )
        total_obj = int(ooff[-1])
        rec_of_obj = np.repeat(np.arange(n), n_obj)
        target = np.where(n_obj == 0, self.empty_target, 0).astype(np.int64)
        if total_obj:
            obj_sum, obj_bad = self._objects(fields, rec_of_obj, w, h)
            target += np.bincount(rec_of_obj, weights=obj_sum, minlength=n).astype(np.int64)
            ok &= np.bincount(rec_of_obj, weights=obj_bad, minlength=n) == 0
            has = n_obj > 0
            d = self.dense
            target[has] += self.opening + self.digits_upto[np.minimum(n_obj[has], 100_000)]
            target[has] += d.final["bbox_2d"] - d.close["bbox_2d"]
            ok &= n_obj <= 100_000
        out[ok] = self.fixed + target[ok] + img[ok] - 1
        img[~ok] = 0
        return out, img

    def _objects(
        self, f: Mapping[str, Any], rec_of_obj: np.ndarray, w: np.ndarray, h: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(token sum, bad flag) per object."""
        d = self.dense
        n = len(rec_of_obj)
        bad = np.zeros(n, dtype=np.int64)
        for name in ("desc", "kind", "points"):
            if f[name].null_count:
                return np.zeros(n), np.ones(n)
        kinds = np.array([KIND_CODE.get(k, -1) for k in f["kind"].to_pylist()], dtype=np.int64)
        descs = f["desc"].to_pylist()
        piece = np.array(
            [self._piece_count(s, k) if k >= 0 else -1 for s, k in zip(descs, kinds.tolist(), strict=True)],
            dtype=np.int64,
        )
        bad |= (kinds < 0) | (piece < 0)
        index = f["image_index"].to_numpy(zero_copy_only=False)
        bad |= np.nan_to_num(index.astype(float), nan=0.0) != 0

        pts = f["points"]
        poff = pts.offsets.to_numpy().astype(np.int64)
        poff = poff - poff[0]
        count = np.diff(poff)
        values = pts.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
        m = count // 2
        bad |= (
            (count % 2 != 0)
            | ((kinds == 0) & (count != 4))
            | ((kinds == 1) & (m < 3))
            | ((kinds == 2) & (m < 2))
        )
        obj_of_val = np.repeat(np.arange(n), count)
        local = np.arange(len(values)) - poff[:-1][obj_of_val]
        rec = rec_of_obj[obj_of_val]
        scale = np.where(local % 2 == 0, w[rec], h[rec])
        finite = np.isfinite(values)
        bad |= np.bincount(obj_of_val, weights=~finite, minlength=n).astype(bool)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            g = np.floor(np.where(finite, values, 0.0) / scale * 1000.0 + 0.5)
        g = np.clip(g, 0, 1000).astype(np.int64)
        dig = _digits(g)
        if np.any(count % 2):  # odd lengths break the x/y pairing below; the per-record path reports them
            return np.zeros(n), np.ones(n)

        # points
        gx, gy = g[0::2], g[1::2]
        px, py = values[0::2], values[1::2]
        obj_pt = obj_of_val[0::2]
        loc = local[0::2] // 2
        start = (poff[:-1] // 2)[obj_pt]
        mm = m[obj_pt]
        pt_dig = dig[0::2] + dig[1::2]
        kind_pt = kinds[obj_pt]

        # lines: consecutive repeats on the grid are dropped (all kept if fewer than 2 remain)
        prev = np.roll(np.arange(len(gx)), 1)
        new = (loc == 0) | (gx != gx[prev]) | (gy != gy[prev])
        kept = np.bincount(obj_pt, weights=new, minlength=n).astype(np.int64)
        kept_dig = np.bincount(obj_pt, weights=new * pt_dig, minlength=n).astype(np.int64)
        all_dig = np.bincount(obj_pt, weights=pt_dig, minlength=n).astype(np.int64)
        line_k = np.where(kept >= 2, kept, m)
        line_dig = np.where(kept >= 2, kept_dig, all_dig)

        # polygons: every vertex survives canonicalisation (no repeat, no near-collinear triple)
        is_poly = kind_pt == 1
        if np.any(is_poly):
            safe_m = np.maximum(mm, 1)
            j = start + (loc + 1) % safe_m
            k = start + (loc + 2) % safe_m
            ux, uy, vx, vy = px[j] - px, py[j] - py, px[k] - px[j], py[k] - py[j]
            cross = ux * vy - uy * vx
            with np.errstate(invalid="ignore", over="ignore"):
                flat = (np.abs(cross) <= 1e-9 * (np.hypot(ux, uy) * np.hypot(vx, vy))) | (
                    (ux == 0) & (uy == 0)
                )
            gux, guy, gvx, gvy = gx[j] - gx, gy[j] - gy, gx[k] - gx[j], gy[k] - gy[j]
            flat |= (gux * gvy - guy * gvx == 0) | ((gux == 0) & (guy == 0))
            bad |= np.bincount(obj_pt, weights=flat & is_poly, minlength=n).astype(bool)

        box = piece + d.bbox_tail + 3 * d.sep + all_dig + d.close["bbox_2d"]
        poly = piece + all_dig + m * d.sep + (m - 1) * d.pair_sep + d.close["other"]
        line_digits_m = 1 + (line_k >= 10) + (line_k >= 100) + (line_k >= 1000) + (line_k >= 10000)
        line = (
            piece
            + line_dig
            + line_k * d.sep
            + (line_k - 1) * d.pair_sep
            + line_digits_m
            + d.line_mid
            + d.close["other"]
        )
        total = np.select([kinds == 0, kinds == 1, kinds == 2], [box, poly, line], default=0)
        return total.astype(np.float64), bad.astype(np.float64)
