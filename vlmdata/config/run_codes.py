"""Error codes of the run configuration (VD640–VD649, VD660–VD669)."""

from vlmdata.errors import define

REMOVED_KNOB = define(
    "VD640",
    "Config knob was removed",
    "Delete the key; the message names what replaced it (e.g. `global_max_length` for every length knob).",
)
BACKEND_KEY = define(
    "VD641",
    "Key is ms-swift command-line vocabulary, not a vlmdata config key",
    "Use the vlmdata key named in the message; vlmdata builds the backend arguments itself.",
)
BATCH_SIZE = define(
    "VD642",
    "Batch size settings conflict",
    "Give `training.effective_batch_size` or `training.gradient_accumulation_steps`, not both; the effective "
    "batch must be a multiple of per-device batch × world size.",
)
DATA_SOURCES = define(
    "VD643",
    "Data section names no usable training data",
    "Give `data.train` (and optionally `data.val`) as Arrow dataset folders, or `data.fusion` as a fusion config, not both.",
)
PATH_MISSING = define(
    "VD644",
    "Path named in the config does not exist",
    "Paths are relative to the config file that sets them; fix the path or create the input first.",
)
PLUGIN_SECTION = define(
    "VD645",
    "Section does not fit the selected trainer plugin",
    "Remove the section or pick the plugin it belongs to (`plugin:` or `--plugin`).",
)
NOTHING_TRAINABLE = define(
    "VD646",
    "Tuner settings leave nothing to train",
    "Unfreeze at least one of LLM / ViT / aligner, or name modules in `target_modules`, `target_regex` or `modules_to_save`.",
)
SCHEDULER = define(
    "VD647",
    "Learning-rate schedule settings conflict",
    "A minimum LR floor (`min_lr` or `min_lr_ratio`, one of them) needs `lr_scheduler_type: cosine` or `cosine_with_min_lr`.",
)
DISTRIBUTED = define(
    "VD648",
    "Distributed launch settings invalid",
    "`node_rank` must be below `nnodes`; multi-node runs need `master_addr` reachable from every node.",
)
UNKNOWN_TEMPLATE = define(
    "VD649",
    "Unknown template name",
    "Pick one of the listed templates (`template.name`).",
)
TUNER = define(
    "VD660",
    "Tuner settings conflict",
    "LoRA-only keys (`use_dora`, `lora_*`, `target_*`) need `train_type: lora`; `target_modules` and `target_regex` are alternatives.",
)
DTYPE = define(
    "VD661",
    "Precision settings conflict",
    "`training.bf16: true` needs `model.dtype: bfloat16`; leave `bf16` unset to follow the model dtype.",
)
RESUME = define(
    "VD662",
    "Checkpoint settings conflict",
    "`resume_from_checkpoint` continues the same run (optimizer, schedule, data position); `init_from_checkpoint` "
    "starts a new stage from earlier weights. Give one.",
)
MODEL_NOT_CACHED = define(
    "VD669",
    "Model id is neither a local folder nor in the local Hugging Face / ModelScope cache",
    "Download it first with the command in the message (`hf download ORG/NAME` or `modelscope download --model ORG/NAME`), or set the local folder.",
)
BEST_CHECKPOINT = define(
    "VD663",
    "Best-checkpoint settings invalid",
    "`metric_for_best_model` must name an evaluation metric the run logs (the message lists them), with "
    "evaluation data and an eval_strategy; `load_best_model_at_end` saves and evaluates on one schedule.",
)
