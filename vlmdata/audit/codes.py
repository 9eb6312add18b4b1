"""Error codes of the length audit (VD43x per record, VD53x per dataset/run)."""

from __future__ import annotations

from vlmdata.contract.codes import ASPECT_RATIO, BAD_PIXEL_OVERRIDE, ZERO_SIZE_IMAGE
from vlmdata.errors import define

__all__ = [
    "ASPECT_RATIO",
    "BAD_PIXEL_OVERRIDE",
    "NO_IMAGE_SIZE",
    "NO_TOKENIZER",
    "OVER_LENGTH",
    "UNSIZABLE_CONVERSATION",
    "UNSIZED_RECORDS",
    "ZERO_SIZE_IMAGE",
]

UNSIZABLE_CONVERSATION = define(
    "VD430",
    "The audit cannot size this conversation exactly",
    "Validate the source data: `vlmdata validate` refuses every conversation shape ms-swift cannot encode as "
    "written (tool turns, a system turn after the first, no final assistant turn, control tokens in the text).",
)
NO_IMAGE_SIZE = define(
    "VD432",
    "Record has images but no width/height",
    "Run `vlmdata validate` on the source JSONL: it stores every record's displayed image size.",
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
