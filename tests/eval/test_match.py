from __future__ import annotations

import numpy as np
import pytest

from vlmdata.eval.match import f_beta, geometry_iou, greedy_match
from vlmdata.eval.metrics import attr_recall, cat_f1, loc_fbeta, score_dense, summary_content_f1
from vlmdata.eval.parse import PredObject


def test_box_iou_hand_computed() -> None:
    # overlap 50x100 = 5000; union 10000 + 10000 - 5000 = 15000
    assert geometry_iou("bbox_2d", [0, 0, 100, 100], "bbox_2d", [50, 0, 150, 100]) == pytest.approx(1 / 3)
    assert geometry_iou("bbox_2d", [0, 0, 10, 10], "bbox_2d", [20, 20, 30, 30]) == 0.0


def test_polygon_iou_matches_exact_value() -> None:
    square = [0, 0, 100, 0, 100, 100, 0, 100]
    triangle = [0, 0, 100, 0, 100, 100]  # half the square
    assert geometry_iou("poly", square, "poly", triangle) == pytest.approx(0.5, abs=0.01)
    assert geometry_iou("bbox_2d", [0, 0, 100, 100], "poly", square) == pytest.approx(1.0, abs=0.01)


def test_line_tube_iou() -> None:
    assert geometry_iou("line", [0, 100, 500, 100], "line", [0, 100, 500, 100]) == pytest.approx(1.0)
    near = geometry_iou("line", [0, 100, 500, 100], "line", [0, 104, 500, 104])  # tube width 16, offset 4
    assert 0.55 < near < 0.65  # overlap 12 of union 20 (ends add a little)
    assert geometry_iou("line", [0, 100, 500, 100], "line", [0, 200, 500, 200]) == 0.0


def test_greedy_one_to_one() -> None:
    ious = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert greedy_match(ious, 0.5) == [(0, 0)]  # pred 1's only candidate ≥ 0.5 is ref 0, already taken
    assert greedy_match(np.array([[0.9, 0.8], [0.85, 0.6]]), 0.5) == [(0, 0), (1, 1)]


def test_f_beta() -> None:
    assert f_beta(0, 0, 0) == 1.0
    assert f_beta(0, 3, 0) == 0.0
    # P = 1/2, R = 1/4: F2 = 5 * 0.5 * 0.25 / (4 * 0.5 + 0.25) = 0.625 / 2.25
    assert f_beta(1, 2, 4, beta=2.0) == pytest.approx(0.625 / 2.25)


def test_dense_scores_hand_computed() -> None:
    refs = [
        PredObject("类别=BBU设备,品牌=华为,可见性=完整", "bbox_2d", [0, 0, 100, 100]),
        PredObject("类别=标签", "bbox_2d", [500, 500, 600, 600]),
    ]
    preds = [
        PredObject(
            "类别=BBU设备,品牌=中兴,可见性=完整", "bbox_2d", [0, 0, 100, 100]
        ),  # exact, right category
        PredObject("类别=螺丝", "bbox_2d", [500, 500, 600, 650]),  # IoU 10000/15000 = 0.667, wrong category
    ]
    s = score_dense(preds, refs)
    assert s.tp_by_threshold[0.5] == 2 and s.tp_by_threshold[0.65] == 2 and s.tp_by_threshold[0.7] == 1
    # thresholds .50,.55,.60,.65 → tp 2 (F2 = 1); .70..95 → tp 1 (P = R = 0.5, F2 = 0.5): mean = (4 + 3) / 10
    assert loc_fbeta(s) == pytest.approx(0.7)
    assert cat_f1(s) == pytest.approx(0.5)  # 1 category-aware match of 2 and 2
    assert attr_recall(s) == pytest.approx(0.5)  # 可见性=完整 reproduced, 品牌=华为 not
    assert loc_fbeta(score_dense([], [])) == 1.0
    assert loc_fbeta(score_dense([], refs)) == 0.0


def test_summary_content_f1() -> None:
    ref = {"统计": [{"类别": "天线", "品牌": {"华为": 2}}, {"类别": "螺丝", "可见性": {"完整": 2}}]}
    pred = {"统计": [{"类别": "天线", "品牌": {"华为": 1}}, {"类别": "螺丝", "可见性": {"部分": 1}}]}
    # tp = 1, n_pred = 2, n_ref = 4 → P 0.5, R 0.25, F1 = 1/3
    assert summary_content_f1(pred, ref) == pytest.approx(1 / 3)
    assert summary_content_f1(ref, ref) == 1.0
