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

    def _render_first_rejects(self, console: Any) -> None:
        import os

        from rich.table import Table
        from rich.text import Text

        rejected = self.total("rejected")
        shown = self.first_rejects()
        if not rejected or not shown:
            return
        table = Table(
            title=f"first rejects ({len(shown)} of {rejected}; every one in {self.out_dir}/rejects.jsonl)",
            title_justify="left",
        )
        for col in ("where", "code", "message"):
            table.add_column(col, overflow="fold")
        # the file's name is enough when it names one input (the files table above has the full paths)
        names = {os.path.basename(str(f.path)) for f in self.files}
        short = len(names) == len(self.files)
        for entry in shown:
            file = str(entry["file"] or "")
            where = f"{os.path.basename(file) if short else file}:{entry['line']}"
            issues = entry["issues"]
            first = issues[0] if issues else {}
            message = (f"{first.get('field')}: " if first.get("field") else "") + str(
                first.get("message", "")
            )
            if len(issues) > 1:
                message += f" (+{len(issues) - 1} more)"
            table.add_row(Text(where), Text(str(first.get("code", ""))), Text(message))
        console.print(table)

    def render(self, console: Any) -> None:
        from rich.table import Table

        from vlmdata.errors import CODES

        files = Table(title="vlmdata validate", title_justify="left")
        for col in ("file", "split", "lines", "valid", "rejected", "blank"):
            files.add_column(col, justify="left" if col in ("file", "split") else "right")
        for f in self.files:
            files.add_row(
                f.path,
                f.split,
                str(f.lines),
                str(f.valid),
                f"[red]{f.rejected}[/]" if f.rejected else "0",
                str(f.blank),
            )
        console.print(files)
        if self.occurrences_per_code:
            issues = Table(title="issues by code", title_justify="left")
            for col in ("code", "severity", "records", "occurrences", "meaning"):
                issues.add_column(col, justify="right" if col in ("records", "occurrences") else "left")
            for code in sorted(self.occurrences_per_code):
                entry = CODES.get(code)
                sev = entry.severity if entry else "error"
                issues.add_row(
                    code,
                    f"[red]{sev}[/]" if sev == "error" else f"[yellow]{sev}[/]",
                    str(self.records_per_code[code]),
                    str(self.occurrences_per_code[code]),
                    entry.title if entry else "",
                )
            console.print(issues)
        self._render_first_rejects(console)
        lines, valid, rejected, blank = (self.total(a) for a in ("lines", "valid", "rejected", "blank"))
        mark = "[green]holds[/]" if self.invariant_holds else "[bold red]BROKEN[/]"
        console.print(f"valid {valid} + rejected {rejected} + blank {blank} == lines read {lines}: {mark}")
        console.print(
            f"output: {self.out_dir}/data  rejects: {self.out_dir}/rejects.jsonl  report: {self.out_dir}/report.json"
        )
