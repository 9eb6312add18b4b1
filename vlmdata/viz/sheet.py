"""`vlmdata render`: records drawn onto their images, as PNGs plus one HTML contact sheet.

For an augmented dataset (records whose metadata holds `_augmented_from`), each PNG shows the source record
(before) next to the augmented one (after), both drawn at the same height; the sheet lists each record's
descs in full, the ops applied with their sampled parameters, and the drop counts. Large images are scaled
down to `max_side` before drawing so lines stay crisp (JPEGs are decoded at a reduced scale). The input is any
dataset form the one opener accepts; the output folder follows the `--out` rule (`vlmdata.io.output`; the
dataset and its images' folders are inputs) and is written atomically.

Images are read with `vlmdata.io.decode` under `max_image_pixels` (as `validate`'s `--max-image-pixels`). An
image that cannot be drawn — missing, corrupt, truncated, over the limit, a 16-bit mode — never ends the run:
its panel is a grey canvas of the record's size scaled to `max_side` (never the full declared size, which may
be anything) with the geometry on it, its title and the sheet say why (the code and message), and
`RenderResult.unreadable` lists it. Everything the page shows from the data (ids, descs, paths, provenance,
which anyone can write into `metadata`) is escaped by `vlmdata.io.html`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from vlmdata.io.engine import EngineOptions, open_engine
from vlmdata.io.html import Safe, href, html, join
from vlmdata.io.images import DEFAULT_MAX_IMAGE_PIXELS, ImageProblem
from vlmdata.viz.draw import _font, draw_objects, find_font

RECORDS_PER_CHUNK = 16  # records a task draws
PARALLEL_MIN_RECORDS = 24  # fewer records are drawn in this process (starting workers costs ~1 s)


@dataclass
class RenderResult:
    out: str
    records: int = 0
    pngs: list[str] = field(default_factory=list)
    pairs: int = 0
    font: str | None = None
    cjk_font: bool = False
    unreadable: list[dict[str, Any]] = field(default_factory=list)  # {id, image, code, message} per panel

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _size(record: dict[str, Any]) -> tuple[int, int]:
    try:
        w, h = int(record.get("width") or 0), int(record.get("height") or 0)
    except (TypeError, ValueError):
        return 64, 64
    return (w, h) if w > 0 and h > 0 else (64, 64)


def _panel(
    record: dict[str, Any],
    index: int,
    max_side: int,
    title: str,
    max_pixels: int | None,
    result: RenderResult,
) -> Image.Image:
    from vlmdata.io.decode import load_image_fit

    images = record.get("images") or []
    path = images[index] if index < len(images) else None
    img, problem = None, None
    if path is not None:
        try:
            img, s = load_image_fit(str(path), max_side, max_pixels)
        except ImageProblem as exc:
            problem = exc
            result.unreadable.append(
                {"id": record.get("id"), "image": path, "code": exc.code, "message": exc.message}
            )
    if img is None:  # no image to show: the geometry on a grey canvas of the record's size, scaled to fit
        w, h = _size(record)
        s = min(1.0, max_side / max(w, h))
        img = Image.new("RGB", (max(1, round(w * s)), max(1, round(h * s))), (128, 128, 128))
        if problem is not None:
            title = f"{title} (image not drawn: {problem.code})"
    drawn = draw_objects(img, record.get("objects") or [], index, s)
    bar = 26
    canvas = Image.new("RGB", (max(drawn.width, 64), drawn.height + bar), (255, 255, 255))
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
        from vlmdata.io.dataset import locate_dataset, read_rows

        path = str(ref.get("dataset") or "")
        if path not in self._cache:
            try:
                table = read_rows(locate_dataset(path))
                self._cache[path] = (table, {rid: i for i, rid in enumerate(table.column("id").to_pylist())})
            except Exception:  # noqa: BLE001 - a moved or deleted source only loses the "before" panel
                self._cache[path] = None
        entry = self._cache[path]
        if entry is None or ref.get("id") not in entry[1]:
            return None
        return entry[0].slice(entry[1][ref["id"]], 1).to_pylist()[0]


def _number(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def _provenance_html(meta: dict[str, Any]) -> Safe:
    """The augmentation provenance under `metadata._augment`: data, so every part of it is escaped."""
    prov = meta.get("_augment")
    if not prov:
        return Safe("")
    if not isinstance(prov, dict):
        return html("<p>augment provenance: <code>{}</code></p>", json.dumps(prov, ensure_ascii=False)[:500])
    if prov.get("bypassed"):
        return Safe("<p>bypassed (left untouched)</p>")
    ops = []
    for op in prov.get("ops") or []:
        if not isinstance(op, dict):
            ops.append(str(op))
        elif op.get("applied"):
            params = op.get("params")
            args = (
                ", ".join(f"{k}={_number(v)}" for k, v in params.items())
                if isinstance(params, dict)
                else str(params or "")
            )
            ops.append(f"{op.get('name')}({args})")
    dropped = prov.get("dropped")
    drops = ", ".join(f"{k}: {v}" for k, v in dropped.items() if v) if isinstance(dropped, dict) else ""
    parts = [
        html("ops: {}", " → ".join(ops) or "none applied"),
        html("size {} → {}, warps: {}", prov.get("size_in"), prov.get("size_out"), prov.get("warps", 0)),
    ]
    if drops:
        parts.append(html("dropped {}", drops))
    return html("<p>{}</p>", join(parts, "<br>"))


def _section(
    k: int,
    rec: dict[str, Any],
    sources: _Sources,
    tmp: Path,
    max_side: int,
    max_image_pixels: int | None,
    result: RenderResult,
) -> Safe:
    """Draw one record's PNG(s) into `tmp` and return its section of the contact sheet."""
    try:
        meta = json.loads(rec.get("metadata") or "{}")
    except ValueError:
        meta = {}
    meta = meta if isinstance(meta, dict) else {}
    src = sources.find(meta["_augmented_from"]) if isinstance(meta.get("_augmented_from"), dict) else None
    result.pairs += int(src is not None)
    seen = len(result.unreadable)  # this record's panels add theirs after it
    cells = []
    for j in range(max(1, len(rec["images"] or []))):
        title = f"after: {rec['id']}" if src is not None else str(rec["id"])
        panel = _panel(rec, j, max_side, title, max_image_pixels, result)
        if src is not None:
            before = _panel(src, j, max_side, f"before: {src['id']}", max_image_pixels, result)
            panel = _side_by_side(before, panel)
        name = f"{k:04d}-{_safe(str(rec['id']))}-i{j}.png"
        panel.save(tmp / name, format="PNG")
        result.pngs.append(name)
        cells.append(html('<a href="{0}"><img src="{0}" loading="lazy"></a>', href(name)))
    descs = join(
        html("<li>#{} <code>{}</code> {}</li>", i, o["kind"], o["desc"])
        for i, o in enumerate(rec["objects"] or [])
    )
    problems = join(
        html("<li><code>{}</code> {}: {}</li>", p["code"], p["image"], p["message"])
        for p in result.unreadable[seen:]
    )
    return html(
        "<section><h2>{}</h2>{}{}{}<ol start=0>{}</ol></section>",
        rec["id"],
        join(cells),
        html("<ul class=problems>{}</ul>", problems) if problems else "",
        _provenance_html(meta),
        descs,
    )


