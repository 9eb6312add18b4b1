"""`vlmdata eval` on hand-made predictions with known scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlmdata.cli import main
from vlmdata.errors import VlmdataError
from vlmdata.eval.evaluate import evaluate
from vlmdata.io.dataset import save_records

SUMMARY = {"统计": [{"类别": "天线", "品牌": {"华为": 2}}]}


def _gt(tmp_path: Path) -> Path:
    meta_dense = json.dumps({"_template": "target_dense_bbu"})
    meta_sum = json.dumps({"_template": "summary_rru"})
    records = [
        {
            "id": "d1",
            "images": ["a.jpg"],
            "width": 1000,
            "height": 1000,
            "metadata": meta_dense,
            "objects": [
                {"desc": "类别=BBU设备", "kind": "bbox_2d", "points": [0, 0, 100, 100]},
                {"desc": "类别=标签", "kind": "poly", "points": [500, 500, 600, 500, 600, 600, 500, 600]},
            ],
        },
        {
            "id": "d2",
            "images": ["b.jpg"],
            "width": 2000,
            "height": 1000,
            "metadata": meta_dense,
            "objects": [
                {"desc": "类别=线缆", "kind": "line", "points": [0, 500, 2000, 500]},
            ],
        },
        {
            "id": "s1",
            "images": ["c.jpg"],
            "width": 100,
            "height": 100,
            "metadata": meta_sum,
            "objects": [],
            "summary": json.dumps(SUMMARY, ensure_ascii=False),
        },
        {
            "id": "s2",
            "images": ["d.jpg"],
            "width": 100,
            "height": 100,
            "metadata": meta_sum,
            "objects": [],
            "summary": "无关图片",
        },
        {
            "id": "unpredicted",
            "images": ["e.jpg"],
            "width": 100,
            "height": 100,
            "metadata": meta_sum,
            "objects": [],
            "summary": "无关图片",
        },
    ]
    return save_records(records, tmp_path / "gt")


def _preds(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_hand_computed_scores(tmp_path: Path) -> None:
    gt = _gt(tmp_path)
    d1 = "<DOMAIN=BBU>, <TASK=DETECTION>\n" + json.dumps(
        {
            "object_1": {"desc": "类别=BBU设备", "bbox_2d": [0, 0, 100, 100]},
            "object_2": {"desc": "类别=螺丝", "bbox_2d": [800, 800, 900, 900]},
        },
        ensure_ascii=False,
    )
    d2 = "garbage"  # parse failure: counts as an empty prediction
    s1 = "<DOMAIN=RRU>, <TASK=SUMMARY>\n" + json.dumps(SUMMARY, ensure_ascii=False)
    s2 = "<DOMAIN=RRU>, <TASK=SUMMARY>\n" + json.dumps(
        SUMMARY, ensure_ascii=False
    )  # should have been 无关图片
    preds = _preds(
        tmp_path,
        [
            {"id": "d1", "completion": d1},
            {"id": "d2", "completion": d2},
            {"id": "s1", "completion": s1},
            {"id": "s2", "completion": s2},
        ],
    )
    report = evaluate(preds, gt)
    assert report["missing_predictions"] == 1
    dense = report["dense"]
    # 2 predicted boxes (1 exact match), 3 references → P 1/2, R 1/3, F1 0.4 at every threshold
    assert dense["parse_failure_rate"] == 0.5
    for row in dense["by_threshold"].values():
        assert (
            row["precision"] == pytest.approx(0.5)
            and row["recall"] == pytest.approx(1 / 3)
            and row["f1"] == pytest.approx(0.4)
        )
    assert dense["by_kind"]["bbox_2d"]["0.50"]["recall"] == 1.0
    assert dense["by_kind"]["poly"]["0.50"]["recall"] == 0.0 and dense["by_kind"]["line"]["n_ref"] == 1
    assert dense["category_f1_50"] == pytest.approx(0.4)
    summary = report["summary"]
    assert summary["content_f1"] == pytest.approx(0.5)  # s1 perfect, s2 wrong
    assert summary["exact_match"] == pytest.approx(0.5)
    assert summary["irrelevant_accuracy"] == pytest.approx(0.5)
    assert summary["parse_failure_rate"] == 0.0


def test_bad_prediction_files(tmp_path: Path) -> None:
    gt = _gt(tmp_path)
    with pytest.raises(VlmdataError) as err:
        evaluate(_preds(tmp_path, [{"id": "nope", "completion": ""}]), gt)
    assert err.value.code_str == "VD441" and "preds.jsonl:1" in str(err.value)
    with pytest.raises(VlmdataError) as err:
        evaluate(_preds(tmp_path, [{"id": "d1", "completion": ""}, {"id": "d1", "completion": ""}]), gt)
    assert err.value.code_str == "VD442" and "preds.jsonl:2" in str(err.value)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "d1"}\n', encoding="utf-8")
    with pytest.raises(VlmdataError) as err:
        evaluate(bad, gt)
    assert err.value.code_str == "VD440"


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt = _gt(tmp_path)
    preds = _preds(tmp_path, [{"id": "s2", "completion": "无关图片"}])
    assert (
        main(["eval", str(preds), "--gt", str(gt), "--format", "json", "--out", str(tmp_path / "r.json")])
        == 0
    )
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["summary"]["irrelevant_accuracy"] == 1.0
    assert main(["eval", str(preds), "--gt", str(gt)]) == 0
    assert "irrelevant accuracy 100.0%" in capsys.readouterr().out
