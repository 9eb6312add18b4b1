"""`vlmdata infer` with the tiny model on CPU, then `vlmdata eval` on its output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from vlmdata.cli import main
from vlmdata.io.dataset import save_records

pytestmark = pytest.mark.train


def test_infer_then_eval(tmp_path: Path, tiny_model_dir: Path) -> None:
    img = tmp_path / "a.png"
    Image.new("RGB", (96, 64), (200, 30, 30)).save(img)
    meta = json.dumps({"_template": "target_dense_bbu"})
    records = [
        {
            "id": f"r{i}",
            "images": [str(img)],
            "width": 96,
            "height": 64,
            "metadata": meta,
            "objects": [{"desc": "类别=BBU设备", "kind": "bbox_2d", "points": [4, 4, 40, 40]}],
        }
        for i in range(3)
    ]
    gt = save_records(records, tmp_path / "gt")
    preds = tmp_path / "preds.jsonl"
    assert (
        main(
            [
                "infer",
                str(gt),
                "--model",
                str(tiny_model_dir),
                "--out",
                str(preds),
                "--batch-size",
                "2",
                "--max-new-tokens",
                "8",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in preds.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["r0", "r1", "r2"]
    assert all(r["template"] == "target_dense_bbu" and isinstance(r["completion"], str) for r in rows)
    # identical inputs under greedy decoding give identical outputs, batched or not
    assert rows[0]["completion"] == rows[1]["completion"] == rows[2]["completion"]
    assert (
        main(["eval", str(preds), "--gt", str(gt), "--format", "json", "--out", str(tmp_path / "r.json")])
        == 0
    )
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["dense"]["records"] == 3 and 0.0 <= report["dense"]["parse_failure_rate"] <= 1.0


def test_infer_on_unlabelled_records(tmp_path: Path, tiny_model_dir: Path) -> None:
    img = tmp_path / "b.png"
    Image.new("RGB", (64, 64), (10, 200, 30)).save(img)
    record = {
        "id": "u0",
        "images": [str(img)],
        "width": 64,
        "height": 64,
        "objects": [],
        "metadata": json.dumps({"_template": "summary_bbu"}),
    }  # no summary: nothing to render as a target
    data = save_records([record], tmp_path / "unlabelled")
    preds = tmp_path / "p.jsonl"
    assert (
        main(
            ["infer", str(data), "--model", str(tiny_model_dir), "--out", str(preds), "--max-new-tokens", "4"]
        )
        == 0
    )
    row = json.loads(preds.read_text(encoding="utf-8"))
    assert row["id"] == "u0" and row["template"] == "summary_bbu"


def test_infer_reports_progress_per_batch(tmp_path: Path, tiny_model_dir: Path) -> None:
    from vlmdata.eval.infer import infer

    img = tmp_path / "c.png"
    Image.new("RGB", (32, 32), (10, 20, 200)).save(img)
    records = [
        {"id": f"p{i}", "images": [str(img)], "width": 32, "height": 32, "objects": [], "summary": "无关图片"}
        for i in range(5)
    ]
    data = save_records(records, tmp_path / "ds")
    seen: list[int] = []
    infer(
        tiny_model_dir,
        data,
        tmp_path / "p.jsonl",
        template="summary_bbu",
        batch_size=2,
        max_new_tokens=2,
        progress=seen.append,
    )
    assert seen == [2, 2, 1]
