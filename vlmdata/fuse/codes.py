"""Error codes of fusion: input datasets (VD520–VD529) and the fusion config (VD610–VD619)."""

from vlmdata.errors import define

# VD52x — fusion inputs
INPUT_MISSING = define(
    "VD520",
    "Fusion input dataset not found or not a vlmdata Arrow dataset",
    "Point `data`/`val` at the folder written by `vlmdata validate --out` (its `data/` subfolder) or at a JSONL file.",
)
EMPTY_POOL = define(
    "VD521",
    "Fusion entry has a non-zero quota but its dataset holds no records",
    "Fill the dataset, or set the entry's `ratio: 0` / remove the entry.",
)
JSONL_INVALID = define(
    "VD522",
    "JSONL fusion input failed validation (or no validator is available)",
    "Run `vlmdata validate FILE --out DIR`, fix the rejected records, and point `data` at DIR/data.",
)
INPUT_SCHEMA = define(
    "VD523",
    "Fusion input does not have the normalised vlmdata schema",
    "Re-create the dataset with `vlmdata validate` so it has the columns of vlmdata/io/features.py.",
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
