"""The report page: one self-contained HTML file (inline CSS, inline SVG, inline script, images as data URIs).

Nothing is fetched: no CDN, no web font, no external image (a `data:` favicon keeps browsers from asking for
`/favicon.ico`). Charts are SVG bars drawn here; the gallery draws each record's objects as SVG shapes over
its image in the record's own pixel coordinates (`viewBox` = width × height, strokes that do not scale), and
every desc is text (an SVG `<title>` on the shape, a label, and a list under the image), so CJK descs render
in the browser's fonts. A small script filters the gallery by source and category.

Every user-controlled string (dataset paths, sources, categories, descs, ids, messages, file names) is
escaped on the way out by `vlmdata.io.html.escape`, the one escaping helper; data for the script is JSON with `<`, `>` and `&`
written as `\\u003c`, `\\u003e`, `\\u0026`, so no record can close the `<script>` element or inject markup.
Elements carrying counts have `data-count` attributes, which the browser test compares with the dataset.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from typing import Any

from vlmdata.io.html import escape
from vlmdata.viz.report import KINDS, ReportData

PALETTE = [
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45",
    "#469990", "#9a6324", "#800000", "#808000", "#000075", "#e6beff", "#aaffc3", "#ffd8b1",
]  # fmt: skip


def e(value: Any) -> str:
    """Data as HTML text through the one escaping helper (`& < > " '` escaped, so single- and double-quoted
    attributes are both safe); None shows as nothing."""
    return escape("" if value is None else value)


def _colour(category: str) -> str:
    return PALETTE[hashlib.md5(category.encode("utf-8")).digest()[0] % len(PALETTE)]


def _script_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _bars(rows: list[tuple[str, int]], unit: str, testid: str) -> str:
    """A horizontal bar chart as SVG; each bar carries its label and count as text."""
    if not rows:
        return "<p class='muted'>none</p>"
    top = max(c for _, c in rows) or 1
    height = 22 * len(rows) + 4
    parts = [
        f"<svg class='bars' role='img' data-chart='{e(testid)}' viewBox='0 0 640 {height}' width='100%'>"
    ]
    for i, (label, count) in enumerate(rows):
        y = 4 + 22 * i
        w = 0 if count == 0 else max(2.0, 380 * count / top)
        parts.append(
            f"<g><title>{e(label)}: {count} {e(unit)}</title><text x='196' y='{y + 14}' text-anchor='end'>"
            f"{e(label if len(label) <= 28 else label[:27] + '…')}</text>"
            f"<rect x='200' y='{y}' width='{w:.1f}' height='16' fill='#4363d8'/>"
            f"<text x='{204 + w:.1f}' y='{y + 13}'>{count}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _histogram(edges: list[Any], counts: list[int], label: str, testid: str) -> str:
    if not counts or sum(counts) == 0:
        return "<p class='muted'>no data</p>"
    top = max(counts)
    n = len(counts)
    width = 640
    bar = (width - 40) / n
    parts = [f"<svg class='hist' role='img' data-chart='{e(testid)}' viewBox='0 0 {width} 190' width='100%'>"]
    for i, c in enumerate(counts):
        h = 0 if c == 0 else max(1.0, 140 * c / top)
        x = 30 + i * bar
        lo, hi = edges[i], edges[i + 1]
        parts.append(
            f"<g><title>{e(lo)}–{e(hi)} {e(label)}: {c}</title>"
            f"<rect x='{x + 1:.1f}' y='{150 - h:.1f}' width='{max(bar - 2, 1):.1f}' height='{h:.1f}' "
            f"fill='#3cb44b'/>"
            + (f"<text x='{x + bar / 2:.1f}' y='{145 - h:.1f}' text-anchor='middle'>{c}</text>" if c else "")
            + "</g>"
        )
    step = max(1, n // 8)
    for i in range(0, n + 1, step):
        x = 30 + i * bar
        parts.append(f"<text x='{x:.1f}' y='168' text-anchor='middle' class='axis'>{e(edges[i])}</text>")
    parts.append(f"<text x='{width / 2}' y='186' text-anchor='middle' class='axis'>{e(label)}</text></svg>")
    return "".join(parts)


def _table(headers: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(rows_cell for rows_cell in row) + "</tr>" for row in rows)
    return f"<table class='{e(cls)}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(value: Any, count: str | None = None, num: bool = False) -> str:
    attr = f" data-count='{e(count)}'" if count else ""
    return f"<td{attr}{' class=num' if num else ''}>{e(value)}</td>"


def _sources(data: ReportData) -> str:
    rows = []
    for s in data.sources.values():
        rows.append(
            [
                _td(s.name),
                _td(s.records, f"records:{s.name}", True),
                _td(s.objects, f"objects:{s.name}", True),
                _td(s.images, f"images:{s.name}", True),
                *(_td(s.kinds.get(k, 0), f"{k}:{s.name}", True) for k in KINDS),
                _td(s.with_summary, None, True),
                _td(s.chat, None, True),
            ]
        )
    kinds = data.kinds()
    rows.append(
        [
            "<td><b>total</b></td>",
            _td(data.records, "records", True),
            _td(data.objects, "objects", True),
            _td(sum(s.images for s in data.sources.values()), "images", True),
            *(_td(kinds[k], k, True) for k in KINDS),
            _td(sum(s.with_summary for s in data.sources.values()), None, True),
            _td(sum(s.chat for s in data.sources.values()), None, True),
        ]
    )
    headers = ["source", "records", "objects", "images", *KINDS, "with summary", "chat"]
    return _table(headers, rows, "counts")


def _issues_table(rows: list[dict[str, Any]], total: int, what: str, folder: str) -> str:
    if not total:
        return f"<p class='muted'>no {e(what)}</p>"
    shown = [
        [
            _td(f"{r.get('file')}:{r.get('line')}"),
            _td(r.get("id") or ""),
            f"<td><code>{e(r.get('code'))}</code></td>",
            _td(r.get("field") or ""),
            _td(r.get("message") or ""),
        ]
        for r in rows
    ]
    note = f"<p class='muted'>{len(rows)} issue(s) of {total} line(s) listed; all in {e(folder)}/{e(what)}.jsonl</p>"
    return _table(["file:line", "id", "code", "field", "message"], shown, what) + note


def _gallery_card(card: dict[str, Any]) -> str:
    w, h = max(1, card["width"]), max(1, card["height"])
    figures = []
    for k, image in enumerate(card["images"]):
        shapes = []
        for i, o in enumerate(card["objects"]):
            if o["image_index"] != k:
                continue
            colour = _colour(o["category"])
            p = o["points"]
            title = f"<title>#{i} {e(o['desc'])}</title>"
            common = f"stroke='{colour}' vector-effect='non-scaling-stroke' data-kind='{e(o['kind'])}' data-category='{e(o['category'])}'"
            if o["kind"] == "bbox_2d" and len(p) == 4:
                x1, y1, x2, y2 = p
                shape = f"<rect x='{x1:g}' y='{y1:g}' width='{max(x2 - x1, 0):g}' height='{max(y2 - y1, 0):g}' fill='none' stroke-width='2' {common}>{title}</rect>"
                anchor = (x1, y1)
            else:
                pts = " ".join(f"{p[j]:g},{p[j + 1]:g}" for j in range(0, len(p) - 1, 2))
                tag = "polygon" if o["kind"] == "poly" else "polyline"
                fill = f"fill='{colour}' fill-opacity='0.18'" if tag == "polygon" else "fill='none'"
                shape = f"<{tag} points='{pts}' {fill} stroke-width='2' {common}>{title}</{tag}>"
                anchor = (p[0], p[1]) if len(p) >= 2 else (0, 0)
            font = max(w, h) / 32
            label = (
                f"<text x='{anchor[0]:g}' y='{max(anchor[1] - font * 0.3, font):g}' font-size='{font:.1f}' "
                f"fill='{colour}' stroke='white' stroke-width='{font / 8:.2f}' paint-order='stroke'>#{i}</text>"
            )
            shapes.append(shape + label)
        picture = (
            f"<image href='{e(image['src'])}' x='0' y='0' width='{w}' height='{h}' preserveAspectRatio='none'/>"
            if image["src"]
            else f"<rect width='{w}' height='{h}' fill='#ddd'/><text x='{w / 2}' y='{h / 2}' text-anchor='middle' font-size='{max(w, h) / 20:.1f}'>image not found</text>"
        )
        figures.append(
            f"<svg viewBox='0 0 {w} {h}' class='shot' role='img'><title>{e(image['path'])}</title>{picture}{''.join(shapes)}</svg>"
        )
    descs = "".join(
        f"<li style='border-left:4px solid {_colour(o['category'])}'><span class='idx'>#{i}</span> "
        f"<code>{e(o['kind'])}</code> <span class='desc'>{e(o['desc'])}</span></li>"
        for i, o in enumerate(card["objects"])
    )
    summary = f"<p class='summary'>{e(card['summary'])}</p>" if card.get("summary") else ""
    cats = _script_json(card["categories"])
    return (
        f"<article class='card' data-source='{e(card['source'])}' data-categories='{e(cats)}'>"
        f"<header><b>{e(card['id'])}</b> <span class='muted'>{e(card['source'])} · {w}×{h} · "
        f"{len(card['objects'])} object(s)</span></header>{''.join(figures)}<ol start='0'>{descs}</ol>{summary}</article>"
    )


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1200px;margin:0 auto;padding:1em 1.5em}h1{margin:.2em 0}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:14px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f0f0f0}.muted{color:#777}
svg.bars text,svg.hist text{font-size:12px;fill:#333}svg.hist text.axis{fill:#666;font-size:11px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1em}
.filters{position:sticky;top:0;background:#fafafa;padding:.5em 0;z-index:2}select{font-size:14px;margin-right:1em}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
.card{background:white;border:1px solid #ddd;border-radius:6px;padding:8px}.card header{font-size:13px;margin-bottom:4px}
.card svg.shot{width:100%;height:auto;max-height:480px;display:block;background:#eee;margin-bottom:4px}
.card ol{margin:0;padding-left:0;list-style:none;font-size:13px}.card li{padding:1px 6px;margin:2px 0}
.idx{color:#888}.summary{font-size:12px;color:#555;word-break:break-all}.issues{max-height:420px;overflow:auto;display:block}
"""

