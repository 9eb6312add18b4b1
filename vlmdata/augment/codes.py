"""Error codes of augmentation: runtime problems (VD220+) and config problems (VD650–VD659)."""

from vlmdata.errors import define

IMAGE_SIZE_MISMATCH = define(
    "VD220",
    "Image size differs from the record's width/height (or between its images)",
    "Pass the images as displayed (EXIF orientation applied); every image of a record must have the record's size.",
)
BAD_OBJECT = define(
    "VD221",
    "Object geometry cannot be augmented (wrong point count, NaN or unknown kind)",
    "Validate the dataset first (`vlmdata validate`); augmentation expects contract-clean objects.",
)
IMAGE_UNREADABLE = define(
    "VD222",
    "Image of a record cannot be read for augmentation",
    "Check that the dataset's image paths still exist and are readable.",
)

UNKNOWN_OP = define(
    "VD650",
    "Unknown augmentation op",
    "Use one of the op names listed in the message (docs/augment.md has the table).",
)
BAD_OP_PARAMS = define(
    "VD651",
    "Invalid or unknown parameter of an augmentation op",
    "Use only the parameters listed for that op, with the types and ranges shown.",
)
BAD_AUG_CONFIG = define(
    "VD652",
    "Invalid augmentation setting",
    "Fix the key named in the message; see docs/augment.md for the allowed values.",
)
BAD_CURRICULUM = define(
    "VD653",
    "Invalid curriculum",
    "Phases need exactly one of until_step (int ≥ 1) or until_fraction in (0, 1], increasing, and may only override ops of the config.",
)
CURRICULUM_NEEDS_TOTAL = define(
    "VD654",
    "Curriculum uses until_fraction but the total number of steps is unknown",
    "Set `curriculum.total_steps`, or let the trainer pass its total step count, or use until_step.",
)
AUG_CONFIG_FILE = define(
    "VD655",
    "Augmentation config file cannot be read",
    "Check the path and the YAML syntax; the file must hold a mapping (optionally under `augmentation:`).",
)
