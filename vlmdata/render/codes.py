"""Error codes of templates, conversations, summaries and the ms-swift export (VD410–VD429), and of template
files written in YAML (VD620–VD629)."""

from vlmdata.errors import define

UNKNOWN_TEMPLATE = define(
    "VD410",
    "Unknown template name",
    "Use one of `vlmdata prompts list` (e.g. target_dense_bbu, source_dense, summary_rru, chat).",
)
NO_DOMAIN = define(
    "VD411",
    "The template needs a domain the record does not name",
    'Use a domain template (target_dense_bbu, summary_rru, ...) or set `metadata.domain` (e.g. "BBU") on the record.',
)
NO_SUMMARY = define(
    "VD412",
    "Summary template on a record without a summary",
    "Build the summaries first: `vlmdata summarize DATA --out OUT`.",
)
BAD_SUMMARY_JSON = define(
    "VD413",
    "Summary is not a one-line JSON object",
    "Write the summary as one line of JSON (or exactly 无关图片); duplicate keys are not allowed.",
)
BAD_SUMMARY_STRUCTURE = define(
    "VD414",
    "Summary JSON does not follow the 统计 structure",
    'Top key 统计: a list of {"类别": category, attribute: {value: count}}; BBU may add 备注 (list of text), RRU 分组统计 (group → count).',
)
BAD_DESC = define(
    "VD415",
    "Desc cannot be counted for a summary",
    "Write BBU/RRU descs as comma-separated key=value tokens with 类别=<category> first (plain descs without `=` count as a category).",
)
NO_MESSAGES = define(
    "VD416",
    "Chat template on a record without messages",
    "Give the record `messages`, or render it with a dense/summary template.",
)
BAD_MESSAGES = define(
    "VD417",
    "Chat messages are malformed",
    "Each message needs role system|user|assistant and content (text, or a list of {type: text|image} items).",
)
IMAGE_COUNT = define(
    "VD418",
    "Number of images does not match the record's image slots",
    "Pass one image per record image (augmented images keep the count); chat records need one image per <image> tag or image item.",
)
BAD_GEOMETRY = define(
    "VD419",
    "Object cannot be rendered (geometry, desc or image_index)",
    "Objects need a desc string, kind bbox_2d|poly|line, a flat list of finite [x, y, ...] (4 values for a box) and an image_index inside the record's images.",
)
NO_SIZE = define(
    "VD420",
    "Record has objects but no usable width/height",
    "Give the record its image width and height (pixels, EXIF orientation applied).",
)
EXPORT_IMAGE_MISSING = define(
    "VD421",
    "Exported record points at an image that does not exist",
    "Re-run `vlmdata validate` or fix the image path; ms-swift would fail on this record mid-run.",
)
BAD_TARGET = define(
    "VD422",
    "Rendered text is not a valid target of its template",
    "Check the header line and the JSON line against docs/templates.md.",
)
BAD_PIXEL_BOUNDS = define(
    "VD423",
    "Record's own min_pixels/max_pixels cannot be used",
    "Set metadata.min_pixels / metadata.max_pixels to positive integers with min ≤ max, or remove them.",
)

# VD62x — template files (YAML)
TEMPLATE_FILE = define(
    "VD620",
    "Template file invalid",
    "Fix the listed keys; docs/templates.md (User templates) lists every key of a template file.",
)
TEMPLATE_FIELD = define(
    "VD621",
    "Template text uses an unknown field, or a field its key cannot fill",
    "Use only the fields listed for that key ({n_images} and {domain} in prompts, {format} in the user prompts, {domain} in the header); write {{ and }} for literal braces.",
)
TEMPLATE_CONFLICT = define(
    "VD622",
    "Template name taken by a built-in or by another definition",
    "Give the template a name of its own (`vlmdata prompts list` shows the names in use).",
)
TEMPLATE_TEXT = define(
    "VD623",
    "Template text holds an image tag, a grounding placeholder or a special token",
    "Prompts and headers are plain text: images are added by the conversation builder and special tokens by the chat template; remove <image>, <img>…</img>, <bbox>, <ref-object>, <|...|> and the like (docs/contract.md lists the rule).",
)
