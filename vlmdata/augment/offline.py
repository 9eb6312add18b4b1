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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vlmdata.augment.config import AugmentationConfig, load_augmentation_config
from vlmdata.augment.pipeline import AugmentPipeline, augment_record
from vlmdata.contract.rows import row_record, with_images
from vlmdata.errors import Location, UsageError, VlmdataError
from vlmdata.io.images import DEFAULT_MAX_IMAGE_PIXELS, ImageProblem

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


def _save_image(img: Any, path: Path, fmt: str) -> None:
    from PIL import Image

    pil = img if isinstance(img, Image.Image) else Image.fromarray(img)
    if fmt == "png":
        pil.save(path, format="PNG", optimize=False)
    else:
        pil.save(path, format="JPEG", quality=95, subsampling=0)


def _check_contract(line: dict[str, Any], lineno: int, jsonl: Path) -> None:
    from vlmdata.contract.explain import explain_line
    from vlmdata.contract.rules import codes_severity

    _, issues = explain_line(json.dumps(line, ensure_ascii=False).encode("utf-8"))
    errors = [i for i in issues if codes_severity(i.code) == "error"]
    if errors:
        from vlmdata.augment.codes import BAD_OBJECT

        raise VlmdataError(
            BAD_OBJECT,
            "an augmented record breaks the record contract (nothing was written)",
            where=Location(file=str(jsonl), line=lineno, record_id=line["id"]),
            details=[f"{i.code} {i.field or ''}: {i.message}" for i in errors],
        )


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
) -> OfflineResult:
    from vlmdata.errors import at
    from vlmdata.io.atomic import atomic_write_json
    from vlmdata.io.dataset import image_dirs, locate_dataset, open_dataset, records_to_dataset, write_dataset
    from vlmdata.io.decode import load_image
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
    skipped: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []

    def skip(reason: str, rec: dict[str, Any], problem: str, **where: Any) -> None:
        skipped[reason] += 1
        examples = result.skipped_examples.setdefault(reason, [])
        if len(examples) < 5:
            examples.append({"id": rec.get("id"), **where, "problem": problem})

    config_file = None if isinstance(config, AugmentationConfig) else config
    inputs = [in_dir, src_dir, config_file]
    with output_dir(out, command="augment", inputs=inputs, roots=image_dirs(dataset)) as tmp:
        (tmp / "images").mkdir()
        jsonl = tmp / "data.jsonl"
        with jsonl.open("w", encoding="utf-8") as fh:
            for rec in dataset:
                if not rec["images"]:
                    skipped["no_images"] += 1
                    continue
                try:
                    sources = [load_image(p, max_image_pixels) for p in rec["images"]]
                except ImageProblem as exc:
                    skip(exc.code, rec, exc.message, source_file=rec.get("source_file"))
                    continue
                is_chat = bool(rec.get("messages"))
                result.chat_records += int(is_chat)
                for k in range(copies):
                    try:
                        with at(
                            rec.get("source_file") or str(src_dir), rec.get("source_line"), str(rec["id"])
                        ):
                            res = augment_record(rec, sources, pipeline, epoch=k, step=step)
                    except VlmdataError as exc:  # the record's own data (sizes changed since validation, …)
                        skip(exc.code_str, rec, exc.message, copy=k)
                        continue
                    prov = res.provenance
                    dropped.update(prov.get("dropped", {}))
                    result.split += prov.get("split", 0)
                    result.converted_to_poly += prov.get("converted_to_poly", 0)
                    result.rewritten += prov.get("rewritten", 0)
                    result.bypassed += int(prov.get("bypassed", False))
                    if not res.objects and rec.get("summary") is None and not is_chat:
                        skipped["no_objects_left"] += 1
                        continue
                    n = len(rows)
                    rel, absolute = [], []
                    for j, (img, src) in enumerate(zip(res.images, rec["images"], strict=True)):
                        fmt = (
                            image_format
                            if image_format != "auto"
                            else ("png" if src.lower().endswith(".png") else "jpg")
                        )
                        name = f"images/{n:07d}-c{k}-i{j}.{fmt}"
                        _save_image(img, tmp / name, fmt)
                        rel.append(name)
                        absolute.append(str(out / name))
                    new = res.apply_to(rec)
                    meta = json.loads(new["metadata"])
                    meta["_augmented_from"] = {
                        "id": rec["id"],
                        "dataset": str(src_dir),
                        "images": list(rec["images"]),
                    }
                    new["metadata"] = json.dumps(meta, ensure_ascii=False)
                    new["id"] = f"{rec['id']}~aug{k}"
                    line = contract_line(new, rel)
                    _check_contract(line, n + 1, out / "data.jsonl")
                    fh.write(json.dumps(line, ensure_ascii=False) + "\n")
                    new["images"] = absolute
                    if is_chat:
                        new["messages"] = json.dumps(
                            with_images(json.loads(rec["messages"]), absolute), ensure_ascii=False
                        )
                    rows.append(new)
        write_dataset(records_to_dataset(rows), tmp / "data")
        result.records_out = len(rows)
        result.skipped = dict(skipped)
        result.dropped = {
            k: int(dropped.get(k, 0)) for k in ("clipped_out", "below_min_visibility", "degenerate")
        }
        atomic_write_json(tmp / "report.json", {**result.as_dict(), "config": cfg.model_dump(mode="json")})
    return result
