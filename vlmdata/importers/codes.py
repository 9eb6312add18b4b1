"""Error codes of `vlmdata import` (VD160–VD179) and the table of skip reasons.

A whole source that cannot be read is an error with a code, raised before anything is written. A single
annotation or record that cannot become contract data is *skipped*: counted under a stable reason name in
`OUT.import.json`, with the first examples and their location. Each reason carries the code that explains it
(contract codes where the contract already has one, e.g. VD205 for a point outside the image) and a kind:
`problem` (the source has a defect; the import exits 1) or `info` (expected, e.g. an image without annotations,
or a skip the user asked for; exit code unaffected).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vlmdata.contract import codes as c
from vlmdata.errors import define

SOURCE_NOT_FOUND = define(
    "VD160",
    "Import source not found or not readable",
    "Check the path; `vlmdata import --help` says what each format takes (a file or a folder).",
)
SOURCE_NOT_JSON = define(
    "VD161",
    "Import source is not valid JSON or YAML",
    "Fix the syntax at the reported line and column; the file must be what the annotation tool wrote.",
)
SOURCE_SHAPE = define(
    "VD162",
    "Import source lacks a required section or has the wrong shape",
    "The reported field must exist with the type the format defines (docs/import.md lists each format).",
)
BAD_DESC_TEMPLATE = define(
    "VD163",
    "--desc-template is invalid (unknown field or bad syntax)",
    "Use `{field}` names the format provides (docs/import.md), e.g. `{category}` or `{supercategory}/{category}`.",
)
UNKNOWN_IMAGE = define(
    "VD164",
    "Annotation refers to an image id that is not in `images`",
    "Add the image entry or drop the annotation; ids must match exactly (same JSON type).",
)
UNKNOWN_CATEGORY = define(
    "VD165",
    "Annotation refers to a category or class id that is not defined",
    "Add the category (COCO `categories`, YOLO `names`, ODVG `--label-map`) or fix the id.",
)
DUPLICATE_IMAGE = define(
    "VD166",
    "Image id or image file listed twice",
    "Give every image entry a unique id; the first entry is kept.",
)
NO_GEOMETRY = define(
    "VD167",
    "Annotation has no usable geometry (no box, polygon or mask, or a mask that holds no region)",
    "Give the annotation a `bbox` or a `segmentation`; an empty mask cannot be imported.",
)
UNSUPPORTED = define(
    "VD168",
    "Annotation kind not supported by the contract (skipped and counted)",
    "Points, circles, videos and tool turns have no contract form; convert them first if they matter.",
)
UNUSED_OBJECT = define(
    "VD169",
    "ms-swift `objects` entry that no placeholder uses (ignored, as ms-swift ignores it)",
    "Nothing to fix unless the entry was meant to be used: add its `<ref-object>`/`<bbox>` to the text.",
    "warning",
)
NO_BOX_ANSWER = define(
    "VD170",
    "Assistant answer holds no Qwen-VL box JSON",
    'The answer must be a JSON list like [{"bbox_2d": [x1, y1, x2, y2], "label": "cat"}] (a ```json fence is fine).',
)
DESC_FIELD_MISSING = define(
    "VD171",
    "A --desc-template field has no value on this annotation",
    "Use fields every annotation has, or fill the missing values in the source.",
)
SKIPPED_BY_OPTION = define(
    "VD172",
    "Annotation skipped because an option asked for it (e.g. --crowd skip)",
    "Nothing to fix; drop the option to import these annotations.",
    "warning",
)
NO_ANNOTATIONS = define(
    "VD173",
    "Image without annotations (no record written)",
    "A contract record needs objects; images without any are counted, not imported.",
    "warning",
)
BAD_LABEL_LINE = define(
    "VD174",
    "YOLO label line is malformed",
    "A line is `class cx cy w h` (detection) or `class x1 y1 x2 y2 x3 y3 ...` (segmentation), all normalised to 0–1.",
)
UNSUPPORTED_DATASET = define(
    "VD176",
    "Dataset kind not supported by this importer",
    "YOLO pose/OBB datasets and other tasks have no contract form; export boxes or polygons instead.",
)
FRAME_ASSUMED = define(
    "VD177",
    "Coordinate frame could not be told from the data; the import assumed one",
    "Pass --frame grid or --frame pixel to state it; the report says what was assumed and why.",
    "warning",
)

Kind = Literal["problem", "info"]


@dataclass(frozen=True)
class Reason:
    name: str
    code: str
    kind: Kind
    meaning: str


_REASONS = [
    Reason("invalid_json", c.INVALID_JSON.code, "problem", "the line or file is not valid JSON"),
    Reason("not_object", c.NOT_OBJECT.code, "problem", "a JSON line or entry is not an object"),
    Reason("missing_field", c.MISSING_FIELD.code, "problem", "a field the format requires is absent"),
    Reason("wrong_type", c.WRONG_TYPE.code, "problem", "a field has the wrong type"),
    Reason("not_finite", c.NOT_FINITE.code, "problem", "a coordinate is NaN, infinite or not a number"),
    Reason("bad_box", c.BOX_INVERTED.code, "problem", "a box is inverted, empty or not 4 numbers"),
    Reason("odd_coordinates", c.ODD_COORDS.code, "problem", "a flat point list has an odd length"),
    Reason("too_few_points", c.POLY_TOO_FEW.code, "problem", "a polygon has < 3 points or a line < 2"),
    Reason("zero_area", c.POLY_ZERO_AREA.code, "problem", "a polygon has zero area"),
    Reason("degenerate_line", c.LINE_TOO_FEW.code, "problem", "a line has fewer than 2 distinct points"),
    Reason("out_of_bounds", c.OUT_OF_BOUNDS.code, "problem", "a point lies > 0.5 px outside the image"),
    Reason("empty_desc", c.BAD_DESC.code, "problem", "the description is empty"),
    Reason("remote_image", c.REMOTE_URL.code, "problem", "the image is a URL (nothing is fetched)"),
    Reason("bad_image_path", c.NUL_IN_PATH.code, "problem", "the image path holds a NUL character"),
    Reason("image_missing", c.IMAGE_MISSING.code, "problem", "the image file does not exist"),
    Reason("outside_root", c.OUTSIDE_ROOT.code, "problem", "the image resolves outside the image root"),
    Reason("image_unreadable", c.IMAGE_UNREADABLE.code, "problem", "the image header cannot be read"),
    Reason("image_truncated", c.IMAGE_TRUNCATED.code, "problem", "the image file is truncated"),
    Reason("size_mismatch", c.SIZE_MISMATCH.code, "problem", "declared size differs from the image header"),
    Reason(
        "exif_rotated", c.EXIF_MISMATCH.code, "problem", "declared size is the stored one, EXIF rotates it"
    ),
    Reason("image_too_large", c.DECOMPRESSION_BOMB.code, "problem", "the image exceeds the pixel limit"),
    Reason("mixed_image_sizes", c.IMAGE_SIZES_DIFFER.code, "problem", "images of one record differ in size"),
    Reason("unsupported_image", c.UNSUPPORTED_FORMAT.code, "problem", "the image format is not supported"),
    Reason(
        "high_bit_depth", c.HIGH_BIT_DEPTH.code, "problem", "a pixel mode that is not 8-bit RGB faithfully"
    ),
    Reason(
        "aspect_ratio", c.ASPECT_RATIO.code, "problem", "the image is more than 200 times wider than high"
    ),
    Reason("unknown_image", UNKNOWN_IMAGE.code, "problem", "the annotation's image id is not listed"),
    Reason("unknown_category", UNKNOWN_CATEGORY.code, "problem", "the category or class id is not defined"),
    Reason("duplicate_image", DUPLICATE_IMAGE.code, "problem", "an image entry repeats an earlier id"),
    Reason("no_geometry", NO_GEOMETRY.code, "problem", "no box, polygon or non-empty mask"),
    Reason("unsupported_shape", UNSUPPORTED.code, "info", "a shape kind the contract has no form for"),
    Reason("unsupported_turn", UNSUPPORTED.code, "problem", "a role or medium the contract has no form for"),
    Reason(
        "unresolved_placeholder",
        c.GROUNDING_PLACEHOLDER.code,
        "problem",
        "a grounding placeholder has no objects entry",
    ),
    Reason("unused_object", UNUSED_OBJECT.code, "info", "an ms-swift objects entry no placeholder refers to"),
    Reason("placeholder_count", c.PLACEHOLDER_COUNT.code, "problem", "image tags and images do not pair up"),
    Reason("model_tokens", c.CONTROL_TOKEN.code, "problem", "model control or grounding tokens in the text"),
    Reason(
        "bad_conversation", c.BAD_MESSAGES.code, "problem", "a conversation shape ms-swift cannot train on"
    ),
    Reason("no_box_answer", NO_BOX_ANSWER.code, "problem", "the answer holds no box JSON"),
    Reason("desc_field_missing", DESC_FIELD_MISSING.code, "problem", "a --desc-template field is absent"),
    Reason("bad_label_line", BAD_LABEL_LINE.code, "problem", "a YOLO label line is malformed"),
    Reason("crowd", SKIPPED_BY_OPTION.code, "info", "a crowd (iscrowd=1) region, skipped by --crowd skip"),
    Reason("no_annotations", NO_ANNOTATIONS.code, "info", "an image without annotations"),
    Reason(
        "no_valid_annotations",
        c.NO_OBJECTS.code,
        "info",
        "every annotation of the image was skipped (see those)",
    ),
    Reason("not_an_annotation_file", SOURCE_SHAPE.code, "info", "a JSON file that is not the format's"),
]
REASONS: dict[str, Reason] = {r.name: r for r in _REASONS}

# contract code of a geometry issue -> skip reason
REASON_OF_CODE = {
    c.BOX_INVERTED.code: "bad_box",
    c.BOX_LENGTH.code: "bad_box",
    c.ODD_COORDS.code: "odd_coordinates",
    c.POLY_TOO_FEW.code: "too_few_points",
    c.POLY_ZERO_AREA.code: "zero_area",
    c.LINE_TOO_FEW.code: "degenerate_line",
    c.OUT_OF_BOUNDS.code: "out_of_bounds",
    c.NOT_FINITE.code: "not_finite",
    c.IMAGE_MISSING.code: "image_missing",
    c.OUTSIDE_ROOT.code: "outside_root",
    c.IMAGE_UNREADABLE.code: "image_unreadable",
    c.IMAGE_TRUNCATED.code: "image_truncated",
    c.SIZE_MISMATCH.code: "size_mismatch",
    c.EXIF_MISMATCH.code: "exif_rotated",
    c.DECOMPRESSION_BOMB.code: "image_too_large",
    c.UNSUPPORTED_FORMAT.code: "unsupported_image",
    c.REMOTE_URL.code: "remote_image",
    c.NUL_IN_PATH.code: "bad_image_path",
    c.OUT_OF_RANGE.code: "missing_field",
    c.HIGH_BIT_DEPTH.code: "high_bit_depth",
    c.ASPECT_RATIO.code: "aspect_ratio",
    c.CONTROL_TOKEN.code: "model_tokens",
    c.GROUNDING_PLACEHOLDER.code: "model_tokens",
    c.BAD_MESSAGES.code: "bad_conversation",
    c.PLACEHOLDER_COUNT.code: "placeholder_count",
}
