"""The augmentation pipeline and the record-level API the trainer plugins call.

For one record: decide bypass (its own stream), then walk the ops in config order. Each op draws from its
own generator `(seed, epoch, record id, "<index>:<name>")` exactly once — whether it is applied (`p`) and its
parameters — and the same draws serve every image of the record. Affine ops multiply into a pending matrix;
a barrier flushes it (one resample, one geometry transform) and then changes the canvas; colour ops are
collected and run on the pixels after the last flush. Objects falling out, becoming degenerate or dropping
below `min_visibility` are removed and counted; below `partial_below` the visibility hook may rewrite the desc.

Images go in and out as PIL images or numpy RGB arrays (the output of each image has the type of its input);
nothing is written to disk or encoded on the way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlmdata.augment import codes
from vlmdata.augment.barriers import BARRIERS
from vlmdata.augment.config import AugmentationConfig, load_augmentation_config, parse_augmentation_config
from vlmdata.augment.curriculum import Resolved, resolve
from vlmdata.augment.ops import OPS
from vlmdata.augment.seeding import generator
from vlmdata.augment.state import Obj, State
from vlmdata.errors import Location, VlmdataError
from vlmdata.geometry.kernels import KERNELS
from vlmdata.geometry.transform import object_points

PARTIAL_FROM, PARTIAL_TO = "可见性=完整", "可见性=部分"


def _bbu_visibility(desc: str) -> str:
    """Token-level: only a comma-separated token equal to `可见性=完整` changes; no other text does."""
    return ",".join(PARTIAL_TO if token == PARTIAL_FROM else token for token in desc.split(","))


VISIBILITY_HOOKS: dict[str, Callable[[str], str] | None] = {"bbu": _bbu_visibility, "none": None}


@dataclass
class AugmentResult:
    images: list[Any]
    objects: list[dict[str, Any]]
    provenance: dict[str, Any]
    width: int
    height: int

    def apply_to(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of `record` with the new objects, size and `metadata._augment` provenance (images untouched)."""
        import json

        out = dict(record)
        out["objects"] = self.objects
        out["width"], out["height"] = self.width, self.height
        meta = record.get("metadata") or {}
        meta = json.loads(meta) if isinstance(meta, str) else dict(meta)
        meta["_augment"] = self.provenance
        out["metadata"] = json.dumps(meta, ensure_ascii=False)
        return out


@dataclass
class AugmentPipeline:
    config: AugmentationConfig
    total_steps: int | None = None
    _static: Resolved | None = field(default=None, repr=False)

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | AugmentationConfig, total_steps: int | None = None
    ) -> AugmentPipeline:
        cfg = config if isinstance(config, AugmentationConfig) else parse_augmentation_config(dict(config))
        return cls(cfg, total_steps)

    @classmethod
    def from_yaml(cls, path: str | Path, total_steps: int | None = None) -> AugmentPipeline:
        return cls(load_augmentation_config(path), total_steps)

    def params_at(self, step: int | None) -> Resolved:
        if self.config.curriculum is None or step is None:
            if self._static is None:
                self._static = resolve(self.config, None)
            return self._static
        return resolve(self.config, step, self.total_steps)

    def __call__(
        self, record: Mapping[str, Any], images: Sequence[Any] | None, epoch: int, step: int | None = None
    ) -> AugmentResult:
        return augment_record(record, images, self, epoch, step)


def _to_array(img: Any) -> tuple[np.ndarray, bool]:
    if isinstance(img, np.ndarray):
        arr = img
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise ValueError(f"expected an RGB array (H, W, 3), got shape {arr.shape}")
        arr = arr[:, :, :3]
        if arr.dtype != np.uint8:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(arr), False
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img).copy(), True


def _load_images(record: Mapping[str, Any]) -> list[Any]:
    """The record's images decoded as training decodes them (`vlmdata.io.decode`, the default bomb limit)."""
    from vlmdata.io.decode import load_image
    from vlmdata.io.images import ImageProblem

    out = []
    for path in record.get("images") or []:
        try:
            out.append(load_image(str(path)))
        except ImageProblem as exc:
            raise VlmdataError(
                codes.IMAGE_UNREADABLE,
                f"cannot read image: {exc.code} {exc.message}",
                where=Location(file=str(path), record_id=record.get("id")),
            ) from None
    return out


def _objects(record: Mapping[str, Any]) -> list[Obj]:
    objs = []
    for i, o in enumerate(record.get("objects") or []):
        where = Location(record_id=str(record.get("id")), field=f"objects[{i}]")
        if not isinstance(o, Mapping) or "kind" not in o or "points" not in o:
            raise VlmdataError(codes.BAD_OBJECT, "object needs `kind` and `points`", where=where, value=o)
        try:
            pts = object_points(o["kind"], o["points"])
        except VlmdataError as exc:
            raise VlmdataError(exc.code, exc.message, where=where, value=exc.value, hint=exc.hint) from None
        objs.append(Obj(dict(o), o["kind"], KERNELS["canonical"][o["kind"]](pts)))
    return objs


