"""Benchmark data: synthetic dense-caption records at realistic sizes, validated, audited and exported.

`dense_set` runs the product's own stages: `vlmdata.synth.generate` (1024x768-class JPEG/PNG images with many
drawn objects) → `vlmdata.validate.validate_files` (Arrow dataset) → `vlmdata.audit` with `write_lengths`
(the `length` column length-grouped batching reads) → `vlmdata.export` (ms-swift standard JSONL, for the plain
ms-swift peer). `chat_set` writes text-only chat records (their own `messages`, no images) of mixed lengths,
the records that leave a rank without an image when a fusion mixes them in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from vlmdata.io.atomic import atomic_write_text

WORDS = (
    "cabinet",
    "cable",
    "port",
    "label",
    "screw",
    "fan",
    "panel",
    "shield",
    "ground",
    "antenna",
    "rack",
    "power",
    "module",
    "status",
    "light",
    "optical",
    "fiber",
    "connector",
    "bracket",
    "door",
)


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    return atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))


def dense_set(
    work: Path,
    name: str,
    n: int,
    *,
    seed: int,
    min_size: int,
    max_size: int,
    min_objects: int,
    max_objects: int,
) -> Path:
    """synth → validate; returns the Arrow dataset folder `work/NAME/data` (kept when already there)."""
    from vlmdata.synth import generate
    from vlmdata.validate import validate_files
    from vlmdata.validate.run import ValidateOptions

    data = work / name / "validated" / "data"
    if (data / "dataset_info.json").is_file() or (data / "state.json").is_file():
        return data
    generate(
        work / name / "synth",
        n,
        seed=seed,
        domain="bbu",
        min_size=min_size,
        max_size=max_size,
        min_objects=min_objects,
        max_objects=max_objects,
        exif_fraction=0.0,
    )
    validate_files([work / name / "synth" / "data.jsonl"], work / name / "validated", ValidateOptions())
    return data


def chat_set(work: Path, n: int, seed: int = 0) -> Path:
    """`n` text-only chat records (user question, assistant answer of 30-400 words), saved as a dataset."""
    import numpy as np

    from vlmdata.io.dataset import save_records

    out = work / "chat" / "data"
    if (out / "dataset_info.json").is_file() or (out / "state.json").is_file():
        return out
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        q = " ".join(rng.choice(WORDS, int(rng.integers(8, 30))))
        a = " ".join(rng.choice(WORDS, int(rng.integers(30, 400))))
        messages = [{"role": "user", "content": f"Explain: {q}?"}, {"role": "assistant", "content": a}]
        records.append(
            {
                "id": f"chat-{i:05d}",
                "images": [],
                "width": None,
                "height": None,
                "objects": [],
                "summary": None,
                "messages": json.dumps(messages),
                "metadata": "{}",
                "source_file": "bench/chat.jsonl",
                "source_line": i + 1,
            }
        )
    return save_records(records, out)


def audit_lengths(datasets: list[Path], run_config: Path) -> dict[str, Any]:
    """Exact sequence lengths under the run config, stored as the `length` column of every dataset."""
    from vlmdata.audit.audit import audit_dataset, write_lengths
    from vlmdata.train.config import load_train_config

    report = audit_dataset([str(p) for p in datasets], load_train_config(run_config))
    if not report.ok:
        raise RuntimeError(f"audit: {len(report.over_limit())} over-length, {len(report.errors)} unsized")
    write_lengths(report)
    stats = report.stats()["all"]
    return {k: stats[k] for k in ("count", "min", "p50", "max", "image_token_share") if k in stats}


def export_in_stream_order(dataset: Path, run_config: Path, out: Path) -> dict[str, Any]:
    """`vlmdata export` of `dataset`, lines reordered to the trainer's epoch-0 stream order.

    With ms-swift's shuffling off, the plain ms-swift run then reads exactly the batches `vlmdata train` reads
    with random (ungrouped) batching: same samples, same padding, so step times compare like for like.
    """
    from vlmdata.export import export_dataset
    from vlmdata.train.config import load_train_config
    from vlmdata.train.dataset import open_train_data

    result = export_dataset(dataset, out.with_suffix(".dataset_order.jsonl"), config=run_config)
    lines = out.with_suffix(".dataset_order.jsonl").read_text(encoding="utf-8").splitlines()
    order = open_train_data(load_train_config(run_config)).train.order(0)
    assert len(order) == len(lines), (len(order), len(lines))
    atomic_write_text(out, "".join(lines[int(i)] + "\n" for i in order.index))
    return {"records": result.records, "env": dict(result.env)}


def summary_set(work: Path, n: int, *, seed: int, min_size: int, max_size: int) -> Path:
    """BBU records with their JSON summaries (synth → validate), for the summary GRPO preset."""
    return dense_set(
        work, "summary", n, seed=seed, min_size=min_size, max_size=max_size, min_objects=2, max_objects=12
    )


def grpo_rows_in_stream_order(dataset: Path, run_config: Path, out: Path) -> dict[str, Any]:
    """The GRPO prompt rows vlmdata's `grpo` plugin feeds ms-swift, as a JSONL for plain ms-swift GRPO.

    Per record in the trainer's epoch-0 order: the `vlmdata export` conversation without its assistant turn
    (`messages`, `images`), the assistant turn as `solution`, and the record with its template as
    `vlmdata_record` (what `vlmdata_plugins.common.rows.RawRows` adds for the rewards).
    """
    from vlmdata.export import export_dataset
    from vlmdata.render.templates import record_metadata
    from vlmdata.train.config import load_train_config
    from vlmdata.train.dataset import open_train_data

    config = load_train_config(run_config)
    staged = out.with_suffix(".dataset_order.jsonl")
    result = export_dataset(dataset, staged, config=run_config)
    lines = staged.read_text(encoding="utf-8").splitlines()
    sources = open_train_data(config).train
    order = sources.order(0)
    assert len(order) == len(lines), (len(order), len(lines))
    rows = []
    for position in range(len(order)):
        exported = json.loads(lines[int(order.index[position])])
        _, record = sources.record(0, position)
        meta = record_metadata(record)
        meta["_template"] = config.template.name
        reference = {k: v for k, v in record.items() if k != "length"}
        reference["metadata"] = json.dumps(meta, ensure_ascii=False)
        *prompt, answer = exported["messages"]
        assert answer["role"] == "assistant", answer
        row = {
            "messages": prompt,
            "images": exported["images"],
            "solution": answer["content"],
            "vlmdata_record": json.dumps(reference, ensure_ascii=False, default=str),
        }
        if "chat_template_kwargs" in exported:
            row["chat_template_kwargs"] = exported["chat_template_kwargs"]
        rows.append(json.dumps(row, ensure_ascii=False))
    atomic_write_text(out, "".join(r + "\n" for r in rows))
    return {"records": result.records, "env": dict(result.env)}
