"""Error codes of fusion: inputs (VD521–VD529; opening a dataset is VD520/VD522/VD523 of
`vlmdata.io.codes`) and the fusion config (VD610–VD619)."""

from vlmdata.errors import define

# VD52x — fusion inputs
EMPTY_POOL = define(
    "VD521",
    "Fusion entry has a non-zero quota but its dataset holds no records",
    "Fill the dataset, or set the entry's `ratio: 0` / remove the entry.",
)
SIZES_MISMATCH = define(
    "VD524",
    "Dataset sizes given to the plan do not match the config's entries",
    "Pass one non-negative size per target and source name of the config.",
)
BAD_METADATA = define(
    "VD525",
    "Record metadata is not a JSON object",
    "Store `metadata` as a JSON object string (`{}` when empty).",
)
INPUT_CHANGED = define(
    "VD526",
    "Fusion input changed since the manifest was written",
    "Re-run `vlmdata fuse` (the stream is only reproducible on the same inputs) or restore the original dataset.",
)

# VD61x — fusion config
FUSION_CONFIG = define(
    "VD610",
    "Fusion config invalid",
    "See the listed keys; docs/fusion.md lists every key of a fusion config.",
)
DUPLICATE_ENTRY = define(
    "VD611",
    "Entry name used by both a target and a source",
    "Names identify the records' `_source`; give every target and source a distinct name.",
)
NO_TARGETS = define(
    "VD612",
    "Fusion config has no targets",
    "List at least one dataset under `targets` (sources are counted relative to the targets).",
)
DATA_PATH_MISSING = define(
    "VD613",
    "Dataset path in the fusion config does not exist",
    "Paths are relative to the YAML file that sets them; fix the path or create the dataset.",
)
UNKNOWN_TEMPLATE = define(
    "VD614",
    "Unknown template name",
    "Use a built-in template (`vlmdata prompts list`) or register the template before fusing.",
)