def _split_degenerate(objs: list[Obj]) -> tuple[list[Obj], int]:
    good = [o for o in objs if not KERNELS["degenerate"][o.kind](o.pts)]
    return good, len(objs) - len(good)


def augment_record(
    record: Mapping[str, Any],
    images: Sequence[Any] | None,
    pipeline: AugmentPipeline,
    epoch: int,
    step: int | None = None,
) -> AugmentResult:
    """Augment one record's images and objects together; deterministic in (seed, epoch, record id, step)."""
    cfg = pipeline.config
    rid = record.get("id")
    if rid is None:
        raise VlmdataError(
            codes.BAD_OBJECT,
            "record has no id (randomness is keyed by it)",
            hint="validate the dataset first; it assigns stable ids",
        )
    rid = str(rid)
    given = list(images) if images is not None else _load_images(record)
    arrays, was_pil = [], []
    for img in given:
        arr, pil = _to_array(img)
        arrays.append(arr)
        was_pil.append(pil)
    sizes = {(a.shape[1], a.shape[0]) for a in arrays}
    width = int(record.get("width") or (arrays[0].shape[1] if arrays else 0))
    height = int(record.get("height") or (arrays[0].shape[0] if arrays else 0))
    if sizes and sizes != {(width, height)}:
        raise VlmdataError(
            codes.IMAGE_SIZE_MISMATCH,
            "images do not all have the record's size",
            where=Location(record_id=rid, field="images"),
            value={"record": [width, height], "images": sorted(sizes)},
        )
    resolved = pipeline.params_at(step)
    prov: dict[str, Any] = {
        "seed": cfg.seed,
        "epoch": int(epoch),
        "step": step,
        "record_id": rid,
        "size_in": [width, height],
    }
    objs = _objects(record)
    bypass = (
        resolved.bypass_prob > 0 and generator(cfg.seed, epoch, rid, "bypass").random() < resolved.bypass_prob
    )
    if bypass or not arrays and not objs:
        prov.update(
            {
                "bypassed": bool(bypass),
                "ops": [],
                "size_out": [width, height],
                "objects_in": len(objs),
                "objects_out": len(objs),
            }
        )
        return AugmentResult(list(given), [dict(o.src) for o in objs], prov, width, height)

    good, n_degenerate = _split_degenerate(objs)
    st = State(arrays, width, height, good, cfg.fill, cfg.bbox_rotation, cfg.line_split, cfg.min_visibility)
    st.drops["degenerate"] += n_degenerate
    applied: list[dict[str, Any]] = []
    colour_ops = []
    for index, (op, params) in enumerate(zip(cfg.ops, resolved.params, strict=True)):
        spec = OPS[op.name]
        rng = generator(cfg.seed, epoch, rid, f"{index}:{op.name}")
        on = bool(rng.random() < params.p)
        sampled = spec.sample(rng, params) if on else {}
        entry: dict[str, Any] = {"name": op.name, "applied": on, "params": dict(sampled)}
        applied.append(entry)
        if not on:
            continue
        if spec.category == "affine":
            assert spec.matrix is not None
            st.pending = spec.matrix(sampled, st.width, st.height) @ st.pending
        elif spec.category == "barrier":
            entry["params"].update(BARRIERS[op.name](st, sampled, params))
        else:
            colour_ops.append((spec, sampled, params))
    st.flush()
    for spec, sampled, params in colour_ops:
        st.images = [spec.image(img, sampled, params) for img in st.images]  # type: ignore[misc]

    hook = VISIBILITY_HOOKS.get(cfg.visibility_rewrite)
    out_objects, rewritten = [], 0
    for o in st.objs:
        new = dict(o.src)
        new["kind"], new["points"] = o.kind, o.pts.reshape(-1).tolist()  # canonical, untouched objects too
        if hook is not None and o.vis < cfg.partial_below:
            desc = hook(new["desc"])
            rewritten += int(desc != new["desc"])
            new["desc"] = desc
        out_objects.append(new)
    out_images = [_from_array(a, pil) for a, pil in zip(st.images, was_pil, strict=True)]
    prov.update(
        {
            "bypassed": False,
            "ops": applied,
            "size_out": [st.width, st.height],
            "warps": st.warps,
            "objects_in": len(objs),
            "objects_out": len(out_objects),
            "dropped": {
                k: int(st.drops.get(k, 0)) for k in ("clipped_out", "below_min_visibility", "degenerate")
            },
            "split": st.split,
            "converted_to_poly": st.converted,
            "rewritten": rewritten,
        }
    )
    return AugmentResult(out_images, out_objects, prov, st.width, st.height)


def _from_array(arr: np.ndarray, pil: bool) -> Any:
    if not pil:
        return arr
    from PIL import Image

    return Image.fromarray(arr)
