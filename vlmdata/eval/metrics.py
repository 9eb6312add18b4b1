"""Dense and summary metrics over parsed predictions, shared by `vlmdata eval` and the GRPO rewards.

All dense scores work on the 0–1000 grid. References are the record's own target, rendered by the same
template the model was trained with and parsed back, so ordering, canonical forms and grid rounding are
exactly those of training.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vlmdata.eval.match import IOU_THRESHOLDS, f_beta, greedy_match, iou_matrix
from vlmdata.eval.parse import PredObject, desc_attributes
from vlmdata.eval.summary import summary_fact_counts


@dataclass
class DenseScores:
    """Counts for one prediction/reference pair; sums of these give micro-averaged dataset metrics."""

    n_pred: int
    n_ref: int
    tp_by_threshold: dict[float, int]
    cat_tp: int  # category-aware matches at IoU 0.5
    attr_hit: int  # reference attribute values reproduced by category-aware matches at IoU 0.5
    attr_total: int  # all reference attribute values
    by_kind: dict[str, dict[str, Any]] = field(default_factory=dict)


def _geoms(objs: Sequence[PredObject]) -> list[tuple[str, list[float]]]:
    return [(o.kind, o.points) for o in objs]


def score_dense(preds: Sequence[PredObject], refs: Sequence[PredObject]) -> DenseScores:
    ious = iou_matrix(_geoms(preds), _geoms(refs))
    if preds and refs and any(o.image for o in (*preds, *refs)):  # objects of different pictures never match
        ious = ious * np.equal.outer([o.image for o in preds], [o.image for o in refs])
    tp = {t: len(greedy_match(ious, t)) for t in IOU_THRESHOLDS}
    same_cat = lambda p, r: preds[p].category == refs[r].category  # noqa: E731
    cat_pairs = greedy_match(ious, 0.5, allowed=same_cat)
    attr_total = sum(sum(len(v) for v in desc_attributes(r.desc).values()) for r in refs)
    attr_hit = 0
    for p, r in cat_pairs:
        pa, ra = desc_attributes(preds[p].desc), desc_attributes(refs[r].desc)
        attr_hit += sum(len(values & pa.get(key, frozenset())) for key, values in ra.items())
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted({o.kind for o in preds} | {o.kind for o in refs}):
        pk = [i for i, o in enumerate(preds) if o.kind == kind]
        rk = [j for j, o in enumerate(refs) if o.kind == kind]
        sub = ious[np.ix_(pk, rk)] if pk and rk else np.zeros((len(pk), len(rk)))
        by_kind[kind] = {
            "n_pred": len(pk),
            "n_ref": len(rk),
            "tp": {t: len(greedy_match(sub, t)) for t in IOU_THRESHOLDS},
        }
    return DenseScores(len(preds), len(refs), tp, len(cat_pairs), attr_hit, attr_total, by_kind)


def loc_fbeta(scores: DenseScores, beta: float = 2.0) -> float:
    """F-beta averaged over IoU 0.50:0.05:0.95 (class-agnostic)."""
    vals = [f_beta(scores.tp_by_threshold[t], scores.n_pred, scores.n_ref, beta) for t in IOU_THRESHOLDS]
    return float(np.mean(vals))


def cat_f1(scores: DenseScores) -> float:
    return f_beta(scores.cat_tp, scores.n_pred, scores.n_ref, 1.0)


def attr_recall(scores: DenseScores) -> float:
    return 1.0 if scores.attr_total == 0 else scores.attr_hit / scores.attr_total


# The extra key a domain's summary may carry, and the one it must not (targets-audit.md).
SUMMARY_DOMAIN_EXTRAS = {"BBU": "备注", "RRU": "分组统计"}
SUMMARY_FORBIDDEN = {"BBU": "分组统计", "RRU": "备注"}


def summary_content_f1(
    pred: dict[str, Any] | None, ref: dict[str, Any] | None, domain: str | None = None
) -> float:
    """Count-weighted F1 over every fact of the summaries (`summary_fact_counts`: `统计` counts, `备注` notes as
    a multiset, `分组统计` groups): tp = Σ min(pred weight, ref weight). With `domain`, an answer carrying the
    key that domain must not have (`备注` for RRU, `分组统计` for BBU) scores 0."""
    forbidden = SUMMARY_FORBIDDEN.get((domain or "").upper())
    if forbidden is not None and isinstance(pred, dict) and forbidden in pred:
        return 0.0
    pf, rf = summary_fact_counts(pred), summary_fact_counts(ref)
    n_pred, n_ref = sum(pf.values()), sum(rf.values())
    tp = sum(min(c, rf.get(k, 0)) for k, c in pf.items())
    return f_beta(tp, n_pred, n_ref, 1.0)


@dataclass
class DenseTotals:
    """Micro-averaged accumulation of DenseScores over a dataset."""

    n_pred: int = 0
    n_ref: int = 0
    tp: dict[float, int] = field(default_factory=lambda: defaultdict(int))
    cat_tp: int = 0
    attr_hit: int = 0
    attr_total: int = 0
    kinds: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, s: DenseScores) -> None:
        self.n_pred += s.n_pred
        self.n_ref += s.n_ref
        for t, v in s.tp_by_threshold.items():
            self.tp[t] += v
        self.cat_tp += s.cat_tp
        self.attr_hit += s.attr_hit
        self.attr_total += s.attr_total
        for kind, k in s.by_kind.items():
            acc = self.kinds.setdefault(kind, {"n_pred": 0, "n_ref": 0, "tp": defaultdict(int)})
            acc["n_pred"] += k["n_pred"]
            acc["n_ref"] += k["n_ref"]
            for t, v in k["tp"].items():
                acc["tp"][t] += v

    def report(self) -> dict[str, Any]:
        def prf(tp: int, n_pred: int, n_ref: int) -> dict[str, float]:
            return {
                "precision": tp / n_pred if n_pred else (1.0 if n_ref == 0 else 0.0),
                "recall": tp / n_ref if n_ref else (1.0 if n_pred == 0 else 0.0),
                "f1": f_beta(tp, n_pred, n_ref, 1.0),
            }

        per_t = {f"{t:.2f}": prf(self.tp[t], self.n_pred, self.n_ref) for t in IOU_THRESHOLDS}
        kinds = {
            kind: {f"{t:.2f}": prf(k["tp"][t], k["n_pred"], k["n_ref"]) for t in IOU_THRESHOLDS}
            | {"n_pred": k["n_pred"], "n_ref": k["n_ref"]}
            for kind, k in sorted(self.kinds.items())
        }
        return {
            "n_pred": self.n_pred,
            "n_ref": self.n_ref,
            "by_threshold": per_t,
            "mean_f1_50_95": float(np.mean([v["f1"] for v in per_t.values()])),
            "by_kind": kinds,
            "category_f1_50": f_beta(self.cat_tp, self.n_pred, self.n_ref, 1.0),
            "attribute_recall_50": 1.0 if self.attr_total == 0 else self.attr_hit / self.attr_total,
        }
