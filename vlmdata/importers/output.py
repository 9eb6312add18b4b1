"""Where an import writes: `OUT.jsonl` and its report `OUT.import.json`, both under the `--out` rule.

Both files go through `vlmdata.io.output` (docs/reliability.md): neither may be, hold or lie inside an input
(the annotation file or folder, `--label-map`; the image root may contain them), an existing file is replaced
only when vlmdata wrote it and it is unchanged, and each is written atomically (the JSONL streamed into a
temporary file that replaces `OUT.jsonl` when the import is complete).
"""

from __future__ import annotations

from pathlib import Path


def report_path(out: str | Path) -> Path:
    p = Path(out)
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return p.with_name(stem + ".import.json")
