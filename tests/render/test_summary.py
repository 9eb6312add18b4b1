"""The summary builder, parser and validator, and `vlmdata summarize` on JSONL files and Arrow datasets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vlmdata.cli import main
from vlmdata.errors import VlmdataError
from vlmdata.render.summary import (
    build_summary,
    parse_summary,
    parse_summary_target,
    summary_json,
    validate_summary,
)


def d(desc: str) -> dict:
    return {"desc": desc, "kind": "bbox_2d", "points": [0, 0, 1, 1]}


def test_build_summary_counts_values_and_sorts() -> None:
    objects = [
        d("类别=螺丝,可见性=完整"),
        d("类别=BBU设备,品牌=华为,可见性=完整,端口=光口|电口"),
        d("类别=BBU设备,品牌=中兴,可见性=部分,端口=光口"),
        d("类别=螺丝"),
    ]
    got = build_summary(objects, "BBU")
    assert got == {
        "统计": [
            {
                "类别": "BBU设备",
                "可见性": {"完整": 1, "部分": 1},
                "品牌": {"中兴": 1, "华为": 1},
                "端口": {"光口": 2, "电口": 1},
            },
            {"类别": "螺丝", "可见性": {"完整": 1}},
        ]
    }
    assert list(got["统计"][0]) == ["类别", "可见性", "品牌", "端口"]
    assert summary_json(got).startswith('{"统计": [{"类别": "BBU设备", "可见性": {"完整": 1, "部分": 1}')


def test_build_summary_rru_groups_and_plain_descs() -> None:
    objects = [d("类别=RRU设备,组=2"), d("类别=RRU设备,组=10"), d("类别=RRU设备,组=2"), d("类别=天线")]
    got = build_summary(objects, "RRU")
    assert got["分组统计"] == {"2": 2, "10": 1}
    assert got["统计"][0] == {"类别": "RRU设备", "组": {"10": 1, "2": 2}}
    assert "分组统计" not in build_summary(objects, "BBU")
    assert build_summary([d("person"), d("car"), d("person")], None) == {
        "统计": [{"类别": "car"}, {"类别": "person"}]
    }
    assert build_summary([], "BBU") == {"统计": []}


@pytest.mark.parametrize(
    "desc", ["品牌=华为,类别=BBU设备", "类别=BBU设备,品牌", "类别=BBU设备,品牌=", "类别=a,类别=b", "  "]
)
def test_build_summary_rejects_bad_descs(desc: str) -> None:
    with pytest.raises(VlmdataError) as err:
        build_summary([d(desc)], "BBU")
    assert err.value.code_str == "VD415"


def test_build_summary_matches_the_synthetic_data_summaries(tmp_path: Path) -> None:
    from vlmdata.synth import generate

    generate(tmp_path / "syn", 60, seed=3, images=False, max_objects=30)
    checked = 0
    for line in (tmp_path / "syn" / "data.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        summary = rec.get("summary")
        if not summary or summary == "无关图片":
            continue
        ref = parse_summary(summary, rec["metadata"]["domain"])
        ref.pop("备注", None)
        assert build_summary(rec["objects"], rec["metadata"]["domain"]) == ref
        checked += 1
    assert checked >= 10


def test_validate_summary_reports_every_problem() -> None:
    bad = {"统计": [{"类别": "a", "k": {"v": 1.5}}, {"类别": "a"}, {"k": {}}, 3], "备注": "x", "extra": 1}
    problems = validate_summary(bad, None)
    joined = "\n".join(problems)
    for part in [
        "count must be a non-negative integer",
        "listed twice",
        "missing 类别",
        "must be an object",
        "备注: must be a list",
        "extra: unexpected top key",
    ]:
        assert part in joined
    assert validate_summary({"统计": [], "备注": ["ok"]}, "BBU") == []
    assert validate_summary({"统计": [], "备注": ["ok"]}, "RRU") != []
    assert validate_summary([], None) == ["$: the summary must be a JSON object"]


def test_parse_summary_target() -> None:
    assert parse_summary_target("无关图片") == (None, None)
    assert parse_summary_target('<DOMAIN=RRU>, <TASK=SUMMARY>\n{"统计": []}') == ("RRU", {"统计": []})
    for text, code in [
        ('<DOMAIN=RRU>, <TASK=SUMMARY>\n{"统计": []}\n', "VD422"),
        ('<DOMAIN=RRU>, <TASK=DETECTION>\n{"统计": []}', "VD422"),
        ('<DOMAIN=RRU>, <TASK=SUMMARY>\n{"统计": [], "统计": []}', "VD413"),
        ('<DOMAIN=RRU>, <TASK=SUMMARY>\n{"统计": {}}', "VD414"),
    ]:
        with pytest.raises(VlmdataError) as err:
            parse_summary_target(text)
        assert err.value.code_str == code
    with pytest.raises(VlmdataError):
        parse_summary_target('<DOMAIN=RRU>, <TASK=SUMMARY>\n{"统计": []}', "BBU")


def _jsonl(path: Path, rows: list) -> bytes:
    data = "".join(
        (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows
    ).encode()
    path.write_bytes(data)
    return data


def test_summarize_jsonl_fills_missing_and_keeps_the_rest(tmp_path: Path) -> None:
    kept = '{"id": "k",   "objects": [], "summary": "{\\"统计\\": []}"}'
    rows = [
        {
            "id": "a",
            "images": ["a.jpg"],
            "width": 10,
            "height": 10,
            "metadata": {"domain": "rru"},
            "objects": [
                {"desc": "类别=RRU设备,组=1", "bbox_2d": [0, 0, 5, 5]},
                {"desc": "类别=RRU设备,组=1", "poly": [0, 0, 5, 0, 5, 5]},
            ],
        },
        kept,
        {"id": "i", "images": ["i.jpg"], "width": 10, "height": 10, "objects": [], "summary": "无关图片"},
        "",
    ]
    src = tmp_path / "in.jsonl"
    _jsonl(src, rows)
    out = tmp_path / "out.jsonl"
    assert main(["summarize", str(src), "--out", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").split("\n")
    first = json.loads(lines[0])
    assert first["summary"] == '{"统计": [{"类别": "RRU设备", "组": {"1": 2}}], "分组统计": {"1": 2}}'
    assert first["objects"] == rows[0]["objects"] and first["metadata"] == rows[0]["metadata"]
    assert lines[1] == kept, "unchanged lines are copied byte for byte"
    assert json.loads(lines[2])["summary"] == "无关图片"
    assert lines[3:] == ["", ""]
    assert main(["summarize", str(src), "--out", str(out), "--overwrite", "--domain", "BBU"]) == 0
    assert json.loads(out.read_text(encoding="utf-8").split("\n")[1])["summary"] == '{"统计": []}'


def test_summarize_reports_all_problems_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    src = tmp_path / "in.jsonl"
    _jsonl(
        src,
        [
            {"id": "a", "objects": [{"desc": "品牌=华为", "bbox_2d": [0, 0, 1, 1]}]},
            "{broken",
            {"id": "c", "objects": [], "summary": '{"统计": 1}'},
            {"id": "ok", "objects": [{"desc": "类别=x", "bbox_2d": [0, 0, 1, 1]}]},
        ],
    )
    out = tmp_path / "out.jsonl"
    assert main(["summarize", str(src), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    err = captured.out + captured.err
    assert "VD415" in err and "in.jsonl:1" in err and "objects[0].desc" in err
    assert "VD101" in err and "in.jsonl:2" in err
    assert "VD414" in err and "in.jsonl:3" in err
    assert not out.exists() and not list(tmp_path.glob(".tmp-*"))
    assert main(["summarize", str(tmp_path / "missing.jsonl"), "--out", str(out)]) == 2
    assert main(["summarize", str(src), "--out", str(src)]) == 2


def test_summarize_arrow_dataset(tmp_path: Path) -> None:
    from vlmdata.io.dataset import load_dataset, save_records

    objs = [{"desc": "类别=BBU设备,可见性=完整", "kind": "bbox_2d", "points": [0, 0, 5, 5], "image_index": 0}]
    recs = [
        {
            "id": "a",
            "images": ["/x/a.jpg"],
            "width": 10,
            "height": 10,
            "objects": objs,
            "metadata": {"domain": "bbu"},
        },
        {"id": "b", "images": ["/x/b.jpg"], "width": 10, "height": 10, "objects": [], "summary": "无关图片"},
    ]
    save_records(recs, tmp_path / "ds")
    assert main(["summarize", str(tmp_path / "ds"), "--out", str(tmp_path / "out")]) == 0
    ds = load_dataset(tmp_path / "out")
    assert ds["summary"] == ['{"统计": [{"类别": "BBU设备", "可见性": {"完整": 1}}]}', "无关图片"]
    assert ds.features == load_dataset(tmp_path / "ds").features
    assert ds["objects"] == load_dataset(tmp_path / "ds")["objects"]


def _portable_source(tmp_path: Path) -> tuple[Path, list[dict]]:
    """A JSONL in `data/` whose relative paths (images and a chat image item) point into `data/img/`."""
    from PIL import Image

    (tmp_path / "data" / "img").mkdir(parents=True)
    for name in ("a.png", "b c.png", "q.png"):
        Image.new("RGB", (10, 10)).save(tmp_path / "data" / "img" / name)
    rows = [
        {
            "id": "a",
            "images": ["img/a.png", "./img/../img/b c.png"],
            "width": 10,
            "height": 10,
            "objects": [{"desc": "类别=螺丝", "bbox_2d": [0, 0, 5, 5]}],
        },
        {
            "id": "chat",
            "images": ["img/q.png"],
            "width": 10,
            "height": 10,
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image", "image": "img/q.png"}, {"type": "text", "text": "?"}],
                },
                {"role": "assistant", "content": "ok"},
            ],
        },
        {
            "id": "abs",
            "images": [str(tmp_path / "data" / "img" / "a.png")],
            "width": 10,
            "height": 10,
            "objects": [],
            "summary": "无关图片",
        },
    ]
    src = tmp_path / "data" / "in.jsonl"
    _jsonl(src, rows)
    return src, rows


def _resolved(out: Path) -> list[Path]:
    paths = []
    for line in out.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        refs = list(rec.get("images", []))
        for msg in rec.get("messages", []):
            if isinstance(msg["content"], list):
                refs += [c["image"] for c in msg["content"] if c["type"] == "image"]
        paths += [Path(os.path.normpath(out.parent / r)) for r in refs]
    return paths


@pytest.mark.parametrize(
    "where, first",
    [
        ("out.jsonl", "data/img/a.png"),  # above the images: relative to the new file
        ("data/out.jsonl", "img/a.png"),  # the same folder: nothing to rewrite
        ("sibling/out.jsonl", "../data/img/a.png"),  # beside the images' folder
        ("deep/er/out.jsonl", "../../data/img/a.png"),
    ],
)
def test_summarize_into_another_folder_keeps_image_paths_working(
    tmp_path: Path, where: str, first: str
) -> None:
    src, rows = _portable_source(tmp_path)
    out = tmp_path / where
    out.parent.mkdir(parents=True, exist_ok=True)
    assert main(["summarize", str(src), "--out", str(out)]) == 0
    got = _resolved(out)
    assert len(got) == 5 and all(p.is_file() for p in got)
    assert [p.name for p in got] == ["a.png", "b c.png", "q.png", "q.png", "a.png"]
    lines = out.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["images"][0] == first
    assert json.loads(lines[2])["images"] == rows[2]["images"]  # absolute paths are left alone
    if out.parent == src.parent:
        assert lines[1] == json.dumps(rows[1], ensure_ascii=False)  # nothing to rewrite: byte for byte
    # and the contract's own reader agrees: validate the output where it lies (images outside the file's
    # folder need --allow-outside-root, as the summary says)
    outside = ["--allow-outside-root"] if first.startswith("../") else []
    args = ["validate", str(out), "--out", str(tmp_path / "validated"), "--format", "json", *outside]
    assert main(args) == 0


def test_summarize_absolute_paths_and_image_root(tmp_path: Path) -> None:
    src, _ = _portable_source(tmp_path)
    out = tmp_path / "elsewhere" / "out.jsonl"
    out.parent.mkdir()
    assert main(["summarize", str(src), "--out", str(out), "--absolute-paths"]) == 0
    rec = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert rec["images"] == [
        str(tmp_path / "data" / "img" / "a.png"),
        str(tmp_path / "data" / "img" / "b c.png"),
    ]
    # the same records moved next to their images: --image-root says where the relative paths start
    moved = tmp_path / "data" / "img" / "in.jsonl"
    moved.write_bytes(src.read_bytes())
    out2 = tmp_path / "elsewhere" / "out2.jsonl"
    assert main(["summarize", str(moved), "--out", str(out2), "--image-root", str(tmp_path / "data")]) == 0
    assert all(p.is_file() for p in _resolved(out2))


def test_summarize_reports_references_missing_in_the_input(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    src, _ = _portable_source(tmp_path)
    (tmp_path / "data" / "img" / "q.png").unlink()
    out = tmp_path / "o" / "out.jsonl"
    out.parent.mkdir()
    assert main(["summarize", str(src), "--out", str(out), "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["images_checked"] == 5 and payload["missing_images"] == 2
    assert any("in.jsonl:2 images[0]: img/q.png" in m for m in payload["missing"])
