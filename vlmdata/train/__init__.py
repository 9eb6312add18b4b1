"""Training front: the trainer plugin interface, the plugin registry, and the shared dataset layer.

Importing this package never imports torch or ms-swift; only a plugin's `run`/`debug` do.
"""

from vlmdata.train.config import load_train_config
from vlmdata.train.plugin import (
    DebugSample,
    TrainerPlugin,
    TrainPlan,
    TrainResult,
    compress_image_pads,
    latest_checkpoint,
)
from vlmdata.train.registry import GROUP, PluginInfo, get_plugin, list_plugins

__all__ = [
    "GROUP",
    "DebugSample",
    "PluginInfo",
    "TrainPlan",
    "TrainResult",
    "TrainerPlugin",
    "compress_image_pads",
    "get_plugin",
    "latest_checkpoint",
    "list_plugins",
    "load_train_config",
]
