"""Error codes of the shared training data layer (VD550–VD559)."""

from vlmdata.errors import define, retire

OVER_LENGTH = define(
    "VD550",
    "A training sample reaches global_max_length",
    "Samples are never truncated or dropped: raise `global_max_length`, lower `template.max_pixels`, or remove "
    "the record (run `vlmdata audit --write-lengths` to list every such record before training).",
)
AUDITED_OVER_LENGTH = define(
    "VD551",
    "The audited lengths list records at or over global_max_length",
    "Training refuses to start: raise `global_max_length` or remove the listed records (see `vlmdata audit`).",
)
NO_TRAIN_DATA = define(
    "VD552",
    "No training data",
    "Set `data.train` (Arrow datasets from `vlmdata validate`) or `data.fusion` (a fusion config) and make sure "
    "they hold records.",
)
IMAGE_UNREADABLE = define(
    "VD553",
    "An image of a training record could not be read",
    "Re-run `vlmdata validate` with image checks on this dataset; the file moved, changed or is corrupt.",
)
SAMPLE_FAILED = define(
    "VD554",
    "A training record could not be turned into a sample",
    "The message names the record and the failing step (augmentation, conversation or encode); fix the record "
    "or the template it uses.",
)
retire(
    "VD555",
    "Augmentation is configured but the augmentation module is unavailable",
    "the augmentation module always ships with vlmdata; nothing guards its import any more.",
)
BAD_LENGTHS = define(
    "VD556",
    "The dataset's `length` column is incomplete",
    "Re-run `vlmdata audit --write-lengths` on the dataset so every record has its audited length.",
)
