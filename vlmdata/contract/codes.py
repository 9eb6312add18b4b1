"""Error codes of the record contract: lines, fields, geometry, images, conversation, dataset."""

from vlmdata.errors import define

# VD1xx — lines and fields
INVALID_UTF8 = define(
    "VD100", "Line is not valid UTF-8", "Re-encode the file as UTF-8 (e.g. `iconv -f GBK -t UTF-8`)."
)
INVALID_JSON = define(
    "VD101", "Line is not valid JSON", "Fix the JSON syntax on that line; one JSON object per line."
)
NOT_OBJECT = define(
    "VD102",
    "Line is JSON but not an object",
    "Each line must be one JSON object `{...}`, not a list or scalar.",
)
REPEATED_KEY = define(
    "VD109",
    "Key repeated in one JSON object",
    "Keep one of the repeated keys: JSON readers keep only the last value and drop the others silently.",
)
LINE_TOO_LONG = define(
    "VD103",
    "Line exceeds the maximum line size",
    "Split the record or raise `--max-line-bytes`; giant lines are usually concatenated records.",
)
BOM = define(
    "VD104",
    "File starts with a UTF-8 byte-order mark (stripped)",
    "Save the file as UTF-8 without BOM.",
    "warning",
)
CRLF = define(
    "VD105",
    "Windows line endings (CRLF) found (accepted)",
    "Convert with `dos2unix` to silence this warning.",
    "warning",
)
EMPTY_FILE = define(
    "VD106",
    "Input file holds no records",
    "Check that the right file was passed; it is empty or blank.",
    "warning",
)
MISSING_FIELD = define(
    "VD110",
    "Required field missing",
    "Add the field; see docs/contract.schema.json for what each record needs.",
)
WRONG_TYPE = define(
    "VD111",
    "Field has the wrong type",
    "Use the type the contract gives for that field (see docs/contract.schema.json).",
)
UNKNOWN_KEY = define(
    "VD112", "Unknown key", "Fix the typo, or pass `--allow-extra` to move unknown keys into `metadata`."
)
NOT_FINITE = define("VD113", "Number is NaN or infinite", "Coordinates and sizes must be finite numbers.")
BOOL_AS_NUMBER = define(
    "VD114",
    "Boolean where a number is expected",
    "Write the number itself; `true`/`false` are not coordinates.",
)
GEOMETRY_KEYS = define(
    "VD115",
    "Object must have exactly one geometry key (bbox_2d, poly or line)",
    "Keep one of bbox_2d / poly / line per object; split multi-geometry objects.",
)
BAD_DESC = define(
    "VD116",
    "Object desc is empty or contains a newline, carriage return or tab",
    "Write a non-empty one-line desc; replace control characters with spaces.",
)
OUT_OF_RANGE = define(
    "VD117",
    "Value out of its allowed range",
    "Sizes must be > 0, indices ≥ 0, lists non-empty where required.",
)
REMOTE_URL = define(
    "VD118", "Remote image URL (no network fetches)", "Download the image and reference the local path."
)
NO_OBJECTS = define(
    "VD119",
    "Record has images but neither objects nor a summary",
    "Add `objects` (may be empty only when `summary` is present).",
)
IMAGE_INDEX = define(
    "VD120", "Object image_index points past the record's images", "Use an index in [0, len(images))."
)
NUL_IN_PATH = define(
    "VD122",
    "Image path holds a NUL character",
    "No file system allows NUL in a path; the JSON holds an escaped `\\u0000` by mistake: fix the path.",
)
EXTRA_MOVED = define(
    "VD121",
    "Unknown keys moved into metadata (--allow-extra)",
    "Rename the keys to contract fields or keep them in `metadata`.",
    "warning",
)

# VD2xx — geometry
BOX_INVERTED = define(
    "VD200",
    "Box is inverted or has zero width/height",
    "Write boxes as [x1, y1, x2, y2] with x1 < x2 and y1 < y2.",
)
ODD_COORDS = define(
    "VD201",
    "Flat point list has an odd number of values",
    "poly/line are flat [x1, y1, x2, y2, ...]: every point needs x and y.",
)
POLY_TOO_FEW = define(
    "VD202",
    "Polygon has fewer than 3 points",
    "A polygon needs at least 3 points; use bbox_2d or line for smaller shapes.",
)
POLY_ZERO_AREA = define(
    "VD203", "Polygon has zero area", "Check for collinear or repeated points; drop degenerate polygons."
)
LINE_TOO_FEW = define(
    "VD204", "Line has fewer than 2 distinct points", "A line needs at least 2 distinct points."
)
OUT_OF_BOUNDS = define(
    "VD205",
    "Coordinate outside the image by more than 0.5 px",
    "Coordinates are pixels in [0, W] × [0, H]; clip or fix the annotation.",
)
NEAR_BOUNDS = define(
    "VD206",
    "Coordinate outside the image by at most 0.5 px (accepted)",
    "Clip to [0, W] × [0, H] to silence this warning.",
    "warning",
)
POINTS_MISMATCH = define(
    "VD207",
    "poly_points / line_points does not match the number of points",
    "Set *_points to len(coords) / 2, or drop it.",
)
LOOKS_NORMALISED = define(
    "VD208",
    "Coordinates look normalised (0–1 or 0–1000), not pixels",
    "Convert to pixels of the stored image: x_px = x / 1000 * W (or x * W for 0–1).",
    "warning",
)
BOX_LENGTH = define(
    "VD209",
    "bbox_2d does not hold exactly 4 numbers",
    "Write boxes as [x1, y1, x2, y2]; use poly for more points.",
)

