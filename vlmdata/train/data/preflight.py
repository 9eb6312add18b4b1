"""Refusing, before step 1, the records whose images the model's resize cannot encode under the run's budget.

Qwen-VL resizes every image under `template.min_pixels`/`max_pixels` (or a record's own
`metadata.min_pixels`/`max_pixels`). A thin image under a small budget resizes to a side of 0 px and the image
processor fails in the middle of the run; an aspect ratio above 200 fails under any budget
(`vlmdata.contract.imagesize`). `vlmdata audit` lists these records; the trainer checks them again here,
from the stored `width`/`height` (the displayed size validation checked), so a run never starts on them:
each distinct size of a dataset is sized once, records with their own bounds one by one. Online augmentation
that changes the canvas is checked per sample at run time (`TrainSamples.build`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vlmdata.errors import CODES, Location, VlmdataError


def _column(dataset: Any, name: str) -> Any:
    import pyarrow as pa

    if getattr(dataset, "_indices", None) is None and hasattr(dataset, "data"):
        return dataset.data.column(name)
    return pa.chunked_array([pa.array(dataset[name])])


def image_problem(record: dict[str, Any], bounds: tuple[int, int]) -> tuple[str, str] | None:
    """(code, message) when the record's images cannot be encoded under `bounds` (or its own), else None."""
    from vlmdata.models.qwen import ResizeError, image_tokens, record_pixel_bounds

    if not record.get("images"):
        return None
    width, height = record.get("width"), record.get("height")
    if not width or not height:
        return None  # the dataset layer fails on these with its own error
    try:
        lo, hi = record_pixel_bounds(record, bounds)
    except ValueError as exc:
        return "VD433", str(exc)
    try:
        image_tokens(int(height), int(width), lo, hi)
    except ResizeError as exc:
        return {"aspect": "VD431", "zero": "VD434"}.get(exc.kind, "VD433"), str(exc)
    return None


def check_image_budget(sources: Any, template_cfg: Any, show: int = 20) -> None:
    """Raise one error listing every record of `sources` (a `Sources`) that training cannot encode."""
    import pyarrow.compute as pc

    from vlmdata.models.qwen import effective_pixel_bounds

    bounds = effective_pixel_bounds(template_cfg)
    found: list[tuple[str, str, str, str]] = []  # (code, dataset, id, message)
    total = 0
    for source in sources.items:
        ds = source.dataset
        if len(ds) == 0 or not {"images", "width", "height"} <= set(ds.column_names or []):
            continue
        n_images = pc.fill_null(pc.list_value_length(_column(ds, "images")), 0).to_numpy()
        width = pc.fill_null(_column(ds, "width"), 0).to_numpy()
        height = pc.fill_null(_column(ds, "height"), 0).to_numpy()
        rows = np.flatnonzero((n_images > 0) & (width > 0) & (height > 0))
        own = np.zeros(len(ds), bool)
        if "metadata" in ds.column_names:
            meta = _column(ds, "metadata")
            own = pc.fill_null(
                pc.or_(pc.match_substring(meta, '"max_pixels"'), pc.match_substring(meta, '"min_pixels"')),
                False,
            ).to_numpy(zero_copy_only=False)
        bad: list[tuple[int, str, str]] = []
        plain = rows[~own[rows]]
        if len(plain):
            pairs = np.stack([width[plain], height[plain]], axis=1)
            sizes, inverse = np.unique(pairs, axis=0, return_inverse=True)
            for k, (w, h) in enumerate(sizes.tolist()):
                problem = image_problem({"images": [""], "width": w, "height": h}, bounds)
                if problem is not None:
                    bad += [(int(i), *problem) for i in plain[np.flatnonzero(inverse.reshape(-1) == k)]]
        for i in rows[own[rows]].tolist():
            problem = image_problem(ds[int(i)], bounds)
            if problem is not None:
                bad.append((int(i), *problem))
        total += len(bad)
        if bad and len(found) < show:
            bad.sort()
            ids = ds.select([i for i, _, _ in bad[: show - len(found)]])["id"]
            found += [
                (code, source.name, str(rid), msg) for rid, (_, code, msg) in zip(ids, bad, strict=False)
            ]
    if total:
        details = [f"{name}: id={rid} {code}: {msg}" for code, name, rid, msg in found]
        if total > len(found):
            details.append(f"... and {total - len(found)} more")
        code = found[0][0]
        raise VlmdataError(
            CODES[code],
            f"{total} {sources.split} record(s) have images the model's resize cannot encode under "
            f"min_pixels={bounds[0]}, max_pixels={bounds[1]}; the run would stop on the first of them",
            where=Location(field="template.max_pixels"),
            details=details,
            hint="raise template.max_pixels (or the record's metadata.max_pixels) to the value given, pad or "
            "crop those images, or remove the records (`vlmdata audit` lists them all)",
        )
