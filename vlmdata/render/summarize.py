"""`vlmdata summarize`: fill the `summary` field of BBU/RRU records that lack it, from their objects.

Input is a contract JSONL file or a vlmdata Arrow dataset (any form the one opener accepts); the output has the
same form and follows the `--out` rule (`vlmdata.io.output`): a JSONL as a single file, a dataset as a folder,
never over the input. Records that already
carry a summary keep it (validated; `overwrite=True` rebuilds them), irrelevant records (`无关图片`) are never
touched. The domain of a record is the `domain` argument, else its `metadata.domain`, else none (plain
counts, no 备注/分组统计). Every problem of every record is collected and reported together and nothing is
written unless all records are fine: a partial output would silently lose summaries. JSONL lines that do not
change are copied byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmdata.errors import Location, UsageError, VlmdataError
from vlmdata.models.qwen import record_metadata
from vlmdata.render import codes
from vlmdata.render.summary import build_summary, parse_summary, summary_json
from vlmdata.render.templates import IRRELEVANT


@dataclass
class SummarizeResult:
    records: int = 0
    built: int = 0
    kept: int = 0
    irrelevant: int = 0
    out: str = ""
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "built": self.built,
            "kept": self.kept,
            "irrelevant": self.irrelevant,
            "out": self.out,
        }


def _domain_of(record: Mapping[str, Any], domain: str | None) -> str | None:
    if domain:
        return domain.upper()
    dom = record_metadata(record).get("domain")
    return dom.upper() if isinstance(dom, str) and dom.strip() else None


def summarize_record(
    record: Mapping[str, Any], domain: str | None, overwrite: bool, where: Location, result: SummarizeResult
) -> str | None:
    """The summary the record should carry (None: leave as is); problems go to `result.problems`."""
    result.records += 1
    current = record.get("summary")
    dom = _domain_of(record, domain)
    try:
        if isinstance(current, str) and current.strip() == IRRELEVANT:
            result.irrelevant += 1
            return None
        if isinstance(current, str) and current.strip() and not overwrite:
            parse_summary(current, dom, Location(where.file, where.line, where.record_id, "summary"))
            result.kept += 1
            return None
        objects = record.get("objects")
        if not isinstance(objects, list):
            raise VlmdataError(codes.BAD_DESC, "record has no objects list to count", where=where)
        built = summary_json(build_summary(objects, dom, where))
        result.built += 1
        return built
    except VlmdataError as exc:
        result.problems.append(str(exc).split("\n")[0])
        return None


def _summarize_jsonl(src: Path, out: Path, domain: str | None, overwrite: bool) -> SummarizeResult:
    from vlmdata.contract.codes import INVALID_JSON, NOT_OBJECT
    from vlmdata.io.output import check_out, write_output

    check_out(out, command="summarize", kind="file", inputs=[src])

    result = SummarizeResult(out=str(out))
    chunks: list[bytes] = []
    with open(src, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            text = raw.decode("utf-8", errors="replace").strip()
            if not text:
                chunks.append(raw)
                continue
            loc = Location(file=str(src), line=lineno)
            try:
                record = json.loads(text)
            except ValueError as exc:
                result.problems.append(
                    str(VlmdataError(INVALID_JSON, f"line is not JSON: {exc}", where=loc)).split("\n")[0]
                )
                continue
            if not isinstance(record, dict):
                result.problems.append(
                    str(VlmdataError(NOT_OBJECT, "line is not a JSON object", where=loc)).split("\n")[0]
                )
                continue
            loc.record_id = record.get("id")
            new = summarize_record(record, domain, overwrite, loc, result)
            if new is None:
                chunks.append(raw if raw.endswith(b"\n") else raw + b"\n")
            else:
                record["summary"] = new
                chunks.append(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
    if not result.problems:
        write_output(out, b"".join(chunks), command="summarize", inputs=[src])
    return result


def _summarize_dataset(src: Path, out: Path, domain: str | None, overwrite: bool) -> SummarizeResult:
    from vlmdata.io.dataset import locate_dataset, open_dataset, write_dataset
    from vlmdata.io.output import check_out, output_dir

    folder = locate_dataset(src)
    check_out(out, command="summarize", inputs=[src, folder])
    ds = open_dataset(folder)
    result = SummarizeResult(out=str(out))
    summaries: list[str | None] = []
    cols = ["id", "objects", "summary", "metadata", "source_file", "source_line"]
    for rec in ds.select_columns([c for c in cols if c in ds.column_names]):
        loc = Location(
            file=rec.get("source_file") or None, line=rec.get("source_line") or None, record_id=rec.get("id")
        )
        new = summarize_record(rec, domain, overwrite, loc, result)
        summaries.append(rec.get("summary") if new is None else new)
    if not result.problems:
        features = ds.features
        ds = ds.remove_columns(["summary"]).add_column("summary", summaries)
        ds = ds.select_columns(list(features)).cast(features)
        with output_dir(out, command="summarize", inputs=[src, folder]) as tmp:
            write_dataset(ds, tmp)
    return result


def summarize_path(
    src: str | Path, out: str | Path, domain: str | None = None, overwrite: bool = False
) -> SummarizeResult:
    """Summarise a JSONL file or an Arrow dataset folder into `out` (same form). See the module docstring."""
    src, out = Path(src), Path(out)
    if not src.exists():
        raise UsageError(
            f"input not found: {src}", hint="pass a contract JSONL file or a vlmdata dataset folder"
        )
    if domain is not None and (not domain.strip() or any(c in domain for c in "<>,=\n")):
        raise UsageError(f"bad domain {domain!r}", hint="use a plain name such as BBU or RRU")
    if src.is_dir():
        return _summarize_dataset(src, out, domain, overwrite)
    return _summarize_jsonl(src, out, domain, overwrite)
