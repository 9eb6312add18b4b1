"""Image header probes, cached per path (`HeaderProbe`), and the per-record image checks built on them.

`HeaderProbe` is the one cache of image headers: every step that reads sizes from headers (validate's shards
here, the importers' `vlmdata.importers.images.Sizer`) asks it, so a path named by many records is read once
and every caller sees the same verdict (`ImageInfo`, or the `ImageProblem` with its VD3xx code) under its
pixel limit. A probe keeps at most `entries` paths (None: no bound) and forgets the oldest first. Validate
keeps every path of a shard: a shard is at most about `MAX_SHARD_BYTES` of JSONL, so the shard bounds the
memory, and the records of one image may lie anywhere in it. An import keeps the last `IMPORT_ENTRIES` paths
of the whole run in each worker: imports stream inputs of any size, and the records naming one image are
near each other. A probe pickled to another process arrives empty, so each worker fills its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from vlmdata.contract import codes
from vlmdata.contract.rules import Issue
from vlmdata.io.images import (
    DEFAULT_MAX_IMAGE_PIXELS,
    ImageInfo,
    ImageProblem,
    confined,
    is_inside,
    probe_image,
)

IMPORT_ENTRIES = 8192  # paths an import's probe remembers


class HeaderProbe:
    """`probe_image(path, max_pixels)` remembered per path: the `ImageInfo`, or the `ImageProblem` it raised."""

    def __init__(self, max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS, entries: int | None = None) -> None:
        if entries is not None and entries < 1:
            raise ValueError(f"a header probe keeps at least one entry, not {entries}")
        self.max_pixels = max_pixels
        self.entries = entries
        self._seen: dict[str, ImageInfo | ImageProblem] = {}

    def info(self, path: str) -> ImageInfo | ImageProblem:
        hit = self._seen.get(path)
        if hit is None:
            try:
                hit = probe_image(path, self.max_pixels)
            except ImageProblem as exc:
                hit = exc
            if self.entries is not None and len(self._seen) >= self.entries:
                del self._seen[next(iter(self._seen))]  # the oldest: memory stays flat on streamed inputs
            self._seen[path] = hit
        return hit

    def __len__(self) -> int:
        return len(self._seen)

    def __getstate__(self) -> tuple[int | None, int | None]:
        return (self.max_pixels, self.entries)  # the settings only: a copy in another process starts empty

    def __setstate__(self, state: tuple[int | None, int | None]) -> None:
        self.max_pixels, self.entries = state
        self._seen = {}


@dataclass
class ImageChecker:
    root: str  # absolute root images must stay inside
    check: bool = True
    allow_outside_root: bool = False
    max_pixels: int | None = None
    _real_root: str = ""
    _inside: dict[str, bool] = field(default_factory=dict)
    _headers: HeaderProbe = field(init=False)

    def __post_init__(self) -> None:
        self._real_root = os.path.realpath(self.root)
        self._headers = HeaderProbe(self.max_pixels)  # every path of the shard

    def record_issues(self, images: list[str], width: int | None, height: int | None) -> list[Issue]:
        """Issues of one record whose `images` are already resolved to absolute paths."""
        out: list[Issue] = []
        sizes: dict[tuple[int, int], int] = {}  # displayed size -> first image index with it
        for i, path in enumerate(images):
            where = f"images[{i}]"
            if not self.allow_outside_root:
                inside = self._inside.get(path)
                if inside is None:
                    inside = confined(path, self._real_root) if self.check else is_inside(path, self.root)
                    self._inside[path] = inside
                if not inside:
                    out.append(
                        Issue(codes.OUTSIDE_ROOT.code, f"resolves outside the root {self.root}", where, path)
                    )
                    continue
            if not self.check:
                continue
            info = self._headers.info(path)
            if isinstance(info, ImageProblem):
                out.append(Issue(info.code, info.message, where, path))
                continue
            shown = info.displayed
            sizes.setdefault(shown, i)
            if width is not None and height is not None and shown != (width, height):
                if (info.width, info.height) == (width, height):
                    out.append(
                        Issue(
                            codes.EXIF_MISMATCH.code,
                            f"EXIF orientation {info.orientation} displays the {info.width}×{info.height} pixels as {shown[0]}×{shown[1]}, record says {width}×{height}",
                            where,
                            path,
                        )
                    )
                else:
                    out.append(
                        Issue(
                            codes.SIZE_MISMATCH.code,
                            f"{where} is {shown[0]}×{shown[1]} as displayed, record says {width}×{height}",
                            "width" if shown[0] != width else "height",
                            path,
                        )
                    )
        if len(sizes) > 1:
            listed = ", ".join(f"{w}×{h}" for w, h in sizes)
            first_other = sorted(sizes.values())[1]
            out.append(
                Issue(
                    codes.IMAGE_SIZES_DIFFER.code,
                    f"images of this record have sizes {listed}",
                    f"images[{first_other}]",
                )
            )
        return out
