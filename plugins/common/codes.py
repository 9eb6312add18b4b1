"""Error codes of the ms-swift glue shared by the built-in trainer plugins (VD730–VD739)."""

from vlmdata.errors import define

BACKEND_MISSING = define(
    "VD730",
    "The training backend is not installed",
    "Install the training extra: `pip install 'vlmdata[train]'` (torch, ms-swift and their pinned versions).",
)
RESUME_NOT_FOUND = define(
    "VD731",
    "The checkpoint to resume from is not a training checkpoint",
    "Point `training.resume_from_checkpoint` at a `checkpoint-N` folder of a run (it holds trainer_state.json).",
)
RESUME_DATA_CHANGED = define(
    "VD732",
    "The resumed run would read a different data stream",
    "A resume continues the same stream: use the same datasets, fusion config and seed as the interrupted run, "
    "or start a new run (new output_dir) instead of resuming.",
)
NO_TARGET_MODULES = define(
    "VD733",
    "No module matches the LoRA targets",
    "Check `tuner.target_modules` / `tuner.target_regex` against the model's module names and the freeze flags "
    "(with every part frozen, `all-linear` selects nothing).",
)
DEEPSPEED_MISSING = define(
    "VD734",
    "DeepSpeed is configured but not installed",
    "`pip install deepspeed` on the training machine, or remove the `deepspeed` key.",
)
RUN_DIR_IN_USE = define(
    "VD735",
    "The run folder already holds another run",
    "Pick a new `training.output_dir`, delete the old folder, or set `training.resume_from_checkpoint` to continue it.",
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
