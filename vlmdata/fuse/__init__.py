"""Deterministic fusion: mix target and source datasets with exact per-epoch quotas (docs/fusion.md).

`load_fusion_config` reads the YAML, `plan_epoch` computes an epoch's plan (pure numpy), `fuse_epoch` writes
it as an Arrow dataset with a manifest, and `FusionStream` serves the same stream to trainer processes.
Importing this package does not import `datasets` (only numpy and pydantic).
"""

from vlmdata.fuse.config import EntryConfig, FusionConfig, SourceConfig, TargetConfig, load_fusion_config
from vlmdata.fuse.plan import EpochPlan, compute_quotas, object_subset, plan_epoch
from vlmdata.fuse.stream import EvalSet, FusionStream, eval_sets
from vlmdata.fuse.writer import FuseResult, fuse_epoch, plan_only

__all__ = [
    "EntryConfig",
    "EpochPlan",
    "EvalSet",
    "FuseResult",
    "FusionConfig",
    "FusionStream",
    "SourceConfig",
    "TargetConfig",
    "compute_quotas",
    "eval_sets",
    "fuse_epoch",
    "load_fusion_config",
    "object_subset",
    "plan_epoch",
    "plan_only",
]