SCRIPT = """
(function(){
  var src=document.getElementById('f-source'), cat=document.getElementById('f-category');
  var cards=Array.prototype.slice.call(document.querySelectorAll('article.card'));
  var shown=document.getElementById('shown');
  function apply(){
    var n=0;
    cards.forEach(function(c){
      var cats=JSON.parse(c.getAttribute('data-categories'));
      var ok=(!src.value||c.getAttribute('data-source')===src.value)&&(!cat.value||cats.indexOf(cat.value)>=0);
      c.hidden=!ok; if(ok){n++;}
      Array.prototype.forEach.call(c.querySelectorAll('[data-category]'),function(s){
        s.style.opacity=(!cat.value||s.getAttribute('data-category')===cat.value)?1:0.25;});
    });
    shown.textContent=String(n);
  }
  src.addEventListener('change',apply); cat.addEventListener('change',apply); apply();
})();
"""


def render_page(data: ReportData, title: str = "vlmdata report") -> str:
    from vlmdata import __version__

    categories = data.category_rows()
    cat_rows = [(name, total) for name, total, _ in categories[:40]]
    cat_table = _table(
        ["category", "objects", *data.sources],
        [
            [
                _td(name),
                _td(total, f"category:{name}", True),
                *(_td(per.get(s, 0), None, True) for s in data.sources),
            ]
            for name, total, per in categories[:200]
        ],
        "categories",
    )
    more = (
        f"<p class='muted'>{len(categories) - 200} more categories not listed</p>"
        if len(categories) > 200
        else ""
    )
    sizes = data.size_histogram()
    lengths = "<p class='muted'>pass <code>--audit report.json</code> (from <code>vlmdata audit --out</code>) for token lengths</p>"
    if data.lengths is not None:
        hist = data.lengths["histogram"]
        stats = data.lengths["stats"].get("all", {})
        facts = ", ".join(
            f"{k} {e(v)}" for k, v in stats.items() if k in ("count", "min", "p50", "p90", "p99", "max")
        )
        lengths = (
            _histogram(hist["edges"], hist["counts"], "tokens per sample", "lengths")
            + f"<p>{facts}; global_max_length {e(data.lengths.get('global_max_length'))}; "
            f"over the limit: <b data-count='over_limit'>{e(data.lengths.get('over_limit'))}</b> "
            f"<span class='muted'>({e(data.lengths['file'])})</span></p>"
        )
    runs = []
    for run in data.validate_runs:
        lines = "" if run.lines is None else f"{run.lines} lines read, {run.valid} valid, "
        runs.append(
            f"<h3>{e(run.folder)}</h3><p>{e(lines)}<b data-count='rejected'>{run.rejected}</b> rejected, "
            f"<b data-count='warned'>{run.warned}</b> with warnings</p>"
            f"<h4>rejects</h4>{_issues_table(run.rejects, run.rejected, 'rejects', run.folder)}"
            f"<h4>warnings</h4>{_issues_table(run.warnings, run.warned, 'warnings', run.folder)}"
        )
    validate = "".join(runs) or "<p class='muted'>no <code>validate --out</code> folder among the inputs</p>"
    source_options = "".join(f"<option value='{e(s)}'>{e(s)}</option>" for s in data.sources)
    gallery_cats = sorted({c for card in data.gallery for c in card["categories"]})
    category_options = "".join(f"<option value='{e(c)}'>{e(c)}</option>" for c in gallery_cats)
    cards = "".join(_gallery_card(card) for card in data.gallery)
    datasets = ", ".join(f"{e(d['name'])} <span class='muted'>({e(d['path'])})</span>" for d in data.datasets)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        "<link rel='icon' href='data:,'>"
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body><main>"
        f"<h1>{e(title)}</h1><p>{datasets}</p>"
        f"<p class='muted'>vlmdata {e(__version__)} · {stamp}</p>"
        f"<h2>Records and objects per source</h2>{_sources(data)}"
        "<h2>Distributions</h2><div class='charts'>"
        f"<section><h3>categories (top {min(40, len(categories))})</h3>{_bars(cat_rows, 'objects', 'categories')}</section>"
        f"<section><h3>geometry kinds</h3>{_bars(list(data.kinds().items()), 'objects', 'kinds')}</section>"
        f"<section><h3>image size (longer side, px)</h3>{_histogram(sizes['edges'], sizes['counts'], 'px (longer side)', 'sizes')}</section>"
        f"<section><h3>token length</h3>{lengths}</section></div>"
        f"<h3>all categories</h3>{cat_table}{more}"
        f"<h2>Validation: rejects and warnings</h2>{validate}"
        f"<h2>Gallery</h2><div class='filters'>source <select id='f-source'><option value=''>all</option>{source_options}</select>"
        f"category <select id='f-category'><option value=''>all</option>{category_options}</select>"
        f"<span class='muted'><span id='shown'>{len(data.gallery)}</span> of <span data-count='gallery'>{len(data.gallery)}</span> records shown</span></div>"
        f"<div class='gallery'>{cards}</div>"
        f"</main><script>{SCRIPT}</script></body></html>"
    )
