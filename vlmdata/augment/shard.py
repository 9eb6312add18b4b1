"""The per-record half of offline augmentation: a row range of the input dataset, augmented on its own.

`augment_shard` reads its rows of the input dataset folder (memory-mapped with pyarrow alone, no `datasets`
import on a worker; every node of a Ray cluster must reach the folder),
augments rows `[start, stop)` exactly as `vlmdata.augment.offline` describes (every copy, skips and drops
counted), encodes the images into the run's spill folder and checks each output record against the contract.
What depends on the records before it — the output index `n` in image names, the JSONL line number, the
Arrow rows' place — is left to the driver, which takes the shards in order, moves each image to its final
name (a rename on the same file system) and writes the record. So any split of the dataset into row ranges
gives the output of one pass.

The record itself is unchanged by where it is augmented: randomness is keyed by (seed, copy, record id)
(`vlmdata.augment.seeding`), and image encoding is deterministic. A shard's images are written under names
that hold the shard's index and each file is written atomically, so a Ray task that is retried writes the
same files again.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmdata.augment.config import AugmentationConfig
from vlmdata.errors import VlmdataError, at

EXAMPLES = 5  # skipped records kept as examples per reason


@dataclass(frozen=True)
class AugmentTask:
    index: int  # the shard's position in the run
    dataset: str  # the input dataset folder, absolute
    start: int
    stop: int
    config: AugmentationConfig
    copies: int
    step: int | None
    total_steps: int | None
    image_format: str
    max_image_pixels: int | None
    spill: str  # folder the shard's images are encoded into, absolute


@dataclass
class Copy:
    """One output record before it has its place in the output: the driver names its images and writes it."""

    row: dict[str, Any]  # the augmented row, normalised (id and metadata final; images still the source's)
    line: dict[str, Any]  # its contract record for data.jsonl (image names still this shard's own)
    copy: int
    formats: list[str]  # per image: jpg or png
    spilled: list[str]  # per image: the encoded file in the spill folder
    messages: str | None  # the source's messages (a chat record's image items are re-pointed)
    errors: list[str] | None = None  # the record breaks the contract: the run stops at it


@dataclass
class AugmentShard:
    copies: list[Copy] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> records, in first-seen order
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dropped: Counter[str] = field(default_factory=Counter)
    chat_records: int = 0
    split: int = 0
    converted_to_poly: int = 0
    rewritten: int = 0
    bypassed: int = 0
    rows: int = 0  # input rows this shard read

    def skip(self, reason: str, rec: dict[str, Any] | None = None, problem: str = "", **where: Any) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if rec is not None:
            examples = self.examples.setdefault(reason, [])
            if len(examples) < EXAMPLES:
                examples.append({"id": rec.get("id"), **where, "problem": problem})


def save_image(img: Any, path: Path, fmt: str) -> None:
    """PNG, or JPEG quality 95 with 4:4:4 chroma; written to a temporary name and renamed into place."""
    from PIL import Image

    pil = img if isinstance(img, Image.Image) else Image.fromarray(img)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if fmt == "png":
        pil.save(tmp, format="PNG", optimize=False)
    else:
        pil.save(tmp, format="JPEG", quality=95, subsampling=0)
    os.replace(tmp, path)


def contract_errors(line: dict[str, Any]) -> list[str]:
    """The contract errors of an output record (empty when it validates)."""
    from vlmdata.contract.explain import explain_line
    from vlmdata.contract.rules import codes_severity

    _, issues = explain_line(json.dumps(line, ensure_ascii=False).encode("utf-8"))
    return [f"{i.code} {i.field or ''}: {i.message}" for i in issues if codes_severity(i.code) == "error"]


def image_name(n: int, copy: int, j: int, fmt: str) -> str:
    """The output's name of image `j` of copy `copy` of output record `n` (relative to the output folder)."""
    return f"images/{n:07d}-c{copy}-i{j}.{fmt}"


def _records(table: Any, batch: int = 256) -> Any:
    for start in range(0, table.num_rows, batch):
        yield from table.slice(start, batch).to_pylist()


def augment_shard(task: AugmentTask) -> AugmentShard:
    """Augment rows `[start, stop)` of the task's dataset (see the module docstring)."""
    from vlmdata.augment.pipeline import AugmentPipeline, augment_record
    from vlmdata.contract.rows import row_record
    from vlmdata.io.dataset import normalise_record, read_rows
    from vlmdata.io.decode import load_image
    from vlmdata.io.images import ImageProblem

    pipeline = AugmentPipeline(task.config, task.total_steps)
    part = read_rows(task.dataset, task.start, task.stop)  # memory-mapped, without importing `datasets`
    out = AugmentShard(rows=part.num_rows)
    spill = Path(task.spill)
    for i, rec in enumerate(_records(part)):
        if not rec["images"]:
            out.skip("no_images")
            continue
        try:
            sources = [load_image(p, task.max_image_pixels) for p in rec["images"]]
        except ImageProblem as exc:
            out.skip(exc.code, rec, exc.message, source_file=rec.get("source_file"))
            continue
        is_chat = bool(rec.get("messages"))
        out.chat_records += int(is_chat)
        for k in range(task.copies):
            try:
                with at(rec.get("source_file") or task.dataset, rec.get("source_line"), str(rec["id"])):
                    res = augment_record(rec, sources, pipeline, epoch=k, step=task.step)
            except VlmdataError as exc:  # the record's own data (sizes changed since validation, …)
                out.skip(exc.code_str, rec, exc.message, copy=k)
                continue
            prov = res.provenance
            out.dropped.update(prov.get("dropped", {}))
            out.split += prov.get("split", 0)
            out.converted_to_poly += prov.get("converted_to_poly", 0)
            out.rewritten += prov.get("rewritten", 0)
            out.bypassed += int(prov.get("bypassed", False))
            if not res.objects and rec.get("summary") is None and not is_chat:
                out.skip("no_objects_left")
                continue
            formats, spilled = [], []
            for j, (img, src) in enumerate(zip(res.images, rec["images"], strict=True)):
                fmt = task.image_format
                if fmt == "auto":
                    fmt = "png" if src.lower().endswith(".png") else "jpg"
                path = spill / f"{task.index:06d}-{task.start + i:09d}-c{k}-i{j}.{fmt}"
                save_image(img, path, fmt)
                formats.append(fmt)
                spilled.append(str(path))
            new = res.apply_to(rec)
            meta = json.loads(new["metadata"])
            meta["_augmented_from"] = {
                "id": rec["id"],
                "dataset": task.dataset,
                "images": list(rec["images"]),
            }
            new["metadata"] = json.dumps(meta, ensure_ascii=False)
            new["id"] = f"{rec['id']}~aug{k}"
            names = [image_name(len(out.copies), k, j, fmt) for j, fmt in enumerate(formats)]
            line = row_record(new, names)
            errors = contract_errors(line)  # the verdict does not depend on the names' index
            messages = rec["messages"] if is_chat else None
            out.copies.append(Copy(normalise_record(new), line, k, formats, spilled, messages, errors))
            if errors:
                return out  # a single pass stops here; the driver raises when it reaches this record
    return out
