"""`vlmdata render`: records drawn onto their images, as PNGs plus one HTML contact sheet.

For an augmented dataset (records whose metadata holds `_augmented_from`), each PNG shows the source record
(before) next to the augmented one (after), both drawn at the same height; the sheet lists each record's
descs in full, the ops applied with their sampled parameters, and the drop counts. Large images are scaled
down to `max_side` before drawing so lines stay crisp. The output folder is written atomically.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageOps

from vlmdata.viz.draw import _font, draw_objects, find_font


@dataclass
class RenderResult:
    out: str
    records: int = 0
    pngs: list[str] = field(default_factory=list)
    pairs: int = 0
    font: str | None = None
    cjk_font: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _open(path: str) -> Image.Image | None:
    try:
        with Image.open(path) as im:
            return ImageOps.exif_transpose(im).convert("RGB")
    except OSError:
        return None


def _panel(record: dict[str, Any], index: int, max_side: int, title: str) -> Image.Image:
    w, h = int(record.get("width") or 0), int(record.get("height") or 0)
    img = _open(record["images"][index]) if index < len(record.get("images") or []) else None
    if img is None:  # missing image: draw the geometry on a grey canvas of the record's size
        img = Image.new("RGB", (max(w, 64), max(h, 64)), (128, 128, 128))
    s = min(1.0, max_side / max(img.width, img.height))
    if s < 1.0:
        img = img.resize(
            (max(1, round(img.width * s)), max(1, round(img.height * s))), Image.Resampling.LANCZOS
        )
    drawn = draw_objects(img, record.get("objects") or [], index, s)
    bar = 26
    canvas = Image.new("RGB", (drawn.width, drawn.height + bar), (255, 255, 255))
    canvas.paste(drawn, (0, bar))
    ImageDraw.Draw(canvas).text((4, 4), title, fill=(0, 0, 0), font=_font(16))
    return canvas


def _side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    h = max(left.height, right.height)
    out = Image.new("RGB", (left.width + right.width + 12, h), (255, 255, 255))
    out.paste(left, (0, 0))
    out.paste(right, (left.width + 12, 0))
    return out


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:60] or "record"


class _Sources:
    """Source datasets of augmented records, loaded once each, looked up by id."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[Any, dict[str, int]] | None] = {}

    def find(self, ref: dict[str, Any]) -> dict[str, Any] | None:
        from vlmdata.io.dataset import load_dataset

        path = str(ref.get("dataset") or "")
        if path not in self._cache:
            try:
                ds = load_dataset(path)
                self._cache[path] = (ds, {rid: i for i, rid in enumerate(ds["id"])})
            except Exception:  # noqa: BLE001 - a moved or deleted source only loses the "before" panel
                self._cache[path] = None
        entry = self._cache[path]
        if entry is None or ref.get("id") not in entry[1]:
            return None
        return entry[0][entry[1][ref["id"]]]


def _provenance_html(meta: dict[str, Any]) -> str:
    prov = meta.get("_augment")
    if not prov:
        return ""
    if prov.get("bypassed"):
        return "<p>bypassed (left untouched)</p>"
    ops = []
    for op in prov.get("ops", []):
        if op.get("applied"):
            params = ", ".join(
                f"{k}={round(v, 3) if isinstance(v, float) else v}" for k, v in op.get("params", {}).items()
            )
            ops.append(f"{op['name']}({params})")
    drops = ", ".join(f"{k}: {v}" for k, v in (prov.get("dropped") or {}).items() if v)
    parts = [f"ops: {html.escape(' → '.join(ops) or 'none applied')}"]
    parts.append(f"size {prov.get('size_in')} → {prov.get('size_out')}, warps: {prov.get('warps', 0)}")
    if drops:
        parts.append(f"dropped {html.escape(drops)}")
    return "<p>" + "<br>".join(parts) + "</p>"


def render_dataset(
    dataset_dir: str | Path,
    out_dir: str | Path,
    n: int = 16,
    ids: list[str] | None = None,
    max_side: int = 1024,
    progress: Callable[..., None] | None = None,
) -> RenderResult:
    """Draw the picked records into `out_dir`; `progress(1)` after each record."""
    from vlmdata.errors import UsageError
    from vlmdata.io.atomic import atomic_dir
    from vlmdata.io.dataset import load_dataset

    ds = load_dataset(dataset_dir)
    if ids:
        where = {rid: i for i, rid in enumerate(ds["id"])}
        missing = [i for i in ids if i not in where]
        if missing:
            raise UsageError(
                f"id(s) not in the dataset: {', '.join(missing[:10])}",
                hint="check --ids against the dataset's `id` column",
            )
        picks = [where[i] for i in ids]
    else:
        if n < 1:
            raise UsageError("--n must be ≥ 1")
        picks = list(range(min(n, len(ds))))
    font, cjk = find_font()
    out = Path(out_dir)
    result = RenderResult(str(out.resolve()), font=font, cjk_font=cjk)
    sources = _Sources()
    rows = []
    with atomic_dir(out) as tmp:
        for k, idx in enumerate(picks):
            rec = ds[idx]
            meta = json.loads(rec.get("metadata") or "{}")
            src = (
                sources.find(meta["_augmented_from"])
                if isinstance(meta.get("_augmented_from"), dict)
                else None
            )
            result.pairs += int(src is not None)
            cells = []
            for j in range(max(1, len(rec["images"] or []))):
                panel = _panel(rec, j, max_side, f"after: {rec['id']}" if src is not None else str(rec["id"]))
                if src is not None:
                    panel = _side_by_side(_panel(src, j, max_side, f"before: {src['id']}"), panel)
                name = f"{k:04d}-{_safe(str(rec['id']))}-i{j}.png"
                panel.save(tmp / name, format="PNG")
                result.pngs.append(name)
                cells.append(
                    f'<a href="{html.escape(name)}"><img src="{html.escape(name)}" loading="lazy"></a>'
                )
            descs = "".join(
                f"<li>#{i} <code>{html.escape(o['kind'])}</code> {html.escape(o['desc'])}</li>"
                for i, o in enumerate(rec["objects"] or [])
            )
            rows.append(
                f"<section><h2>{html.escape(str(rec['id']))}</h2>{''.join(cells)}"
                f"{_provenance_html(meta)}<ol start=0>{descs}</ol></section>"
            )
            if progress is not None:
                progress(1)
        note = (
            ""
            if cjk
            else "<p><em>No CJK font installed: PNG labels show only their number for CJK text; descs are listed in full below each image.</em></p>"
        )
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>vlmdata render</title><style>"
            "body{font-family:sans-serif;margin:1em}section{border-top:1px solid #ccc;padding:.5em 0}"
            "img{max-width:100%;margin:4px 0}code{color:#555}</style></head><body>"
            f"<h1>{html.escape(str(dataset_dir))}</h1><p>{len(picks)} record(s)"
            f"{f', {result.pairs} before/after pair(s)' if result.pairs else ''}</p>{note}{''.join(rows)}</body></html>"
        )
        (tmp / "index.html").write_text(page, encoding="utf-8")
    result.records = len(picks)
    return result
