"""`vlmdata report`: the figures on the page equal an independent count of the dataset, every string is
escaped, the page is self-contained, and the `--out` rule holds."""

from __future__ import annotations

import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

from vlmdata.cli import main


def _oracle(folder: Path) -> dict:
    """Counts straight from the Arrow rows, with none of the report's code."""
    from datasets import load_from_disk

    ds = load_from_disk(str(folder / "data"))
    out: dict = {
        "records": 0,
        "objects": 0,
        "kinds": Counter(),
        "sources": Counter(),
        "categories": Counter(),
    }
    for rec in ds:
        meta = json.loads(rec["metadata"] or "{}")
        source = meta.get("_source") or folder.name
        out["records"] += 1
        out["sources"][source] += 1
        for o in rec["objects"] or []:
            out["objects"] += 1
            out["kinds"][o["kind"]] += 1
            cat = next(
                (t.split("=", 1)[1] for t in o["desc"].split(",") if t.startswith("类别=")), o["desc"].strip()
            )
            out["categories"][cat] += 1
    return out


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.attrs: set[str] = set()
        self.counts: dict[str, str] = {}
        self._count: str | None = None
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.tags[tag] += 1
        for k, v in attrs:
            self.attrs.add(k)
            if k in ("href", "src") and v:
                self.urls.append(v)
            if k == "data-count":
                self._count = v

    def handle_data(self, data):  # noqa: ANN001
        if self._count is not None:
            self.counts[self._count] = data
            self._count = None


def _page(out: Path) -> str:
    return (out / "index.html").read_text(encoding="utf-8")


def test_counts_on_the_page_equal_the_dataset(report_inputs, tmp_path: Path, capsys) -> None:
    out = tmp_path / "rep"
    args = [
        "report",
        str(report_inputs["validated"]),
        "--audit",
        str(report_inputs["audit"]),
        "--out",
        str(out),
    ]
    assert main([*args, "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    oracle = _oracle(report_inputs["validated"])
    parser = _Tags()
    parser.feed(_page(out))
    counts = parser.counts
    assert int(counts["records"]) == oracle["records"] == summary["records"]
    assert int(counts["objects"]) == oracle["objects"] == summary["objects"]
    for kind in ("bbox_2d", "poly", "line"):
        assert int(counts[kind]) == oracle["kinds"][kind]
    for source, n in oracle["sources"].items():
        assert int(counts[f"records:{source}"]) == n
    for cat, n in oracle["categories"].items():
        assert int(counts[f"category:{cat}"]) == n
    rejects = (report_inputs["validated"] / "rejects.jsonl").read_text(encoding="utf-8").splitlines()
    warnings = (report_inputs["validated"] / "warnings.jsonl").read_text(encoding="utf-8").splitlines()
    assert int(counts["rejected"]) == len(rejects) > 0 and int(counts["warned"]) == len(warnings)
    manifest = json.loads(
        (report_inputs["root"] / "synth" / "corrupt_manifest.json").read_text(encoding="utf-8")
    )
    page = _page(out)
    assert sum(p["severity"] == "error" for p in manifest["entries"]) == manifest["errors"] > 30
    for planted in manifest["entries"]:  # every planted defect is listed with its line and code
        pattern = rf"data\.jsonl:{planted['line']}</td><td>[^<]*</td><td><code>([^<]+)</code>"
        assert planted["code"] in re.findall(pattern, page), planted
    audit = json.loads(report_inputs["audit"].read_text(encoding="utf-8"))
    assert int(counts["over_limit"]) == len(audit["over_limit"])
    assert sum(audit["histogram"]["counts"]) == audit["sized"]


def test_page_is_self_contained_and_escaped(report_inputs, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    assert main(["report", str(report_inputs["hostile"]), "--out", str(out)]) == 0
    page = _page(out)
    parser = _Tags()
    parser.feed(page)
    assert parser.tags["script"] == 1  # ours, and only ours
    assert not {a for a in parser.attrs if a.startswith("on")}  # no event-handler attribute anywhere
    ours = {"html", "head", "meta", "link", "title", "style", "body", "main", "h1", "h2", "h3", "h4", "p", "span",
            "b", "code", "table", "thead", "tbody", "tr", "th", "td", "div", "section", "svg", "g", "rect", "text",
            "polygon", "polyline", "image", "select", "option", "article", "header", "ol", "li", "script"}  # fmt: skip
    assert set(parser.tags) <= ours, set(parser.tags) - ours  # no tag from a desc made it in
    assert "&lt;b&gt;粗&lt;/b&gt;" in page and "&quot;引号&quot;&amp;" in page
    assert all(u.startswith("data:") for u in parser.urls)  # nothing to fetch: images and icon inline
    assert "&lt;/script&gt;&lt;script&gt;alert(" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    script = page[page.index("<script>") : page.index("</script>")]
    assert "alert" not in script
    assert int(parser.counts['records:src "q" <x>']) == 4


def test_edges_empty_and_text_only_and_missing_images(tmp_path: Path) -> None:
    from vlmdata.io.dataset import save_records
    from vlmdata.viz.report import build_report
    from vlmdata.viz.report_html import render_page

    empty = save_records([], tmp_path / "empty")
    chat = save_records(
        [
            {
                "id": "c",
                "messages": json.dumps(
                    [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
                ),
            }
        ],
        tmp_path / "chat",
    )
    ghost = save_records(
        [
            {
                "id": "g",
                "images": [str(tmp_path / "missing.png")],
                "width": 5000,
                "height": 20,
                "objects": [{"desc": "x", "kind": "poly", "points": [0, 0, 4000, 0, 4000, 19]}],
            }
        ],
        tmp_path / "ghost",
    )
    data = build_report([empty, chat, ghost], gallery=10)
    assert (
        data.records == 2
        and data.objects == 1
        and data.sources["chat"].chat == 1
        and data.sources["ghost"].images == 1
    )
    assert [c["id"] for c in data.gallery] == ["g"] and data.gallery[0]["images"][0]["src"] is None
    page = render_page(data)
    assert "image not found" in page and data.size_histogram()["counts"][-1] == 1  # 5000 px > last edge


def test_out_rule(report_inputs, tmp_path: Path) -> None:
    validated = report_inputs["validated"]
    assert main(["report", str(validated), "--out", str(validated)]) == 2  # the input itself
    assert main(["report", str(validated), "--out", str(validated / "data" / "rep")]) == 2  # inside an input
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep", encoding="utf-8")
    assert main(["report", str(validated), "--out", str(foreign)]) == 2
    assert (foreign / "notes.txt").read_text(encoding="utf-8") == "keep"
    out = tmp_path / "rep"
    assert main(["report", str(validated), "--out", str(out), "--gallery", "0"]) == 0
    assert (
        main(["report", str(validated), "--out", str(out), "--gallery", "2"]) == 0
    )  # its own output: replaced
    assert len(re.findall(r"<article class='card'", _page(out))) == 2
    assert main(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "r2")]) == 2
    assert (
        main(["report", str(validated), "--out", str(tmp_path / "r3"), "--audit", str(tmp_path / "x.json")])
        == 2
    )
