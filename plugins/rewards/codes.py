"""Error codes of the reward library (VD720–VD729)."""

from vlmdata.errors import define

UNKNOWN_REWARD = define(
    "VD720", "Unknown reward function name", "Use one of the names listed in docs/rewards.md."
)
NO_TEMPLATE = define(
    "VD721",
    "Record passed to a reward has no template",
    "Train through `vlmdata train --plugin grpo`, which sets `metadata._template` from the run's template.",
)
NO_REFERENCE = define(
    "VD722",
    "GRPO rows carry no reference record for the rewards",
    "Train through `vlmdata train --plugin grpo`, whose rows carry each prompt's record.",
)
