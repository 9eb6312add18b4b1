"""Error codes of reading YAML config files (VD600–VD609): every config — run, fusion, augmentation, template
files — is read by `vlmdata.io.layered`; the config models add theirs from VD610 on."""

from vlmdata.errors import define

YAML_PARSE = define(
    "VD600", "YAML file cannot be parsed", "Fix the YAML syntax at the reported line and column."
)
EXTENDS_CYCLE = define(
    "VD601", "`extends` chain forms a cycle", "Remove one of the `extends` references so the chain ends."
)
EXTENDS_MISSING = define(
    "VD602",
    "File named in `extends` (or --base-config) not found",
    "Paths in `extends` are relative to the file that names them; fix the path.",
)
NOT_MAPPING = define(
    "VD603",
    "Config file's top level is not a mapping",
    "A config file is a YAML mapping of section names to values.",
)
BAD_NAMED_LIST = define(
    "VD604",
    "List entry lacks a unique `name`",
    "Every entry of this list needs a `name`, unique within the list; entries merge across `extends` by name.",
)
INVALID_CONFIG = define(
    "VD605",
    "Config value invalid",
    "See the key path and message; the documentation of each section lists the allowed keys and values.",
)
UNKNOWN_CONFIG_KEY = define(
    "VD606",
    "Unknown config key",
    "Fix the typo; unknown keys are rejected at every level so mistakes never pass silently.",
)
DUPLICATE_KEY = define(
    "VD607",
    "Key repeated in one YAML mapping",
    "Keep one of the listed keys: YAML would keep only the last value and drop the others silently.",
)
CONFIG_FILE = define(
    "VD608",
    "Config file is not a readable regular file of bounded size",
    "Point at a YAML file (not a device, FIFO, socket or folder) of at most 8 MiB.",
)
CONFIG_TOO_LARGE = define(
    "VD609",
    "Config document is too large once its aliases are expanded, recursive, or nested too deeply",
    "Write the values out or use fewer nested aliases; a config expands to at most 1,000,000 YAML nodes.",
)
