"""Error codes of the length audit (VD43x per record, VD53x per dataset/run)."""

from __future__ import annotations

from vlmdata.errors import define

UNSIZABLE_CONVERSATION = define(
    "VD430",
    "The audit cannot size this conversation exactly",
    "Use plain alternating user/assistant turns (an optional system turn first); tool turns, consecutive turns of "
    "one role and reasoning blocks in earlier assistant turns are reshaped by ms-swift and are not audited.",
)
ASPECT_RATIO = define(
    "VD431",
    "Image aspect ratio beyond what the Qwen-VL resize accepts",
    "The longer side may be at most 200 times the shorter (qwen_vl_utils raises otherwise): crop or pad the image.",
)
NO_IMAGE_SIZE = define(
    "VD432",
    "Record has images but no width/height",
    "Run `vlmdata validate` on the source JSONL: it stores every record's displayed image size.",
)
BAD_PIXEL_OVERRIDE = define(
    "VD433",
    "Per-record min_pixels/max_pixels override is not usable",
    "metadata.min_pixels and metadata.max_pixels must be positive integers with min_pixels <= max_pixels.",
)
OVER_LENGTH = define(
    "VD530",
    "Records at or over global_max_length",
    "Raise global_max_length (the report gives the smallest value that fits every record), lower "
    "template.max_pixels, or remove the listed records.",
)
NO_TOKENIZER = define(
    "VD531",
    "No tokenizer found for the run's model",
    "model.path must be a local model folder with tokenizer.json (or a tokenizer transformers can load).",
)
UNSIZED_RECORDS = define(
    "VD532",
    "Some records could not be sized; lengths not written",
    "Fix or remove the records listed in the report, then run `vlmdata audit --write-lengths` again.",
)
