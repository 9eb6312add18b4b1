"""Planted defects: the manifest is complete and every planted line really carries its defect.

The checks below are written from the contract (one independent check per defect kind), not from the
planters, so a planter that silently stops breaking its record fails here.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PIL import Image, ImageOps

from vlmdata.errors import load_all_codes
from vlmdata.synth import generate
from vlmdata.synth.corrupt import DEFECTS

GEOMS = ("bbox_2d", "poly", "line")


def _geom(rec: dict[str, Any]) -> list[float]:
    obj = rec["objects"][0]
    return next(obj[k] for k in GEOMS if k in obj)


def _file(out: Path, rec: dict[str, Any], i: int = 0) -> Path:
    return out / rec["images"][i]


def _shown_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).size


def _png_header(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _unreadable(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.load()
    except Exception:
        return True
    return False


Check = Callable[[Path, bytes, Any], bool]

# kind -> check(out_dir, raw line, parsed record or None)
CHECKS: dict[str, Check] = {
    "malformed_json": lambda o, raw, rec: rec is None and raw.decode("utf-8").lstrip().startswith("{"),
    "non_utf8": lambda o, raw, rec: rec is None and _not_utf8(raw),
    "not_object": lambda o, raw, rec: isinstance(json.loads(raw), list),
    "missing_field": lambda o, raw, rec: "images" in rec and "width" not in rec,
    "wrong_type": lambda o, raw, rec: isinstance(rec["height"], str),
    "unknown_key": lambda o, raw, rec: bool(
        set(rec["objects"][0])
        - {"desc", *GEOMS, "poly_points", "line_points", "image_index", "attributes", "metadata"}
    ),
    "nan": lambda o, raw, rec: (
        b"NaN" in raw and any(isinstance(v, float) and math.isnan(v) for v in _geom(rec))
    ),
    "bool_as_number": lambda o, raw, rec: any(v is True or v is False for v in _geom(rec)),
    "two_geometry_keys": lambda o, raw, rec: sum(k in rec["objects"][0] for k in GEOMS) == 2,
    "bad_desc": lambda o, raw, rec: "\n" in rec["objects"][0]["desc"],
    "out_of_range": lambda o, raw, rec: rec["width"] <= 0,
    "remote_url": lambda o, raw, rec: rec["images"][0].startswith(("http://", "https://")),
    "no_objects": lambda o, raw, rec: rec["objects"] == [] and "summary" not in rec and "messages" not in rec,
    "image_index": lambda o, raw, rec: rec["objects"][0]["image_index"] >= len(rec["images"]),
    "box_inverted": lambda o, raw, rec: (b := rec["objects"][0]["bbox_2d"])[0] > b[2],
    "box_zero": lambda o, raw, rec: (b := rec["objects"][0]["bbox_2d"])[1] == b[3] and b[0] < b[2],
    "poly_odd": lambda o, raw, rec: len(rec["objects"][0]["poly"]) % 2 == 1,
    "poly_short": lambda o, raw, rec: len(rec["objects"][0]["poly"]) == 4,
    "poly_zero_area": lambda o, raw, rec: len(p := rec["objects"][0]["poly"]) >= 6 and _area2(p) == 0,
    "line_single_point": lambda o, raw, rec: (
        len({tuple(rec["objects"][0]["line"][i : i + 2]) for i in (0, 2)}) == 1
        and len(rec["objects"][0]["line"]) == 4
    ),
    "out_of_bounds": lambda o, raw, rec: rec["objects"][0]["bbox_2d"][2] > rec["width"] + 0.5,
    "points_mismatch": lambda o, raw, rec: (
        rec["objects"][0]["poly_points"] != len(rec["objects"][0]["poly"]) // 2
    ),
    "near_bounds": lambda o, raw, rec: rec["width"] < rec["objects"][0]["bbox_2d"][2] <= rec["width"] + 0.5,
    "looks_normalised": lambda o, raw, rec: all(
        0 <= v <= 1 for ob in rec["objects"] for k in GEOMS for v in ob.get(k, [])
    ),
    "image_missing": lambda o, raw, rec: not os.path.lexists(_file(o, rec)) and ".." not in rec["images"][0],
    "escape_dotdot": lambda o, raw, rec: not _file(o, rec).resolve().is_relative_to(o.resolve()),
    "escape_symlink": lambda o, raw, rec: (
        _file(o, rec).is_symlink() and not _file(o, rec).resolve().is_relative_to(o.resolve())
    ),
    "image_corrupt": lambda o, raw, rec: _unreadable(_file(o, rec)),
    "not_an_image": lambda o, raw, rec: _unreadable(_file(o, rec)),
    "image_truncated": lambda o, raw, rec: (
        _unreadable(_file(o, rec)) and _file(o, rec).read_bytes()[:2] in (b"\xff\xd8", b"\x89P")
    ),
    "unsupported_format": lambda o, raw, rec: Image.open(_file(o, rec)).format == "GIF",
    "size_mismatch": lambda o, raw, rec: _shown_size(_file(o, rec)) != (rec["width"], rec["height"]),
    "exif_mismatch": lambda o, raw, rec: (
        Image.open(_file(o, rec)).size == (rec["width"], rec["height"])
        and _shown_size(_file(o, rec)) == (rec["height"], rec["width"]) != (rec["width"], rec["height"])
    ),
    "decompression_bomb": lambda o, raw, rec: (
        _png_header(_file(o, rec)) == (rec["width"], rec["height"])
        and rec["width"] * rec["height"] > 10**9
        and _file(o, rec).stat().st_size < 1000
    ),
    "image_sizes_differ": lambda o, raw, rec: _shown_size(_file(o, rec, 0)) != _shown_size(_file(o, rec, 1)),
    "placeholder_count": lambda o, raw, rec: _placeholders(rec) != len(rec["images"]),
    "summary_json": lambda o, raw, rec: rec["summary"].startswith("{") and _json_fails(rec["summary"]),
    "bad_messages": lambda o, raw, rec: any(
        m["role"] not in ("system", "user", "assistant") for m in rec["messages"]
    ),
    "duplicate_id": lambda o, raw, rec: True,  # checked against earlier lines below
}


def _not_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _json_fails(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


def _area2(p: list[float]) -> float:
    n = len(p) // 2
    return sum(p[2 * i] * p[2 * ((i + 1) % n) + 1] - p[2 * ((i + 1) % n)] * p[2 * i + 1] for i in range(n))


def _placeholders(rec: dict[str, Any]) -> int:
    total = 0
    for m in rec["messages"]:
        c = m["content"]
        total += c.count("<image>") if isinstance(c, str) else sum(i["type"] == "image" for i in c)
    return total


def test_every_defect_kind_has_a_check() -> None:
    assert set(CHECKS) == {d.kind for d in DEFECTS}


def test_manifest_is_complete_and_every_planted_line_is_broken(corrupt_set: Path, oracle: ModuleType) -> None:
    manifest = json.loads((corrupt_set / "corrupt_manifest.json").read_text(encoding="utf-8"))
    entries = manifest["entries"]
    lines = oracle.read_lines(corrupt_set / "data.jsonl")
    registry = load_all_codes()
    assert Counter(e["kind"] for e in entries) == {d.kind: 2 for d in DEFECTS}
    assert len({e["line"] for e in entries}) == len(entries) == manifest["planted"]
    assert len(lines) == 54 + len(entries)
    assert manifest["errors"] + manifest["warnings"] == len(entries)
    seen_ids: dict[str, int] = {}
    planted = {e["line"]: e for e in entries}
    for no, raw in enumerate(lines, 1):
        rec = None
        try:
            rec = json.loads(raw.decode("utf-8"))
        except ValueError:
            pass
        entry = planted.get(no)
        if entry is None:
            assert isinstance(rec, dict), f"clean line {no} does not parse"
            if "id" in rec:
                assert rec["id"] not in seen_ids
                seen_ids[rec["id"]] = no
            continue
        kind = entry["kind"]
        assert registry[entry["code"]].severity == entry["severity"]
        assert manifest["kinds"][kind] == {"code": entry["code"], "severity": entry["severity"]}
        assert CHECKS[kind](corrupt_set, raw, rec), f"line {no}: {kind} not planted"
        if isinstance(rec, dict) and entry["id"] is not None:
            assert rec.get("id") == entry["id"]
        if kind == "duplicate_id":
            assert seen_ids.get(rec["id"], no) < no, "the duplicate must come after the original"
        elif isinstance(rec, dict) and "id" in rec:
            seen_ids.setdefault(rec["id"], no)


def test_no_images_mode_plants_only_record_defects(tmp_path: Path) -> None:
    res = generate(tmp_path / "s", 10, seed=1, corrupt=1, images=False, min_size=64, max_size=128)
    manifest = json.loads((tmp_path / "s/corrupt_manifest.json").read_text())
    kinds = {e["kind"] for e in manifest["entries"]}
    assert kinds == {d.kind for d in DEFECTS if not d.needs_images}
    assert res.images == 0 and res.planted == len(kinds)


def test_duplicate_id_is_deferred_when_planted_before_any_clean_record(tmp_path: Path) -> None:
    generate(tmp_path / "s", 1, seed=0, corrupt=3, images=False)
    lines = (tmp_path / "s/data.jsonl").read_text(encoding="utf-8", errors="replace").splitlines()
    manifest = json.loads((tmp_path / "s/corrupt_manifest.json").read_text())
    clean_line = ({*range(1, len(lines) + 1)} - {e["line"] for e in manifest["entries"]}).pop()
    clean_id = json.loads(lines[clean_line - 1])["id"]
    dups = [e for e in manifest["entries"] if e["kind"] == "duplicate_id"]
    assert len(dups) == 3 and all(e["line"] > clean_line and e["id"] == clean_id for e in dups)


@pytest.mark.parametrize("size", [(40000, 30000)])
def test_bomb_header_is_tiny_and_claims_the_size(tmp_path: Path, size: tuple[int, int]) -> None:
    from vlmdata.synth.imagefiles import bomb_png

    data = bomb_png(*size)
    path = tmp_path / "bomb.png"
    path.write_bytes(data)
    assert len(data) < 200 and _png_header(path) == size
    with pytest.raises(Image.DecompressionBombError):
        Image.open(path)


def test_docs_list_every_defect_with_its_code() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "synth.md").read_text(encoding="utf-8")
    for d in DEFECTS:
        assert f"| `{d.kind}` | `{d.code.code}` {d.severity} |" in doc, (
            f"docs/synth.md lacks the row of {d.kind}"
        )


def test_zero_clean_records_still_plant_every_other_kind(tmp_path: Path) -> None:
    res = generate(tmp_path / "s", 0, seed=0, corrupt=1, images=False)
    manifest = json.loads((tmp_path / "s/corrupt_manifest.json").read_text())
    kinds = [e["kind"] for e in manifest["entries"]]
    assert "duplicate_id" not in kinds and len(kinds) == len(set(kinds)) == res.planted
    assert sorted(e["line"] for e in manifest["entries"]) == list(range(1, res.planted + 1))
