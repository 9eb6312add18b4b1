"""Building synthetic records (dicts in the JSONL contract) together with the image files they need.

Every builder takes its own `numpy.random.Generator` (seeded from the run seed and the record's index), and
returns the record plus the `ImageJob`s that paint its images. The record never depends on whether the jobs
are executed, so `--no-images` produces the same JSONL.

Record kinds:
- `dense`: one image, 1..N objects (boxes, polygons, polylines); BBU/RRU records carry a summary.
- `multi`: two images of one size, objects spread over both (`image_index`).
- `irrelevant`: a cabinet-less scene, no objects, summary `无关图片` (BBU/RRU only).
- `chat_text`: `messages` only, no image.
- `chat_image`: one image and `messages` whose image items (or `<image>` tags) match `images`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from vlmdata.synth.imagefiles import EXTENSIONS, SWAPS_AXES, ImageJob
from vlmdata.synth.scene import SceneObject, layout_objects
from vlmdata.synth.vocab import CHAT_QA, IRRELEVANT, build_summary, parse_desc, weighted_index

RECORD_KINDS = ("dense", "multi", "irrelevant", "chat_text", "chat_image")
_DOMAIN_CUMULATIVE = (0.4, 0.7, 1.0)  # mixed: bbu 40 %, rru 30 %, generic 30 %


@dataclass(frozen=True)
class SynthOptions:
    n: int
    seed: int = 0
    corrupt: int = 0
    domain: str = "mixed"  # bbu | rru | generic | mixed
    min_size: int = 320
    max_size: int = 2048
    min_objects: int = 1
    max_objects: int = 12
    val_fraction: float = 0.0
    images: bool = True
    exif_fraction: float = 0.2
    png_fraction: float = 0.35


def image_path(key: str, fmt: str) -> str:
    return f"images/{key}{EXTENSIONS[fmt]}"


def sample_size(rng: np.random.Generator, opts: SynthOptions) -> tuple[int, int]:
    lo, hi = opts.min_size, opts.max_size
    long_side = math.exp(rng.uniform(math.log(lo), math.log(hi) + 1e-9))
    short_side = max(lo, long_side / rng.uniform(1.0, 2.0))
    w, h = int(round(long_side)), int(round(short_side))
    return (w, h) if rng.random() < 0.7 else (h, w)


def _image_job(
    rng: np.random.Generator,
    opts: SynthOptions,
    key: str,
    seed: tuple[int, ...],
    w: int,
    h: int,
    domain: str,
    objects: list[SceneObject],
) -> ImageJob:
    fmt = "png" if rng.random() < opts.png_fraction else "jpeg"
    orientation = 1
    if fmt == "jpeg" and rng.random() < opts.exif_fraction:
        orientation = int(rng.integers(2, 9))
    return ImageJob(image_path(key, fmt), w, h, domain, fmt, seed, objects, orientation)


def object_dict(obj: SceneObject, rng: np.random.Generator, multi_image: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"desc": obj.desc, obj.kind: list(obj.points)}
    if obj.kind != "bbox_2d" and rng.random() < 0.5:
        out[f"{obj.kind}_points"] = len(obj.points) // 2
    if multi_image:
        out["image_index"] = obj.image_index
    out["metadata"] = {
        "color": "#{:02x}{:02x}{:02x}".format(*obj.color),
        "style": obj.style,
        "thickness": obj.thickness,
    }
    return out


def _n_objects(rng: np.random.Generator, opts: SynthOptions) -> int:
    return int(rng.integers(opts.min_objects, opts.max_objects + 1))


def _metadata(domain: str, kind: str, jobs: list[ImageJob]) -> dict[str, Any]:
    meta: dict[str, Any] = {"domain": domain, "synth_kind": kind}
    orientations = [j.orientation for j in jobs]
    if any(o != 1 for o in orientations):
        meta["exif_orientation"] = orientations
    return meta


def build_record(
    kind: str,
    rng: np.random.Generator,
    opts: SynthOptions,
    key: str,
    seed: tuple[int, ...],
    domain: str,
    record_id: str | None,
    size: tuple[int, int] | None = None,
) -> tuple[dict[str, Any], list[ImageJob]]:
    """One clean record of `kind` and the image jobs it needs; `key` names its image files."""
    head: dict[str, Any] = {} if record_id is None else {"id": record_id}
    if kind == "chat_text":
        q, a = CHAT_QA[domain][int(rng.integers(len(CHAT_QA[domain])))]
        messages = [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        if rng.random() < 0.5:
            system = (
                "你是通信基站巡检助手。" if domain != "generic" else "You are a helpful vision assistant."
            )
            messages.insert(0, {"role": "system", "content": system})
        return {**head, "messages": messages, "metadata": {"domain": domain, "synth_kind": kind}}, []
    w, h = size if size is not None else sample_size(rng, opts)
    if kind == "irrelevant":
        job = _image_job(rng, opts, key, seed + (0,), w, h, "generic", [])
        rec = {
            **head,
            "images": [job.relpath],
            "width": w,
            "height": h,
            "objects": [],
            "summary": IRRELEVANT,
            "metadata": _metadata(domain, kind, [job]),
        }
        return rec, [job]
    n_images = 2 if kind == "multi" else 1
    groups: dict[str, int] = {}
    jobs: list[ImageJob] = []
    scene: list[SceneObject] = []
    for k in range(n_images):
        objs = layout_objects(rng, domain, w, h, _n_objects(rng, opts), image_index=k, group_of=groups)
        suffix = f"-{k}" if n_images > 1 else ""
        jobs.append(_image_job(rng, opts, key + suffix, seed + (k,), w, h, domain, objs))
        scene.extend(objs)
    paths = [j.relpath for j in jobs]
    rec = {**head, "images": paths, "width": w, "height": h}
    if kind == "chat_image":
        rec["messages"] = _chat_about(rng, domain, scene, paths[0])
        rec["metadata"] = _metadata(domain, kind, jobs)
        return rec, jobs
    rec["objects"] = [object_dict(o, rng, n_images > 1) for o in scene]
    if domain in ("bbu", "rru"):
        rec["summary"] = build_summary([o.desc for o in scene], domain, rng)
    rec["metadata"] = _metadata(domain, kind, jobs)
    return rec, jobs


def _chat_about(
    rng: np.random.Generator, domain: str, scene: list[SceneObject], path: str
) -> list[dict[str, Any]]:
    """A question about the picture whose answer is true of the painted scene (a category count)."""
    cats = sorted({parse_desc(o.desc)[0] for o in scene})
    cat = cats[int(rng.integers(len(cats)))]
    count = sum(parse_desc(o.desc)[0] == cat for o in scene)
    if domain == "generic":
        q, a = f"How many {cat} objects are in the picture?", f"There are {count} {cat} objects."
    else:
        q, a = f"图中有几个{cat}？", f"图中有{count}个{cat}。"
    if rng.random() < 0.5:
        user: Any = [{"type": "image", "image": path}, {"type": "text", "text": q}]
    else:
        user = f"<image>{q}"
    return [{"role": "user", "content": user}, {"role": "assistant", "content": a}]


def plan_kinds(n: int, domain: str, rng: np.random.Generator) -> list[str]:
    """The kind of each of the n clean records: mostly dense, a few of every other kind (n >= 20)."""
    shares = {
        "multi": 0.05,
        "irrelevant": 0.04 if domain != "generic" else 0.0,
        "chat_text": 0.03,
        "chat_image": 0.03,
    }
    kinds: list[str] = []
    for kind, share in shares.items():
        count = round(share * n)
        if n >= 20 and share > 0:
            count = max(count, 1)
        kinds.extend([kind] * count)
    kinds = kinds[:n]
    kinds.extend(["dense"] * (n - len(kinds)))
    return [kinds[int(i)] for i in rng.permutation(n)]


def pick_domain(rng: np.random.Generator, domain: str, kind: str) -> str:
    if domain != "mixed":
        return domain
    if kind == "irrelevant":
        return ("bbu", "rru")[int(rng.integers(2))]
    return ("bbu", "rru", "generic")[weighted_index(rng, _DOMAIN_CUMULATIVE)]


def swapped_size(job: ImageJob) -> tuple[int, int]:
    """The size of the stored pixels of `job` (differs from the displayed size for 90° orientations)."""
    return (job.height, job.width) if job.orientation in SWAPS_AXES else (job.width, job.height)
