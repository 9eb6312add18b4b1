"""Error codes of the trainer plugin system (VD700–VD719) and of the checks every run makes before its first
step, which `vlmdata train --dry-run` makes too (`vlmdata.train.preflight`; VD716 and VD730–VD735)."""

from vlmdata.errors import define, retire

PLUGIN_NOT_FOUND = define(
    "VD700",
    "No trainer plugin of that name is installed",
    "Pick one of the listed plugins (`vlmdata plugins`), or install the package that provides it.",
)
PLUGIN_IMPORT = define(
    "VD701",
    "Trainer plugin failed to import",
    "The named package's entry point raised on import; fix or reinstall that package.",
)
PLUGIN_NOT_TRAINER = define(
    "VD702",
    "Entry point is not a TrainerPlugin",
    "A `vlmdata.trainers` entry point must name a subclass (or instance) of vlmdata.train.plugin.TrainerPlugin.",
)
PLUGIN_NAME = define(
    "VD703",
    "Plugin's `name` differs from its entry-point name",
    "Make the class attribute `name` equal the entry-point name in the package's metadata.",
)
PLUGIN_CONFIG_MODEL = define(
    "VD704",
    "Plugin's `config_model` is not a strict pydantic model",
    "`config_model` must be a pydantic BaseModel subclass with `extra='forbid'` (or None).",
)
PLUGIN_DUPLICATE = define(
    "VD705",
    "Two installed packages register the same plugin name",
    "Uninstall one of the packages named in the message.",
)
PLUGIN_ABSTRACT = define(
    "VD706",
    "Plugin does not implement the interface",
    "Implement `plan(config)` and `run(plan)` (and make the class instantiable without arguments).",
)
PLAN_FAILED = define(
    "VD707",
    "Plugin failed while planning the run",
    "The plugin's `plan` raised; the message names the plugin and the error. Set VLMDATA_DEBUG=1 for the traceback.",
)
DEBUG_UNSUPPORTED = define(
    "VD708",
    "Plugin does not implement `--debug`",
    "Run without --debug, or implement `debug(plan)` in the plugin.",
)
LAUNCH_FAILED = define(
    "VD709",
    "Distributed launch failed",
    "torchrun exited non-zero; the ranks' output above names the failing rank.",
)
DEBUG_MISMATCH = define(
    "VD710",
    "Image tokens do not match the image grids",
    "The encoded sample's <|image_pad|> count differs from the vision grids; check template.max_pixels/min_pixels.",
)
retire(
    "VD711",
    "A demo stage's library is missing from this install",
    "the demo imports its stages directly; a missing `train` extra is VD006 with the install command.",
)
DEMO_STAGE_FAILED = define(
    "VD712",
    "A demo stage produced an unusable result",
    "The message names the stage; rerun with VLMDATA_DEBUG=1 and report it, the demo's inputs are fixed.",
)
REPORTER_MISSING = define(
    "VD716",
    "A `training.report_to` backend is not installed",
    "`pip install` the logger (e.g. `pip install wandb`), or remove it from `training.report_to` (tensorboard comes with the train extra).",
)
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
