"""The one image-header cache (`HeaderProbe`): what it returns, what it remembers, and who uses it.

Sizes are checked against PIL (`Image.open` + `ImageOps.exif_transpose`), an independent reader; the number of
header header_reads is counted by wrapping the probe the cache calls.
"""

from __future__ import annotations

import ast
import json
import pickle
from pathlib import Path

import pytest
from PIL import Image, ImageOps

import vlmdata
import vlmdata.validate.imagecheck as imagecheck
from tests.validate.conftest import make_image, record
from vlmdata.io.images import ImageInfo, ImageProblem
from vlmdata.validate.imagecheck import IMPORT_ENTRIES, HeaderProbe, ImageChecker


def _pil_displayed(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).size


@pytest.mark.parametrize(
    ("size", "orientation"),
    [((1, 1), None), ((4000, 3), None), ((3, 4000), 6), ((120, 70), 8), ((120, 70), 3), ((64, 48), 5)],
)
def test_sizes_are_the_displayed_ones(tmp_path: Path, size: tuple[int, int], orientation: int | None) -> None:
    path = make_image(tmp_path / "x.jpg", size, orientation)
    info = HeaderProbe().info(str(path))
    assert isinstance(info, ImageInfo)
    assert info.displayed == _pil_displayed(path)
    assert (info.width, info.height) == size


def test_each_path_is_read_once_and_problems_are_remembered(tmp_path: Path, header_reads: list[str]) -> None:
    a = str(make_image(tmp_path / "a.jpg", (100, 80)))
    gone = str(tmp_path / "gone.jpg")
    probe = HeaderProbe()
    first = [probe.info(p) for p in (a, gone, a, gone, a)]
    assert header_reads == [a, gone]
    assert first[0] is first[2] is first[4]
    assert isinstance(first[1], ImageProblem) and first[1].code == "VD300"
    assert first[1] is first[3]
    assert len(probe) == 2


def test_the_pixel_limit_is_the_probes_own(tmp_path: Path) -> None:
    path = str(make_image(tmp_path / "a.png", (100, 80)))
    at_limit = HeaderProbe(max_pixels=8000).info(path)
    assert isinstance(at_limit, ImageInfo) and at_limit.displayed == (100, 80)
    over = HeaderProbe(max_pixels=7999).info(path)
    assert isinstance(over, ImageProblem) and over.code == "VD306"
    unbounded = HeaderProbe(max_pixels=None).info(path)
    assert isinstance(unbounded, ImageInfo)


def test_a_bounded_probe_forgets_the_oldest_path_first(tmp_path: Path, header_reads: list[str]) -> None:
    paths = [str(make_image(tmp_path / f"{k}.png", (8 + k, 8))) for k in range(4)]
    probe = HeaderProbe(entries=3)
    for p in paths[:3]:
        probe.info(p)
    probe.info(paths[0])  # a hit does not refresh: the oldest read is still the first to go
    probe.info(paths[3])
    assert len(probe) == 3
    assert header_reads == paths
    probe.info(paths[1])  # still remembered
    probe.info(paths[0])  # forgotten when paths[3] came in: read again
    assert header_reads == [*paths, paths[0]]
    info = probe.info(paths[0])
    assert isinstance(info, ImageInfo) and info.width == 8


def test_an_unbounded_probe_keeps_every_path(tmp_path: Path, header_reads: list[str]) -> None:
    path = str(make_image(tmp_path / "a.png", (9, 9)))
    probe = HeaderProbe()
    names = [str(tmp_path / f"missing{k}.jpg") for k in range(IMPORT_ENTRIES + 5)]
    for name in [path, *names, path]:
        probe.info(name)
    assert len(probe) == IMPORT_ENTRIES + 6
    assert header_reads.count(path) == 1


def test_a_pickled_probe_keeps_its_settings_and_arrives_empty(tmp_path: Path) -> None:
    path = str(make_image(tmp_path / "a.png", (100, 80)))
    probe = HeaderProbe(max_pixels=7999, entries=5)
    probe.info(path)
    copy = pickle.loads(pickle.dumps(probe))
    assert (copy.max_pixels, copy.entries, len(copy)) == (7999, 5, 0)
    assert len(probe) == 1
    again = copy.info(path)
    assert isinstance(again, ImageProblem) and again.code == "VD306"


@pytest.mark.parametrize("entries", [0, -1])
def test_a_probe_keeps_at_least_one_entry(entries: int) -> None:
    with pytest.raises(ValueError, match="at least one"):
        HeaderProbe(entries=entries)


def test_validate_reads_an_image_once_however_many_records_name_it(
    tmp_path: Path, header_reads: list[str]
) -> None:
    from vlmdata.validate import ValidateOptions, validate_files

    make_image(tmp_path / "ds" / "a.jpg", (100, 80))
    make_image(tmp_path / "ds" / "b.jpg", (100, 80))
    lines = [record(images=["a.jpg" if k % 3 else "b.jpg"], id=f"r{k}") for k in range(30)]
    data = tmp_path / "ds" / "data.jsonl"
    data.write_text("".join(json.dumps(x) + "\n" for x in lines))
    report = validate_files([data], tmp_path / "out", ValidateOptions())
    assert report.total("rejected") == 0
    assert sorted(header_reads) == sorted(str(tmp_path / "ds" / n) for n in ("a.jpg", "b.jpg"))


def test_the_checker_reports_what_the_probe_says(tmp_path: Path) -> None:
    a = str(make_image(tmp_path / "a.jpg", (100, 80)))
    rotated = str(make_image(tmp_path / "r.jpg", (100, 80), orientation=6))
    checker = ImageChecker(str(tmp_path), max_pixels=8000)
    assert checker.record_issues([a], 100, 80) == []
    assert [i.code for i in checker.record_issues([rotated], 100, 80)] == ["VD305"]
    assert checker.record_issues([rotated], 80, 100) == []
    small = ImageChecker(str(tmp_path), max_pixels=7999)
    assert [(i.code, i.field) for i in small.record_issues([a], 100, 80)] == [("VD306", "images[0]")]


def _names_probe_image(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if (isinstance(node, ast.Name) and node.id == "probe_image")
        or (isinstance(node, ast.Attribute) and node.attr == "probe_image")
    ]


def test_header_reads_for_sizes_go_through_the_one_cache() -> None:
    """Only the header cache calls the header probe; `io` owns it and decodes through it (no cache there)."""
    package = Path(vlmdata.__file__).parent
    allowed = {"io/images.py", "io/decode.py", "validate/imagecheck.py"}
    offenders = {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        lines = _names_probe_image(ast.parse(path.read_text(encoding="utf-8")))
        if lines and rel not in allowed:
            offenders[rel] = lines
    assert offenders == {}
    assert _names_probe_image(ast.parse(Path(imagecheck.__file__).read_text(encoding="utf-8")))
