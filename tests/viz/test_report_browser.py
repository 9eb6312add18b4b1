"""The report page in a real headless browser (Debian's chromium driven by Playwright): it loads with no
console error and no network request, the counts it shows equal the dataset's, hostile descs stay text, the
filters work, and a screenshot is taken (kept under VLMDATA_SCREENSHOTS when that is set).

CI (`.ci/run`) installs chromium and sets VLMDATA_REQUIRE_BROWSER=1, so there a missing browser fails the
test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from vlmdata.cli import main

CHROMIUM = os.environ.get("VLMDATA_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    required = os.environ.get("VLMDATA_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            raise
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        if required:
            pytest.fail(f"{CHROMIUM} not found (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not found")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _open(browser, page_path: Path):  # noqa: ANN001, ANN202
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    requests: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
    return page, problems, requests


def _screenshot(page, tmp_path: Path, name: str) -> Path:  # noqa: ANN001
    from PIL import Image, ImageStat

    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=False)
    with Image.open(shot) as im:
        assert im.size == (1280, 900)
        assert max(ImageStat.Stat(im.convert("L")).stddev) > 20  # not a blank page
    keep = os.environ.get("VLMDATA_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    return shot


def test_report_in_a_real_browser(browser, report_inputs, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "rep"
    args = ["report", str(report_inputs["validated"]), str(report_inputs["hostile"])]
    assert main([*args, "--audit", str(report_inputs["audit"]), "--out", str(out), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    page, problems, requests = _open(browser, out / "index.html")
    assert problems == []
    assert all(u.startswith(("file://", "data:")) for u in requests), requests
    assert [u for u in requests if u.startswith("file://")] == [(out / "index.html").as_uri()]

    def count(key: str) -> int:
        return int(page.locator(f"[data-count='{key}']").first.inner_text())

    from datasets import load_from_disk

    rows = [
        r for folder in ("validated", "hostile") for r in load_from_disk(str(report_inputs[folder] / "data"))
    ]
    assert count("records") == len(rows) == summary["records"]
    assert count("objects") == sum(len(r["objects"] or []) for r in rows)
    for kind in ("bbox_2d", "poly", "line"):
        assert count(kind) == sum(o["kind"] == kind for r in rows for o in r["objects"] or [])
    assert count('records:src "q" <x>') == 4  # a hostile source name, counted and shown as text
    assert page.get_by_text("</script><script>alert('desc')</script>").count() >= 1  # a desc shown verbatim
    # every image of the gallery decoded: rendered <image> elements have a size
    images = page.locator("svg.shot image")
    assert images.count() >= summary["gallery"] > 0  # a two-image record shows both
    assert page.evaluate(
        "Array.from(document.querySelectorAll('svg.shot image')).every(i => i.getBBox().width > 0)"
    )
    assert page.evaluate("Array.from(document.images).length") == 0  # no <img>: every picture is inline SVG
    _screenshot(page, tmp_path, "report-top")

    # the filters: pick a category; the visible cards are exactly those holding it
    cards = page.locator("article.card")
    total = cards.count()
    assert count("gallery") == total == summary["gallery"]
    option = page.locator("#f-category option").nth(1).get_attribute("value")
    page.select_option("#f-category", value=option)
    expected = sum(option in json.loads(cards.nth(i).get_attribute("data-categories")) for i in range(total))
    assert 0 < expected < total
    assert page.locator("article.card:visible").count() == expected == int(page.inner_text("#shown"))
    page.select_option("#f-category", value="")
    page.select_option("#f-source", value='src "q" <x>')
    assert page.locator("article.card:visible").count() == 4
    page.locator("article.card:visible").first.scroll_into_view_if_needed()
    _screenshot(page, tmp_path, "report-gallery")
    assert problems == []
    page.close()
