"""`vlmdata eval`: score a predictions JSONL against its ground-truth dataset.

Predictions are one JSON object per line: `{"id": ..., "completion": ..., "template": optional}` (what
`vlmdata infer` writes). Each record's template (prediction's `template`, else the record's
`metadata._template`, else `--template`, else the neutral default `grounding`) decides how it is scored —
its format (object map or Qwen list), its exact header line and its code fence:
- dense templates: parse (a failed parse counts as a parse failure and as an empty prediction, so it costs
  recall), greedy matching per IoU threshold on the 0–1000 grid, micro-averaged precision / recall / F1
  per threshold and per geometry kind, category-aware F1 and attribute recall at IoU 0.5;
- summary templates: parse-failure rate, mean count-weighted content F1 over every fact (`统计` counts,
  `备注` notes, `分组统计` groups, with the domain gates of `summary_content_f1`), exact-match rate, and the
  irrelevant-image accuracy (exactly `无关图片` iff the reference is irrelevant).
Ground-truth records without a prediction are reported (`missing_predictions`) and not scored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vlmdata.errors import Location, VlmdataError
from vlmdata.eval import codes
from vlmdata.eval.metrics import DenseTotals, score_dense, summary_content_f1
from vlmdata.eval.parse import dense_reference, parse_dense_answer
from vlmdata.eval.summary import canonical_summary, parse_summary_answer


def read_predictions(path: str | Path) -> dict[str, dict[str, Any]]:
    preds: dict[str, dict[str, Any]] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = Location(file=str(path), line=lineno)
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise VlmdataError(codes.PRED_LINE, f"invalid JSON: {exc}", where=where) from None
            if (
                not isinstance(obj, dict)
                or not isinstance(obj.get("id"), str)
                or not isinstance(obj.get("completion"), str)
            ):
                raise VlmdataError(codes.PRED_LINE, 'expected {"id": str, "completion": str}', where=where)
            if obj["id"] in preds:
                raise VlmdataError(
                    codes.PRED_DUPLICATE_ID,
                    "second prediction for this id",
                    where=Location(file=str(path), line=lineno, record_id=obj["id"]),
                )
            obj["_line"] = lineno
            preds[obj["id"]] = obj
    return preds


def evaluate(
    predictions: str | Path, gt: str | Path | Any, template: str | None = None, out: str | Path | None = None
) -> dict[str, Any]:
    """Score `predictions` against the ground-truth dataset `gt`; with `out`, also write the report as JSON
    there (the single-file `--out` rule of `vlmdata.io.output`: never over the predictions or the dataset)."""
    import json

    from vlmdata.io.dataset import open_dataset
    from vlmdata.io.output import check_out, write_output
    from vlmdata.render import DEFAULT_TEMPLATE, get_template, render_target, resolve_template
    from vlmdata.render.templates import is_irrelevant, record_domain

    template = template or DEFAULT_TEMPLATE
    inputs = [predictions, gt] if isinstance(gt, (str, Path)) else [predictions]
    if out is not None:
        check_out(out, command="eval", kind="file", inputs=inputs)
    preds = read_predictions(predictions)
    dataset = open_dataset(gt) if isinstance(gt, (str, Path)) else gt
    ids = dataset["id"]
    index = {rid: i for i, rid in enumerate(ids)}
    for rid, pred in preds.items():
        if rid not in index:
            raise VlmdataError(
                codes.PRED_UNKNOWN_ID,
                "prediction for an id the ground truth lacks",
                where=Location(file=str(predictions), line=pred["_line"], record_id=rid),
            )
    dense = DenseTotals()
    n_dense = dense_fail = 0
    n_summary = summary_fail = summary_exact = irrelevant_right = 0
    content_f1: list[float] = []
    for rid, pred in preds.items():
        record = dataset[index[rid]]
        name = pred.get("template") or resolve_template(record, template)
        tpl = get_template(name)
        completion = pred["completion"]
        if tpl.mode == "dense":
            n_dense += 1
            parsed = parse_dense_answer(completion, tpl, record)
            refs = dense_reference(record, name)
            if not parsed.ok:
                dense_fail += 1
            dense.add(score_dense(parsed.objects if parsed.ok else [], refs))
        elif tpl.mode == "summary":
            n_summary += 1
            parsed_s = parse_summary_answer(completion, tpl, record)
            ref_irrelevant = is_irrelevant(record)
            if not parsed_s.ok:
                summary_fail += 1
            irrelevant_right += int(
                parsed_s.irrelevant == ref_irrelevant and (parsed_s.ok or not ref_irrelevant)
            )
            if ref_irrelevant:
                score = 1.0 if parsed_s.irrelevant else 0.0
                exact = parsed_s.irrelevant
            else:
                ref = parse_summary_answer(render_target(record, name), tpl, record).data
                domain = record_domain(tpl, record) if tpl.header_needs_domain else tpl.domain
                pred_data = parsed_s.data if parsed_s.ok and not parsed_s.irrelevant else None
                score = summary_content_f1(pred_data, ref, domain) if pred_data is not None else 0.0
                exact = (
                    pred_data is not None
                    and ref is not None
                    and canonical_summary(pred_data) == canonical_summary(ref)
                )
            content_f1.append(score)
            summary_exact += int(exact)
    report: dict[str, Any] = {
        "predictions": len(preds),
        "ground_truth": len(ids),
        "missing_predictions": len(ids) - len(preds),
    }
    if n_dense:
        report["dense"] = {"records": n_dense, "parse_failure_rate": dense_fail / n_dense, **dense.report()}
    if n_summary:
        report["summary"] = {
            "records": n_summary,
            "parse_failure_rate": summary_fail / n_summary,
            "content_f1": sum(content_f1) / n_summary,
            "exact_match": summary_exact / n_summary,
            "irrelevant_accuracy": irrelevant_right / n_summary,
        }
    if out is not None:
        text = json.dumps(report, ensure_ascii=False, indent=2) + "\n"
        write_output(out, text, command="eval", inputs=inputs)
    return report
