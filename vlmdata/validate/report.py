"""The validation report: counts per code and per file, the accounting invariant, and its terminal table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from vlmdata.contract.rules import Issue

EXAMPLES_PER_CODE = 5
FIRST_REJECTS = 10  # rejected lines the terminal summary lists (every one is in rejects.jsonl)


@dataclass
class FileReport:
    path: str
    split: str
    lines: int = 0
    valid: int = 0
    rejected: int = 0
    blank: int = 0
    bytes: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    notes: list[dict[str, Any]] = field(default_factory=list)  # file-level warnings (BOM, CRLF, empty)

    @property
    def invariant_holds(self) -> bool:
        return self.valid + self.rejected + self.blank == self.lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "lines_read": self.lines,
            "valid": self.valid,
            "rejected": self.rejected,
            "blank": self.blank,
            "bytes": self.bytes,
            "invariant_holds": self.invariant_holds,
            "codes": dict(sorted(self.codes.items())),
            "notes": self.notes,
        }


@dataclass
class Report:
    out_dir: str
    files: list[FileReport] = field(default_factory=list)
    records_per_code: Counter[str] = field(default_factory=Counter)
    occurrences_per_code: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def add(
        self,
        fr: FileReport,
        line: int | None,
        issues: list[Issue],
        record_id: str | None = None,
        more: Counter[str] | None = None,
    ) -> None:
        """Count a record's issues; `more` counts, per code, the issues past those listed."""
        for code in {i.code for i in issues} | set(more or ()):
            self.records_per_code[code] += 1
            fr.codes[code] += 1
        if more:
            self.occurrences_per_code.update(more)
        for issue in issues:
            self.occurrences_per_code[issue.code] += 1
            ex = self.examples.setdefault(issue.code, [])
            if len(ex) < EXAMPLES_PER_CODE:
                ex.append({"file": fr.path, "line": line, "id": record_id, **issue.as_dict()})

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)

    @property
    def invariant_holds(self) -> bool:
        return self.total("valid") + self.total("rejected") + self.total("blank") == self.total("lines")

    @property
    def exit_code(self) -> int:
        return 1 if self.total("rejected") else 0

    def as_dict(self) -> dict[str, Any]:
        from vlmdata.errors import CODES

        lines, valid, rejected, blank = (self.total(a) for a in ("lines", "valid", "rejected", "blank"))
        return {
            "contract_version": 1,
            "out_dir": self.out_dir,
            "lines_read": lines,
            "valid": valid,
            "rejected": rejected,
            "blank": blank,
            "invariant": f"valid + rejected + blank == lines read: {valid} + {rejected} + {blank} == {lines}",
            "invariant_holds": self.invariant_holds,
            "exit_code": self.exit_code,
            "codes": {
                code: {
                    "severity": CODES[code].severity if code in CODES else "error",
                    "title": CODES[code].title if code in CODES else "",
                    "records": self.records_per_code[code],
                    "occurrences": self.occurrences_per_code[code],
                    "examples": self.examples.get(code, []),
                }
                for code in sorted(self.occurrences_per_code)
            },
            "files": {f.path: f.as_dict() for f in self.files},
            "options": self.options,
            "seconds": round(self.seconds, 3),
            "outputs": {
                "data": "data",
                "val": "val" if any(f.split == "val" for f in self.files) else None,
                "rejects": "rejects.jsonl",
                "warnings": "warnings.jsonl",
            },
        }

    def first_rejects(self, n: int = FIRST_REJECTS) -> list[dict[str, Any]]:
        """The first `n` rejected lines (from `rejects.jsonl`), each with file, line, id and its issues."""
        import json
        from pathlib import Path

        path = Path(self.out_dir) / "rejects.jsonl"
        out: list[dict[str, Any]] = []
        if n <= 0 or not path.is_file():
            return out
        with path.open(encoding="utf-8") as fh:
            for raw in fh:
                try:
                    entry = json.loads(raw)
                except ValueError:
                    continue
                errors = [i for i in entry.get("issues") or [] if i.get("severity") == "error"]
                out.append(
                    {
                        "file": entry.get("file"),
                        "line": entry.get("line"),
                        "id": entry.get("id"),
                        "issues": errors or list(entry.get("issues") or []),
                    }
                )
                if len(out) == n:
                    break
        return out
