"""YAML configuration: layered loading with `extends`, and the run configuration models.

`load_run_config` and the models are imported lazily so that modules needing only `layers` (fusion,
augmentation configs) do not pay for the run models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The run config's error codes live in `run_codes` (this package's `codes` module belongs to the layered
# loader); importing them here registers them whenever `vlmdata.errors.load_all_codes` walks the package.
from vlmdata.config import run_codes as _run_codes  # noqa: F401

if TYPE_CHECKING:
    from vlmdata.config.load import load_run_config
    from vlmdata.config.run import RunConfig

__all__ = ["RunConfig", "load_run_config"]


def __getattr__(name: str) -> Any:
    if name == "load_run_config":
        from vlmdata.config.load import load_run_config

        return load_run_config
    if name == "RunConfig":
        from vlmdata.config.run import RunConfig

        return RunConfig
    raise AttributeError(name)
