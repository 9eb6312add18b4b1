"""The reward library: named functions `(completion, record) -> float`, selected by name in GRPO configs.

`REWARDS` is the registry; `get_reward(name)` looks one up with a clear error listing the known names.
Every reward's exact definition and range is in docs/rewards.md (kept next to the code below).
The record is a dataset row (the normalised schema); its template comes from `metadata._template` (set by
fusion, or by the GRPO plugin from the run's `template.name`).
"""

from vlmdata_plugins.rewards import dense, summary  # noqa: F401  (registers the built-in rewards)
from vlmdata_plugins.rewards.registry import REWARDS, RewardFn, get_reward, register

__all__ = ["REWARDS", "RewardFn", "get_reward", "register"]
