"""Error codes of evaluation inputs (VD440–VD449)."""

from vlmdata.errors import define

PRED_LINE = define(
    "VD440",
    "Prediction line is not a JSON object with `id` and `completion`",
    'Write one JSON object per line: {"id": ..., "completion": ...} (as `vlmdata infer` does).',
)
PRED_UNKNOWN_ID = define(
    "VD441",
    "Prediction id not found in the ground-truth dataset",
    "Evaluate predictions against the dataset they were made from.",
)
PRED_DUPLICATE_ID = define("VD442", "Several predictions for one id", "Keep one prediction per record id.")