# VD3xx — images
IMAGE_MISSING = define(
    "VD300",
    "Image file not found",
    "Fix the path (relative paths resolve against the JSONL's folder or --image-root).",
)
OUTSIDE_ROOT = define(
    "VD301",
    "Image path escapes the allowed root (.. or symlink)",
    "Move the image under the dataset root, set --image-root, or pass --allow-outside-root.",
)
IMAGE_UNREADABLE = define(
    "VD302",
    "Image header cannot be read (corrupt or not an image)",
    "Re-export the image; the file is not a readable image.",
)
IMAGE_TRUNCATED = define(
    "VD303", "Image file is truncated", "Re-copy or re-export the image; its end marker is missing."
)
SIZE_MISMATCH = define(
    "VD304",
    "Displayed image size differs from width/height",
    "Set width/height to the size after EXIF orientation (as shown by an image viewer).",
)
EXIF_MISMATCH = define(
    "VD305",
    "width/height match the stored pixels but EXIF orientation rotates the displayed image",
    "Use the displayed (rotated) size, or strip the EXIF orientation tag (`exiftool -Orientation=`) after rotating the pixels.",
)
DECOMPRESSION_BOMB = define(
    "VD306",
    "Image pixel count exceeds the decompression-bomb limit",
    "Downscale the image or raise --max-image-pixels if it is genuine.",
)
IMAGE_SIZES_DIFFER = define(
    "VD307",
    "Images of one record have different sizes",
    "All images of a record must share one size; split the record or resize.",
)
UNSUPPORTED_FORMAT = define("VD308", "Unsupported image format", "Convert to JPEG, PNG, WebP, BMP or TIFF.")
HIGH_BIT_DEPTH = define(
    "VD309",
    "Image pixel mode vlmdata does not turn into 8-bit RGB faithfully (16-bit grayscale, 12-bit JPEG, 32-bit "
    "integer or float, LAB/HSV)",
    "Convert it to an 8-bit RGB or grayscale image with the scaling your data needs (e.g. value / 257 for "
    "full-range 16-bit, or a stretch of the range used); PIL and ms-swift would clip 16-bit values to white.",
)

# VD4xx — conversation
PLACEHOLDER_COUNT = define(
    "VD400",
    "Number of image items/<image> tags differs from the number of images",
    "Put exactly one image item (or <image> tag) per entry of `images`.",
)
SUMMARY_JSON = define(
    "VD401",
    "summary claims to be JSON but does not parse",
    "Write the summary as one-line JSON (or the literal 无关图片).",
)
BAD_MESSAGES = define(
    "VD402",
    "messages malformed (role, content or order)",
    "Use roles system/user/assistant and string or typed-item content; a system turn only first, images only "
    "in user turns, and end with an assistant turn.",
)
CONTROL_TOKEN = define(
    "VD403",
    "Text holds a model control token or a media tag the chat template would act on",
    "Remove tokens such as <|im_start|>, <|im_end|>, <|vision_start|>, <|image_pad|> from the text (and "
    "<image> from descs and summaries, <img>…</img> from chats without images): the template writes them itself.",
)
GROUNDING_PLACEHOLDER = define(
    "VD404",
    "Text still holds a grounding placeholder",
    "Replace <bbox>, <ref-object>, <|box_start|>…<|box_end|>, <|object_ref_start|>…, <|quad_start|>… with the "
    "real text and coordinates (or import the data with `objects`): the model would learn the placeholder.",
)
ASPECT_RATIO = define(
    "VD431",
    "Image aspect ratio beyond what the Qwen-VL resize accepts",
    "The longer side may be at most 200 times the shorter (qwen_vl_utils raises otherwise): crop or pad the image.",
)
BAD_PIXEL_OVERRIDE = define(
    "VD433",
    "Per-record min_pixels/max_pixels override is not usable",
    "metadata.min_pixels and metadata.max_pixels must be positive integers with min_pixels <= max_pixels.",
)
ZERO_SIZE_IMAGE = define(
    "VD434",
    "Image resizes to 0 px under the pixel budget",
    "Raise template.max_pixels (or the record's metadata.max_pixels) to the value the message gives, or pad the "
    "image to a less extreme aspect ratio.",
)

# VD5xx — dataset
DUPLICATE_ID = define(
    "VD500", "Duplicate record id", "Give every record a unique id (or drop `id` to derive one from content)."
)
DUPLICATE_IMAGE = define(
    "VD501",
    "Same image path used by several records",
    "Usually a duplicated record; merge them if so.",
    "warning",
)
SPLIT_OVERLAP = define(
    "VD502",
    "Image appears in both train and val",
    "Move the image's records into one split to avoid leakage.",
)
