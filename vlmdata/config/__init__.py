"""The run configuration: its one reader (`load_run_config`, `load_run_sections`, through the layered YAML
reader `vlmdata.io.layered`), its section models, and `ConfigModel` (the base of every config section model:
finite numbers, no booleans for numbers, unknown keys refused).

`load_run_config`, `load_run_sections` and the models are imported lazily so that modules needing only
`ConfigModel` (fusion, augmentation configs) do not pay for the run models. This package imports nothing above
its layer: the trainer plugin's section, the augmentation section and the fusion config a run names are
checked by `vlmdata.train.load_train_config`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The run config's error codes live in `run_codes` (this package's `codes` module belongs to the layered
# loader); importing them here registers them whenever `vlmdata.errors.load_all_codes` walks the package.
from vlmdata.config import run_codes as _run_codes  # noqa: F401

if TYPE_CHECKING:
    from vlmdata.config.load import load_run_config, load_run_sections
    from vlmdata.config.run import RunConfig

__all__ = ["RunConfig", "load_run_config", "load_run_sections"]


def __getattr__(name: str) -> Any:
    if name in ("load_run_config", "load_run_sections"):
        from vlmdata.config import load

        return getattr(load, name)
    if name == "RunConfig":
        from vlmdata.config.run import RunConfig

        return RunConfig
    raise AttributeError(name)
