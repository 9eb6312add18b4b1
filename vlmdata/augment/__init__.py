"""Coordinate-aware augmentation: ops (params only), the pipeline (compose affines, one warp), seeding,
the curriculum, and the record-level API `augment_record` used by the trainer plugins and `vlmdata augment`.
"""

from vlmdata.augment.config import AugmentationConfig, load_augmentation_config, parse_augmentation_config
from vlmdata.augment.ops import OPS
from vlmdata.augment.pipeline import AugmentPipeline, AugmentResult, augment_record

__all__ = [
    "OPS",
    "AugmentPipeline",
    "AugmentResult",
    "AugmentationConfig",
    "augment_record",
    "load_augmentation_config",
    "parse_augmentation_config",
]
