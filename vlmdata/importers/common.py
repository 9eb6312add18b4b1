"""What every importer shares: the options, the per-run context, geometry checks and the record encoder.

Geometry goes through the contract's own rules (`vlmdata.contract.rules.object_issues` / `bounds_issues`), so
an object the importer writes is one `vlmdata validate` accepts: the skip reason of a rejected geometry is the
contract code's (`REASON_OF_CODE`). With `--clip`, geometry that leaves the image by more than the contract's
0.5 px tolerance is clipped to the image with the augmentation kernels (`vlmdata.geometry.kernels`) instead of
being skipped; a polyline can come back as several pieces, and a shape with nothing left inside is skipped as
`out_of_bounds`. Points outside by at most 0.5 px are kept as written (validate warns, VD206).

Records are encoded with msgspec in contract field order; importers may put `msgspec.Raw` values (JSON text
copied from the source) anywhere, which the encoder writes verbatim.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np

from vlmdata.contract.rules import bounds_issues, object_issues
from vlmdata.importers.codes import REASON_OF_CODE
from vlmdata.importers.desc import DEFAULT_TEMPLATE, DescTemplate
from vlmdata.importers.images import Sizer
from vlmdata.io.images import DEFAULT_MAX_IMAGE_PIXELS

Frame = Literal["auto", "grid", "pixel"]
_ENCODER = msgspec.json.Encoder()


@dataclass
class ImportOptions:
    image_root: str | None = None
    desc_template: str = DEFAULT_TEMPLATE
    crowd: Literal["polygon", "skip"] = "polygon"
    probe: bool = True
    clip: bool = False
    boxes_only: bool = False
    label_map: str | None = None
    split: str = "train"
    frame: Frame = "auto"
    max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS
    shard_size: int = 2048  # images (or lines, or files) per unit of work

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("shard_size")
        return out


@dataclass
class Context:
    """Read-only settings of one run plus the image cache; every shard function takes one."""

    format: str
    source: str  # as given on the command line
    options: ImportOptions
    sizer: Sizer
    desc: DescTemplate
    extra: dict[str, Any] = field(default_factory=dict)  # format-wide facts found while planning

    @property
    def root(self) -> str:
        return self.sizer.root


class BadGeometry(Exception):
    def __init__(self, reason: str, code: str, message: str, value: Any = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.code = code
        self.message = message
        self.value = value


def numbers(value: Any, what: str) -> list[float]:
    """A flat list of finite JSON numbers (ints or floats, never booleans), or `BadGeometry`."""
    if not isinstance(value, list):
        raise BadGeometry("wrong_type", "VD111", f"{what} must be a list of numbers", value)
    for v in value:
        if type(v) is not float and type(v) is not int:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                continue  # numpy scalars and int subclasses
            raise BadGeometry("wrong_type", "VD111", f"{what} must hold only numbers", value)
        if type(v) is float and not math.isfinite(v):
            raise BadGeometry("not_finite", "VD113", f"{what} holds NaN or infinity", value)
    return value


def pieces(kind: str, flat: list[float], width: int, height: int, clip: bool) -> list[list[float]]:
    """The geometry as one or more contract-valid flat point lists, or `BadGeometry` with the reason."""
    issues = object_issues({kind: flat})
    if issues:
        issue = issues[0]
        raise BadGeometry(REASON_OF_CODE.get(issue.code, "bad_box"), issue.code, issue.message, flat)
    errors, _ = bounds_issues(flat, width, height, kind)
    if not errors:
        return [flat]
    if not clip:
        raise BadGeometry("out_of_bounds", errors[0].code, errors[0].message, flat)
    from vlmdata.geometry.kernels import KERNELS

    pts = np.asarray(flat, np.float64).reshape(-1, 2)
    kept = KERNELS["clip"][kind](pts, (0.0, 0.0, float(width), float(height)))
    out = []
    for piece in kept:
        candidate = [float(v) for v in np.asarray(piece).reshape(-1)]
        if not object_issues({kind: candidate}):
            out.append(candidate)
    if not out:
        raise BadGeometry("out_of_bounds", errors[0].code, "nothing of the shape lies inside the image", flat)
    return out


def encode(record: dict[str, Any]) -> bytes:
    """One JSONL line (with its newline) for a record dict already in contract field order."""
    return _ENCODER.encode(record) + b"\n"


def source_of(path: str | Path) -> str:
    return str(path)


def read_source(path: str | Path) -> bytes:
    from vlmdata.errors import VlmdataError
    from vlmdata.importers.codes import SOURCE_NOT_FOUND

    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise VlmdataError(
            SOURCE_NOT_FOUND, f"cannot read {path}: {exc.strerror or exc}", exit_code=2
        ) from None


def json_error(exc: Exception, data: bytes, path: str | Path, what: str = "JSON") -> Exception:
    """A VD161 (syntax, with line:column) or VD162 (shape, with the JSON path) error for a failed decode."""
    import re

    from vlmdata.errors import Location, VlmdataError
    from vlmdata.importers.codes import SOURCE_NOT_JSON, SOURCE_SHAPE

    text = str(exc)
    if isinstance(exc, msgspec.ValidationError):
        at = re.search(r"- at `([^`]*)`", text)
        return VlmdataError(
            SOURCE_SHAPE,
            text.split(" - at ")[0],
            where=Location(file=str(path), field=at.group(1) if at else None),
        )
    pos = re.search(r"\(byte (\d+)\)", text)
    if pos:
        offset = int(pos.group(1))
        line = data.count(b"\n", 0, offset) + 1
        col = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
        return VlmdataError(
            SOURCE_NOT_JSON,
            f"{what} is malformed at column {col}: {text.split(' (byte')[0]}",
            where=Location(file=str(path), line=line),
        )
    return VlmdataError(SOURCE_NOT_JSON, f"{what} does not decode: {text}", where=Location(file=str(path)))