def render_dataset(
    dataset_dir: str | Path,
    out_dir: str | Path,
    n: int = 16,
    ids: list[str] | None = None,
    max_side: int = 1024,
    max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
    progress: Callable[..., None] | None = None,
    engine: EngineOptions | None = None,
) -> RenderResult:
    """Draw the picked records into `out_dir`; `progress(k)` after each k more records. `engine` (default:
    every usable core) draws chunks of the picks on workers; the output is the same for any worker count."""
    from vlmdata.errors import UsageError
    from vlmdata.io.dataset import image_dirs, locate_dataset, open_dataset
    from vlmdata.io.output import output_dir

    folder = locate_dataset(dataset_dir)
    ds = open_dataset(folder)
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
    if max_side < 1:
        raise UsageError("--max-side must be ≥ 1")
    font, cjk = find_font()
    out = Path(out_dir)
    result = RenderResult(str(out.resolve()), font=font, cjk_font=cjk)
    rows: list[Safe] = []
    options = engine or EngineOptions()
    if not options.distributed and (options.count <= 1 or len(picks) < PARALLEL_MIN_RECORDS):
        options = EngineOptions(workers=1)
    with output_dir(out, command="render", inputs=[dataset_dir, folder], roots=image_dirs(ds)) as tmp:
        per = max(1, min(RECORDS_PER_CHUNK, -(-len(picks) // (4 * options.count))))
        tasks = [
            RenderTask(
                str(folder.resolve()),
                list(enumerate(picks))[a : a + per],
                str(tmp),
                max_side,
                max_image_pixels,
            )
            for a in range(0, len(picks), per)
        ]
        with open_engine(options, len(tasks), preload=["vlmdata.viz.sheet", "vlmdata.io.decode"]) as pool:
            for chunk in pool.map(render_chunk, tasks):
                rows += chunk.sections
                result.pngs += chunk.pngs
                result.pairs += chunk.pairs
                result.unreadable += chunk.unreadable
                if progress is not None:
                    progress(len(chunk.sections))
        note = (
            ""
            if cjk
            else "<p><em>No CJK font installed: PNG labels show only their number for CJK text; descs are listed in full below each image.</em></p>"
        )
        page = html(
            "<!doctype html><html><head><meta charset='utf-8'><title>vlmdata render</title><style>"
            "body{{font-family:sans-serif;margin:1em}}section{{border-top:1px solid #ccc;padding:.5em 0}}"
            "img{{max-width:100%;margin:4px 0}}code{{color:#555}}.problems{{color:#a00}}</style></head><body>"
            "<h1>{}</h1><p>{} record(s){}</p>{}{}</body></html>",
            dataset_dir,
            len(picks),
            f", {result.pairs} before/after pair(s)" if result.pairs else "",
            Safe(note),
            join(rows),
        )
        (tmp / "index.html").write_text(page, encoding="utf-8")
    result.records = len(picks)
    return result


@dataclass(frozen=True)
class RenderTask:
    """A chunk of the picks, `(k, row)` each, drawn into `out` (the output's temporary folder)."""

    dataset: str
    picks: list[tuple[int, int]]
    out: str
    max_side: int
    max_image_pixels: int | None


@dataclass
class RenderChunk:
    sections: list[Safe]
    pngs: list[str]
    pairs: int
    unreadable: list[dict[str, Any]]


def render_chunk(task: RenderTask) -> RenderChunk:
    """Draw a chunk's records: each one's PNGs and section depend on that record (and its source) alone."""
    from vlmdata.errors import at
    from vlmdata.io.dataset import read_rows

    part = RenderResult(task.out)
    sources = _Sources()
    sections = []
    table = read_rows(task.dataset)  # memory-mapped; rows are read as they are drawn
    for k, idx in task.picks:
        rec = table.slice(idx, 1).to_pylist()[0]
        with at(rec.get("source_file") or task.dataset, rec.get("source_line"), str(rec["id"])):
            sections.append(
                _section(k, rec, sources, Path(task.out), task.max_side, task.max_image_pixels, part)
            )
    return RenderChunk(sections, part.pngs, part.pairs, part.unreadable)
