"""`vlmdata summarize`: fill the `summary` field of BBU/RRU records that lack it, from their objects.

Input is a contract JSONL file or a vlmdata Arrow dataset (any form the one opener accepts); the output has the
same form and follows the `--out` rule (`vlmdata.io.output`): a JSONL as a single file, a dataset as a folder,
never over the input. Records that already carry a summary keep it (validated; `overwrite=True` rebuilds them),
irrelevant records (`无关图片`) and chat records without objects are never touched. The domain of a record is
the `domain` argument, else its `metadata.domain`, else none (plain
counts, no 备注/分组统计). Every problem of every record is collected and reported together and nothing is
written unless all records are fine: a partial output would silently lose summaries. JSONL lines that do not
change are copied byte for byte.

Portable output: relative image paths of a JSONL input resolve against its folder (or `image_root`); when the
output lies in another folder they are rewritten relative to the output file's folder (`../` where needed) or
made absolute with `absolute_paths=True`, and before anything is written every reference of the output is checked to name the
file the input named (`vlmdata.io.relocate`). References that did not resolve in the input either are
counted and listed as warnings (`missing_images`), not fixed: summarize does not judge images.
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
    chat: int = 0
    out: str = ""
    relocated: int = 0  # records whose image references were rewritten for the output's folder
    images_checked: int = 0
    images_outside: int = 0
    missing_images: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "built": self.built,
            "kept": self.kept,
            "irrelevant": self.irrelevant,
            "chat": self.chat,
            "out": self.out,
            "relocated": self.relocated,
            "images_checked": self.images_checked,
            "images_outside": self.images_outside,
            "missing_images": len(self.missing_images),
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
        if record.get("messages") is not None and not record.get("objects") and not current:
            result.chat += 1  # a pre-written conversation: no objects to count, nothing to summarise
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


def _check_paths(result: SummarizeResult, pairs: list[Any], old_base: str, new_base: str) -> None:
    from vlmdata.contract.codes import IMAGE_MISSING
    from vlmdata.io.relocate import check_references

    check = check_references(pairs, old_base, new_base)
    result.images_checked = check.checked
    result.images_outside = check.outside
    result.missing_images = check.missing_in_input
    for broken in check.broken:
        result.problems.append(
            f"{IMAGE_MISSING.code} image reference would not resolve in the output: {broken}"
        )


def _summarize_jsonl(
    src: Path, out: Path, domain: str | None, overwrite: bool, image_root: Path | None, absolute: bool
) -> SummarizeResult:
    import copy

    from vlmdata.contract.codes import INVALID_JSON, NOT_OBJECT
    from vlmdata.io.output import check_out, write_output
    from vlmdata.io.relocate import relocate_record

    check_out(out, command="summarize", kind="file", inputs=[src, image_root])

    result = SummarizeResult(out=str(out))
    old_base = str(image_root if image_root is not None else src.absolute().parent)
    new_base = str(out.absolute().parent)
    pairs: list[tuple[str, Any, Any]] = []
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
            before = copy.deepcopy(record)
            moved = relocate_record(record, old_base, new_base, absolute)
            result.relocated += int(moved)
            pairs.append((f"{src}:{lineno}", before, record))
            if new is None and not moved:
                chunks.append(raw if raw.endswith(b"\n") else raw + b"\n")
            else:
                if new is not None:
                    record["summary"] = new
                chunks.append(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
    _check_paths(result, pairs, old_base, new_base)
    if not result.problems:
        write_output(out, b"".join(chunks), command="summarize", inputs=[src, image_root])
    return result


def _summarize_dataset(src: Path, out: Path, domain: str | None, overwrite: bool) -> SummarizeResult:
    from vlmdata.io.dataset import locate_dataset, open_dataset, write_dataset
    from vlmdata.io.output import check_out, output_dir

    folder = locate_dataset(src)
    check_out(out, command="summarize", inputs=[src, folder])
    ds = open_dataset(folder)
    result = SummarizeResult(out=str(out))
    summaries: list[str | None] = []
    cols = ["id", "objects", "summary", "metadata", "source_file", "source_line", "images", "messages"]
    pairs: list[tuple[str, Any, Any]] = []
    for rec in ds.select_columns([c for c in cols if c in ds.column_names]):
        loc = Location(
            file=rec.get("source_file") or None, line=rec.get("source_line") or None, record_id=rec.get("id")
        )
        new = summarize_record(rec, domain, overwrite, loc, result)
        summaries.append(rec.get("summary") if new is None else new)
        pairs.append((f"{src} record {rec.get('id')}", rec, rec))  # a dataset stores absolute paths
    _check_paths(result, pairs, str(src), str(out))
    if not result.problems:
        features = ds.features
        ds = ds.remove_columns(["summary"]).add_column("summary", summaries)
        ds = ds.select_columns(list(features)).cast(features)
        with output_dir(out, command="summarize", inputs=[src, folder]) as tmp:
            write_dataset(ds, tmp)
    return result


def summarize_path(
    src: str | Path,
    out: str | Path,
    domain: str | None = None,
    overwrite: bool = False,
    image_root: str | Path | None = None,
    absolute_paths: bool = False,
) -> SummarizeResult:
    """Summarise a JSONL file or an Arrow dataset folder into `out` (same form). See the module docstring."""
    src, out = Path(src), Path(out)
    root = Path(image_root).absolute() if image_root is not None else None
    if root is not None and not root.is_dir():
        raise UsageError(
            f"image root not found: {root}", hint="pass the folder the relative image paths start from"
        )
    if not src.exists():
        raise UsageError(
            f"input not found: {src}", hint="pass a contract JSONL file or a vlmdata dataset folder"
        )
    if domain is not None and (not domain.strip() or any(c in domain for c in "<>,=\n")):
        raise UsageError(f"bad domain {domain!r}", hint="use a plain name such as BBU or RRU")
    if src.is_dir():
        return _summarize_dataset(src, out, domain, overwrite)
    return _summarize_jsonl(src, out, domain, overwrite, root, absolute_paths)
