"""Image references of an import: resolution, root confinement and sizes from headers (validate's probe).

Every importer turns the image reference it reads (COCO `file_name`, LabelMe `imagePath`, a JSONL `images`
entry, ...) into the record's path and size here, so the rules are the ones `vlmdata validate` applies:

- Remote references (`http://…`, `s3://…`) are refused; nothing is fetched.
- A relative reference resolves against the format's base folder (the image root, or the LabelMe JSON's own
  folder); the result must stay inside the image root after resolving `..` and symlinks (lexically only with
  `--no-image-probe`). The record stores the path relative to the image root, so
  `vlmdata validate OUT.jsonl --image-root ROOT` finds every image.
- Sizes are read from the header through validate's one header cache (`vlmdata.validate.imagecheck`'s
  `HeaderProbe`: no pixel decoding; the last 8,192 paths are remembered, so a path named by many nearby lines
  is read once while memory stays bounded) and are the *displayed* size, EXIF orientation applied, which is
  the frame every annotation tool shows. A size the source declares (COCO `width`/`height`, LabelMe
  `imageWidth`/`imageHeight`, ODVG `width`/`height`) must equal it: when it equals the stored pixels of an
  EXIF-rotated image the reason is `exif_rotated`, otherwise `size_mismatch`. With `--no-image-probe` a
  declared size is trusted without reading the file; sources that declare none (YOLO, ms-swift, Qwen JSONL)
  are probed anyway, because their coordinates need the size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from vlmdata.contract.rules import aspect_issue, image_path_issue
from vlmdata.importers.codes import REASON_OF_CODE
from vlmdata.io.images import (
    DEFAULT_MAX_IMAGE_PIXELS,
    ImageProblem,
    confined,
    is_inside,
    resolve_image_path,
)
from vlmdata.validate.imagecheck import IMPORT_ENTRIES, HeaderProbe


@dataclass(frozen=True)
class ImageRef:
    rel: str  # the path written into the record: relative to the image root, `/`-separated
    path: str  # absolute, lexically normalised
    width: int  # displayed size
    height: int
    orientation: int = 1


@dataclass(frozen=True)
class ImageSkip:
    reason: str
    code: str
    message: str
    value: str


@dataclass
class Sizer:
    root: str  # absolute image root
    probe: bool = True
    max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS
    _real_root: str = ""
    _headers: HeaderProbe = field(init=False)

    def __post_init__(self) -> None:
        self.root = os.path.normpath(os.path.abspath(self.root))
        self._real_root = os.path.realpath(self.root)
        self._headers = HeaderProbe(self.max_pixels, IMPORT_ENTRIES)

    def resolve(
        self, ref: str, base: str | None = None, declared: tuple[int, int] | None = None
    ) -> ImageRef | ImageSkip:
        """The record path and displayed size of `ref` (relative to `base`, default the root), or why not."""
        if not isinstance(ref, str):
            return ImageSkip("wrong_type", "VD111", "the image reference is not a string", repr(ref))
        issue = image_path_issue(ref, "image")
        if issue is not None:  # remote, empty, NUL: the contract's own path rules
            return ImageSkip(REASON_OF_CODE[issue.code], issue.code, issue.message, repr(ref))
        path = resolve_image_path(ref, base or self.root)
        inside = confined(path, self._real_root) if self.probe else is_inside(path, self.root)
        if not inside:
            return ImageSkip(
                "outside_root",
                "VD301",
                f"resolves outside the image root {self.root} (pass --image-root to a folder holding it)",
                ref,
            )
        prefix = self.root if self.root.endswith(os.sep) else self.root + os.sep
        rel = path[len(prefix) :] if path.startswith(prefix) else os.path.relpath(path, self.root)
        rel = rel.replace(os.sep, "/")
        if declared is not None and not self.probe:
            return self._shaped(ImageRef(rel, path, declared[0], declared[1]), ref)
        info = self._headers.info(path)
        if isinstance(info, ImageProblem):
            return ImageSkip(REASON_OF_CODE.get(info.code, "image_unreadable"), info.code, info.message, ref)
        width, height = info.displayed
        if declared is not None and declared != (width, height):
            if declared == (info.width, info.height):
                return ImageSkip(
                    "exif_rotated",
                    "VD305",
                    f"declared {declared[0]}×{declared[1]} is the stored size; EXIF orientation "
                    f"{info.orientation} displays it as {width}×{height}, so the annotations' frame is unclear",
                    ref,
                )
            return ImageSkip(
                "size_mismatch",
                "VD304",
                f"declared {declared[0]}×{declared[1]}, the image header says {width}×{height}",
                ref,
            )
        return self._shaped(ImageRef(rel, path, width, height, info.orientation), ref)

    @staticmethod
    def _shaped(image: ImageRef, ref: str) -> ImageRef | ImageSkip:
        issue = aspect_issue(image.width, image.height)
        if issue is not None:
            return ImageSkip(REASON_OF_CODE[issue.code], issue.code, issue.message, ref)
        return image
