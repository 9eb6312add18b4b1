"""Offline augmentation: `vlmdata augment --config aug.yaml IN --out DIR [--copies N] [--seed S]`.

For each record of the input Arrow dataset and each copy `k` (0 ≤ k < N), the record is augmented with
`epoch = k`, so copy k of a record is exactly what online training would see in epoch k with the same config
and seed. Output, built in a temporary folder and swapped in atomically:

- `images/NNNNNNN-cK-iJ.{jpg,png}`: PNG when the source image is PNG (lossless stays lossless), else JPEG
  quality 95 with 4:4:4 chroma (no colour bleeding across box edges); `--image-format` forces one.
- `data.jsonl`: contract records (image paths relative to the file), each checked against the record contract
  before anything is written.
- `data/`: the Arrow dataset in the normalised schema (absolute image paths, as `vlmdata validate` writes),
  written by the one dataset writer (`vlmdata.io.writer`).
- `report.json`: counts (records in/out, drops by reason, splits, records skipped and why), the config.

The input is any dataset form `vlmdata.io.dataset.open_dataset` accepts (a `validate --out` folder included).
The output follows the `--out` rule (`vlmdata.io.output`): the input dataset, the config file and the folders of
the input's images are inputs it may not replace.

Every output record keeps its source's `source_file`/`source_line` and carries in `metadata`
`_augmented_from = {id, dataset, images}` and `_augment` (the provenance of `augment_record`).

Chat records with images are augmented as online training augments them (the pixels move, the messages are
kept verbatim; their image items point at the new files) and counted as `chat_records`; text that describes
positions is not rewritten, exactly as in training. Records without images (chat-only) have nothing to
augment and are skipped; a copy that loses all its objects and has no summary would break the contract
(VD119) and is skipped too. A record whose images cannot be read (missing, corrupt, truncated, above
`max_image_pixels`, a pixel mode that is not 8-bit) or no longer have the record's size is skipped under its
error code, with the first examples in the report: one bad file never ends the run. All skips are counted.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from vlmdata.augment.codes import BAD_OBJECT
from vlmdata.augment.config import AugmentationConfig, load_augmentation_config
from vlmdata.augment.pipeline import AugmentPipeline
from vlmdata.augment.shard import EXAMPLES, AugmentShard, AugmentTask, augment_shard, image_name
from vlmdata.contract.rows import row_record, with_images
from vlmdata.errors import Location, UsageError, VlmdataError
from vlmdata.io.atomic import atomic_write_json
from vlmdata.io.engine import EngineOptions, open_engine
from vlmdata.io.images import DEFAULT_MAX_IMAGE_PIXELS

MAX_COPIES_PER_SHARD = 64  # output records a shard hands the driver at once (memory stays a few MB)
SHARDS_PER_WORKER = 4
ROWS_PER_WRITE = 1000  # output records per Arrow table written (as `datasets` batches them)
PARALLEL_MIN_COPIES = 128  # fewer output records are augmented here (starting workers costs 1-2 s)

ImageFormat = Literal["auto", "jpg", "png"]


@dataclass
class OfflineResult:
    out: str
    records_in: int = 0
    records_out: int = 0
    copies: int = 1
    seed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    chat_records: int = 0

    @property
    def problems(self) -> int:
        """Records skipped for a problem of their own data (an error code), not by design."""
        return sum(v for k, v in self.skipped.items() if k.startswith("VD"))

    split: int = 0
    converted_to_poly: int = 0
    rewritten: int = 0
    bypassed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def contract_line(rec: dict[str, Any], image_paths: list[str]) -> dict[str, Any]:
    """A normalised record as a contract JSONL record (geometry under its kind key) with new image paths (a
    chat record's image items point at them too)."""
    return row_record(rec, image_paths)


def augment_dataset(
    config: AugmentationConfig | str | Path,
    in_dir: str | Path,
    out_dir: str | Path,
    copies: int = 1,
    seed: int | None = None,
    step: int | None = None,
    total_steps: int | None = None,
    image_format: ImageFormat = "auto",
    max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
    engine: EngineOptions | None = None,
) -> OfflineResult:
    """Augment every record of `in_dir` into `out_dir` (see the module docstring). `engine` (default: every
    usable core) spreads row ranges of the input over workers or Ray tasks; the output is the same for any."""
    from vlmdata.io.dataset import image_dirs, locate_dataset, open_dataset
    from vlmdata.io.output import output_dir

    if copies < 1:
        raise UsageError("--copies must be ≥ 1", hint="one copy per record is --copies 1")
    cfg = config if isinstance(config, AugmentationConfig) else load_augmentation_config(config)
    if seed is not None:
        cfg = cfg.model_copy(update={"seed": int(seed)})
    pipeline = AugmentPipeline(cfg, total_steps)
    pipeline.params_at(step)  # a curriculum that cannot resolve fails before anything is written
    src_dir = locate_dataset(in_dir).resolve()
    dataset = open_dataset(src_dir)
    out = Path(os.path.abspath(out_dir))  # not resolved: the `--out` rule refuses a symlink itself
    result = OfflineResult(str(out), records_in=len(dataset), copies=copies, seed=cfg.seed)
    config_file = None if isinstance(config, AugmentationConfig) else config
    inputs = [in_dir, src_dir, config_file]
    options = engine or EngineOptions()
    with output_dir(out, command="augment", inputs=inputs, roots=image_dirs(dataset)) as tmp:
        (tmp / "images").mkdir()
        spill = tmp / ".spill"
        spill.mkdir()
        tasks = plan_shards(len(dataset), copies, options)
        template = AugmentTask(
            0, str(src_dir), 0, 0, cfg, copies, step, total_steps, image_format, max_image_pixels, str(spill)
        )
        if len(tasks) <= 1 or not (options.distributed or options.count > 1):
            options = EngineOptions(workers=1)
        with open_engine(
            options,
            len(tasks),
            preload=[
                "vlmdata.augment.shard",
                "vlmdata.augment.pipeline",
                "vlmdata.io.decode",
                "vlmdata.contract.explain",
            ],
        ) as pool:
            shards = pool.map(
                augment_shard,
                (replace(template, index=i, start=a, stop=b) for i, (a, b) in enumerate(tasks)),
            )
            _write(shards, tmp, out, result)
        spill.rmdir()  # every spilled image was moved into images/
        atomic_write_json(tmp / "report.json", {**result.as_dict(), "config": cfg.model_dump(mode="json")})
    return result


def plan_shards(rows: int, copies: int, options: EngineOptions) -> list[tuple[int, int]]:
    """Row ranges of the input: a few per worker (so they finish together), small enough that the copies a
    shard holds for the driver stay a few MB, and one range when the input is too small to share out."""
    work = rows * copies
    if not options.distributed and (options.count <= 1 or work < PARALLEL_MIN_COPIES):
        size = max(1, -(-MAX_COPIES_PER_SHARD // copies))
    else:
        size = max(
            1, min(-(-MAX_COPIES_PER_SHARD // copies), -(-rows // (SHARDS_PER_WORKER * options.count)))
        )
    return [(a, min(rows, a + size)) for a in range(0, rows, size)]


def _flush(rows: list[dict[str, Any]], writer: Any, tmp: Path) -> Any:
    """Write the buffered rows as one Arrow table (the same tables for any shard plan: every
    `ROWS_PER_WRITE` output records) and empty the buffer; returns the writer (made on the first rows)."""
    import pyarrow as pa

    from vlmdata.io.features import record_features
    from vlmdata.io.writer import DatasetWriter

    if not rows:
        return writer
    normalised = rows  # normalised by the shards
    features = record_features(with_length=all("length" in r for r in normalised))
    if writer is None:
        writer = DatasetWriter(tmp / "data", features)
    schema = features.arrow_schema
    writer.write(
        pa.Table.from_pydict({n: [r.get(n) for r in normalised] for n in schema.names}, schema=schema)
    )
    rows.clear()
    return writer


def _write(shards: Iterator[AugmentShard], tmp: Path, out: Path, result: OfflineResult) -> None:
    """The shards' copies in order: images moved to their names, `data.jsonl`, `data/`, the counts."""
    import hashlib

    from vlmdata.io.dataset import records_to_dataset
    from vlmdata.io.writer import DatasetWriter

    skipped: dict[str, int] = {}
    dropped: Counter[str] = Counter()
    digest = hashlib.sha256()
    jsonl = tmp / "data.jsonl"
    writer: DatasetWriter | None = None
    rows: list[dict[str, Any]] = []
    n = 0
    try:
        with jsonl.open("w", encoding="utf-8") as fh:
            for shard in shards:
                for reason, count in shard.skipped.items():
                    skipped[reason] = skipped.get(reason, 0) + count
                for reason, examples in shard.examples.items():
                    kept = result.skipped_examples.setdefault(reason, [])
                    kept.extend(examples[: EXAMPLES - len(kept)])
                dropped.update(shard.dropped)
                for name in ("chat_records", "split", "converted_to_poly", "rewritten", "bypassed"):
                    setattr(result, name, getattr(result, name) + getattr(shard, name))
                for c in shard.copies:
                    rel = [image_name(n, c.copy, j, fmt) for j, fmt in enumerate(c.formats)]
                    absolute = [str(out / name) for name in rel]
                    for spilled, name in zip(c.spilled, rel, strict=True):
                        os.replace(spilled, tmp / name)
                    new, line = c.row, c.line
                    line["images"] = rel
                    if "messages" in line:  # a chat record's image items point at the new files too
                        line["messages"] = with_images(line["messages"], rel)
                    if c.errors:
                        raise VlmdataError(
                            BAD_OBJECT,
                            "an augmented record breaks the record contract (nothing was written)",
                            where=Location(file=str(out / "data.jsonl"), line=n + 1, record_id=line["id"]),
                            details=c.errors,
                        )
                    text = json.dumps(line, ensure_ascii=False) + "\n"
                    fh.write(text)
                    digest.update(text.encode("utf-8"))
                    new["images"] = absolute
                    if c.messages is not None:
                        new["messages"] = json.dumps(
                            with_images(json.loads(c.messages), absolute), ensure_ascii=False
                        )
                    rows.append(new)
                    n += 1
                    if len(rows) == ROWS_PER_WRITE:
                        writer = _flush(rows, writer, tmp)
            writer = _flush(rows, writer, tmp)
        if writer is None:
            writer = DatasetWriter(tmp / "data", records_to_dataset([]).features)
        writer.close(digest.hexdigest()[:16])
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    result.records_out = n
    result.skipped = skipped
    result.dropped = {
        k: int(dropped.get(k, 0)) for k in ("clipped_out", "below_min_visibility", "degenerate")
    }
