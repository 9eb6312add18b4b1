"""`vlmdata import qwen`: Qwen-VL native box answers, the frame decided from the data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.importers.conftest import make_image, read_jsonl, validate_jsonl
from vlmdata.importers import ImportOptions, import_source


def _line(answer: str, image: str = "a.jpg", style: str = "messages") -> dict:
    if style == "messages":
        return {
            "messages": [
                {"role": "user", "content": "<image>Locate every object."},
                {"role": "assistant", "content": answer},
            ],
            "images": [image],
        }
    return {
        "image": image,
        "conversations": [
            {"from": "human", "value": "<image>\nLocate every object."},
            {"from": "gpt", "value": answer},
        ],
    }


def _write(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def _answer(*boxes: tuple[list[float], str], fence: bool = False) -> str:
    text = json.dumps([{"bbox_2d": b, "label": label} for b, label in boxes])
    return f"```json\n{text}\n```" if fence else text


def test_grid_answers_are_converted_to_pixels(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg", (400, 200))
    lines = [
        _line(_answer(([100, 200, 500, 800], "cat"), fence=True)),
        _line(_answer(([0, 0, 1000, 1000], "table")), style="conversations"),
    ]
    out = tmp_path / "o.jsonl"
    report = import_source("qwen", _write(tmp_path / "q.jsonl", lines), out, ImportOptions())
    d = report.as_dict()
    # 800 > the 200 px height while ≤ 1000: only the grid explains it
    assert d["frame"] == {
        "frame": "grid",
        "how": "evidence",
        "evidence": {"records": 2, "beyond_grid": 0, "beyond_image": 2},
    }
    a, b = read_jsonl(out)
    assert a["objects"] == [
        {
            "desc": "cat",
            "bbox_2d": [40.0, 40.0, 200.0, 160.0],
            "metadata": {"qwen": {"bbox_2d": [100, 200, 500, 800]}},
        }
    ]
    assert b["objects"][0]["bbox_2d"] == [0.0, 0.0, 400.0, 200.0]
    assert a["metadata"]["qwen"]["prompt"] == "Locate every object."
    assert validate_jsonl(out, tmp_path, tmp_path.with_name(tmp_path.name + "-v")).total("rejected") == 0


def test_pixel_answers_and_the_frame_option(tmp_path: Path) -> None:
    make_image(tmp_path / "big.jpg", (1600, 1200))
    lines = [
        _line(_answer(([1200, 10, 1500, 900], "bus")), "big.jpg"),
        _line(_answer(([10, 10, 20, 20], "dot")), "big.jpg"),
    ]
    src = _write(tmp_path / "q.jsonl", lines)
    report = import_source("qwen", src, tmp_path / "o.jsonl", ImportOptions())
    assert (
        report.as_dict()["frame"]["frame"] == "pixel"
        and report.as_dict()["frame"]["evidence"]["beyond_grid"] == 1
    )
    assert read_jsonl(tmp_path / "o.jsonl")[0]["objects"][0]["bbox_2d"] == [1200, 10, 1500, 900]
    # stating the grid: the 1200 is not a grid value and is skipped, the small box is scaled
    report = import_source("qwen", src, tmp_path / "g.jsonl", ImportOptions(frame="grid"))
    assert report.as_dict()["frame"]["how"] == "--frame"
    assert report.as_dict()["totals"]["annotations"]["skipped"] == {"out_of_bounds": 1}
    assert read_jsonl(tmp_path / "g.jsonl")[0]["objects"][0]["bbox_2d"] == pytest.approx(
        [16.0, 12.0, 32.0, 24.0]
    )


def test_ambiguous_frame_is_assumed_and_said(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg", (800, 600))
    src = _write(tmp_path / "q.jsonl", [_line(_answer(([10, 20, 300, 400], "cup")))])
    report = import_source("qwen", src, tmp_path / "o.jsonl", ImportOptions())
    frame = report.as_dict()["frame"]
    assert frame["frame"] == "grid" and frame["warning"] == "VD177" and frame["how"].startswith("assumed")
    assert report.exit_code == 0


def test_defects(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg", (100, 100))
    lines = [
        _line("There is a cat."),
        _line(
            json.dumps(
                [
                    {"point_2d": [5, 5], "label": "dot"},
                    {"bbox_2d": [1, 2, 3], "label": "short"},
                    {"bbox_2d": [10, 10, 50, 50]},
                    {"bbox_2d": [10, 10, 50, 50], "label": "ok"},
                ]
            )
        ),
        _line(_answer(([1, 1, 5, 5], "x")), image="missing.jpg"),
        {"messages": [{"role": "user", "content": "hi"}], "images": ["a.jpg"]},
        {"images": ["a.jpg"]},
    ]
    report = import_source(
        "qwen", _write(tmp_path / "q.jsonl", lines), tmp_path / "o.jsonl", ImportOptions(frame="pixel")
    )
    d = report.as_dict()
    assert d["balanced"] and report.exit_code == 1
    assert d["totals"]["records"]["skipped"] == {"no_box_answer": 2, "image_missing": 1, "missing_field": 1}
    assert d["totals"]["annotations"]["skipped"] == {
        "unsupported_shape": 1,
        "bad_box": 1,
        "desc_field_missing": 1,
        "image_missing": 1,
    }
    assert [o["desc"] for r in read_jsonl(tmp_path / "o.jsonl") for o in r["objects"]] == ["ok"]
