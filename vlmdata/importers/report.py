"""Accounting of an import: every record and every annotation of every input file ends in exactly one bucket.

Two ledgers per input file, each with `imported + sum(skipped.values()) == total`:

- `records`: the units that become contract records (COCO/LVIS images, JSONL lines, LabelMe files, YOLO
  images). A skipped record skips all its annotations under the same reason.
- `annotations`: the format's annotations (COCO `annotations[]` entries, ODVG instances/regions, LabelMe
  shapes, YOLO label lines, ms-swift grounding boxes, Qwen answer entries).

An annotation that becomes several objects (a multi-part polygon, a crowd mask with several regions) counts
once as imported; `objects` counts what was written. Parts dropped from an otherwise imported annotation are
counted in `notes` (`part_dropped:<reason>`). For each skip reason the first `EXAMPLES` cases are kept with
their location (file plus line, index or id, and the field) so the user can find them.

Shards of one file (see `vlmdata.importers.run`) each produce a `FileTally`; `merge` adds them in shard order,
so the report (examples included) does not depend on how the work was split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vlmdata.importers.codes import REASONS

EXAMPLES = 5
_VALUE_CHARS = 200


def _brief(value: Any) -> Any:
    """A value as it can sit in the report: small scalars and short lists as they are, the rest as short text."""
    if value is None or isinstance(value, (bool, int, str)) and len(str(value)) <= _VALUE_CHARS:
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    if isinstance(value, list) and len(value) <= 16 and all(type(v) in (int, float) for v in value):
        if all(v == v and abs(v) != float("inf") for v in value):
            return value
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"


@dataclass
class Ledger:
    total: int = 0
    imported: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def add_ok(self, n: int = 1) -> None:
        self.total += n
        self.imported += n

    def add_skip(self, reason: str, n: int = 1) -> None:
        if n:
            self.total += n
            self.skipped[reason] = self.skipped.get(reason, 0) + n

    def merge(self, other: Ledger) -> None:
        self.total += other.total
        self.imported += other.imported
        for k, v in other.skipped.items():
            self.skipped[k] = self.skipped.get(k, 0) + v

    def balanced(self) -> bool:
        return self.imported + sum(self.skipped.values()) == self.total

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "imported": self.imported, "skipped": dict(sorted(self.skipped.items()))}


@dataclass
class FileTally:
    file: str
    records: Ledger = field(default_factory=Ledger)
    annotations: Ledger = field(default_factory=Ledger)
    objects: int = 0
    notes: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def note(self, name: str, n: int = 1) -> None:
        if n:
            self.notes[name] = self.notes.get(name, 0) + n

    def example(
        self, reason: str, at: dict[str, Any], message: str, value: Any = None, code: str | None = None
    ) -> None:
        bucket = self.examples.setdefault(reason, [])
        if len(bucket) < EXAMPLES:
            entry: dict[str, Any] = {"file": self.file, **at, "code": code or REASONS[reason].code}
            entry["message"] = message
            if value is not None:
                entry["value"] = _brief(value)
            bucket.append(entry)

    def skip_annotation(
        self,
        reason: str,
        at: dict[str, Any],
        message: str,
        value: Any = None,
        code: str | None = None,
        n: int = 1,
    ) -> None:
        self.annotations.add_skip(reason, n)
        self.example(reason, at, message, value, code)

    def skip_record(
        self,
        reason: str,
        at: dict[str, Any],
        message: str,
        annotations: int = 0,
        value: Any = None,
        code: str | None = None,
    ) -> None:
        """Skip one record and, under the same reason, the `annotations` it held."""
        self.records.add_skip(reason)
        self.annotations.add_skip(reason, annotations)
        self.example(reason, at, message, value, code)

    def drop_part(self, reason: str, at: dict[str, Any], message: str, value: Any = None) -> None:
        self.note(f"part_dropped:{reason}")
        self.example(reason, at, message, value)

    def merge(self, other: FileTally) -> None:
        self.records.merge(other.records)
        self.annotations.merge(other.annotations)
        self.objects += other.objects
        for k, v in other.notes.items():
            self.notes[k] = self.notes.get(k, 0) + v
        for reason, items in other.examples.items():
            bucket = self.examples.setdefault(reason, [])
            bucket.extend(items[: max(0, EXAMPLES - len(bucket))])

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "records": self.records.as_dict(),
            "annotations": self.annotations.as_dict(),
            "objects": self.objects,
            "notes": dict(sorted(self.notes.items())),
            "examples": {k: self.examples[k] for k in sorted(self.examples)},
        }


@dataclass
class ShardResult:
    """What one shard of work produced: output lines in order and the tallies of the files it read."""

    lines: list[bytes] = field(default_factory=list)
    tallies: list[FileTally] = field(default_factory=list)

    def tally(self, file: str) -> FileTally:
        if self.tallies and self.tallies[-1].file == file:
            return self.tallies[-1]
        for t in self.tallies:
            if t.file == file:
                return t
        t = FileTally(file)
        self.tallies.append(t)
        return t


@dataclass
class ImportReport:
    format: str
    source: str
    out: str
    image_root: str
    options: dict[str, Any]
    files: list[FileTally] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, result: ShardResult) -> None:
        for t in result.tallies:
            mine = next((f for f in self.files if f.file == t.file), None)
            if mine is None:
                mine = FileTally(t.file)
                self.files.append(mine)
            mine.merge(t)

    def totals(self) -> dict[str, Any]:
        records, annotations = Ledger(), Ledger()
        objects = 0
        for f in self.files:
            records.merge(f.records)
            annotations.merge(f.annotations)
            objects += f.objects
        return {"records": records.as_dict(), "annotations": annotations.as_dict(), "objects": objects}

    def problems(self) -> dict[str, int]:
        """Skips whose reason is a defect of the source (not expected or requested ones)."""
        out: dict[str, int] = {}
        for f in self.files:
            for ledger in (f.records, f.annotations):
                for reason, n in ledger.skipped.items():
                    if REASONS[reason].kind == "problem":
                        out[reason] = out.get(reason, 0) + n
        return out

    @property
    def exit_code(self) -> int:
        return 1 if self.problems() else 0

    def balanced(self) -> bool:
        return all(f.records.balanced() and f.annotations.balanced() for f in self.files)

    def next_command(self) -> str:
        stem = self.out[: -len(".jsonl")] if self.out.endswith(".jsonl") else self.out
        return f"vlmdata validate {self.out} --image-root {self.image_root} --out {stem}.validated"

    def as_dict(self) -> dict[str, Any]:
        reasons: dict[str, Any] = {}
        for f in self.files:
            for ledger in (f.records, f.annotations):
                for reason in ledger.skipped:
                    r = REASONS[reason]
                    reasons.setdefault(reason, {"code": r.code, "kind": r.kind, "meaning": r.meaning})
            for reason in f.examples:
                r = REASONS[reason]
                reasons.setdefault(reason, {"code": r.code, "kind": r.kind, "meaning": r.meaning})
        return {
            "format": self.format,
            "source": self.source,
            "out": self.out,
            "image_root": self.image_root,
            "options": self.options,
            "totals": self.totals(),
            "balanced": self.balanced(),
            "exit_code": self.exit_code,
            **self.extra,
            "reasons": dict(sorted(reasons.items())),
            "files": [f.as_dict() for f in self.files],
            "next": self.next_command(),
            "seconds": round(self.seconds, 3),
        }
