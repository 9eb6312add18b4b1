"""Error codes of the ms-swift glue shared by the built-in trainer plugins (VD730–VD739).

The rules a run checks before its first step (backend installed, run folder, resume) are defined with the
preflight in `vlmdata.train.codes`, so `vlmdata train --dry-run` refuses with the same codes; they are
re-exported here for the plugins.
"""

from vlmdata.errors import define
from vlmdata.train.codes import (  # noqa: F401 - re-exported for the plugins
    BACKEND_MISSING,
    DEEPSPEED_MISSING,
    REPORTER_MISSING,
    RESUME_DATA_CHANGED,
    RESUME_NOT_FOUND,
    RUN_DIR_IN_USE,
)

NO_TARGET_MODULES = define(
    "VD733",
    "No module matches the LoRA targets",
    "Check `tuner.target_modules` / `tuner.target_regex` against the model's module names and the freeze flags "
    "(with every part frozen, `all-linear` selects nothing).",
)
TRAINING_FAILED = define(
    "VD736",
    "The backend failed while training",
    "The message carries the backend's error; set VLMDATA_DEBUG=1 for the full traceback.",
)
BEST_DISAGREE = define(
    "VD737",
    "Ranks evaluated different values of the best-checkpoint metric",
    "Every rank takes rank 0's decision; a metric that is not reduced across ranks is the cause (report it).",
    severity="warning",
)
