"""Per-record image checks (header reads only, cached per path) and path confinement."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from vlmdata.contract import codes
from vlmdata.contract.rules import Issue
from vlmdata.io.images import ImageInfo, ImageProblem, confined, is_inside, probe_image


@dataclass
class ImageChecker:
    root: str  # absolute root images must stay inside
    check: bool = True
    allow_outside_root: bool = False
    max_pixels: int | None = None
    _real_root: str = ""
    _cache: dict[str, ImageInfo | ImageProblem] = field(default_factory=dict)
    _inside: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._real_root = os.path.realpath(self.root)

    def _probe(self, path: str) -> ImageInfo | ImageProblem:
        hit = self._cache.get(path)
        if hit is None:
            try:
                hit = probe_image(path, self.max_pixels)
            except ImageProblem as exc:
                hit = exc
            self._cache[path] = hit
        return hit

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
            info = self._probe(path)
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
