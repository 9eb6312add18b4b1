"""Padding tokens with vlmdata's length-grouped batching vs ms-swift's default and transformers' grouping.

Packing is not supported, so every batch pads to its longest sample. The length mix imitates a fused run:
40% summary samples (image + short JSON: 700-1400 tokens) and 60% dense-caption samples (image + 5-60 objects
at ~28 tokens each: 900-3000 tokens), image tokens from 640-2048 px images capped at 1M pixels.

Peers, measured in the same run on the same lengths and batch size:
- `swift_default`: ms-swift's `BatchSamplerShard` without `group_by_length` (a seeded random permutation);
- `hf_grouped`: transformers' `get_length_grouped_indices` (what `--group_by_length true` uses).

Prints one JSON line per figure. `--quick` uses 20k samples instead of 200k.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vlmdata.train.data.sampler import group_by_length  # noqa: E402


def length_mix(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.integers(640, 2049, n)
    h = (w * rng.uniform(0.56, 1.0, n)).astype(int)
    scale = np.minimum(1.0, np.sqrt(1_048_576 / (w * h)))
    image_tokens = (np.round(h * scale / 32) * np.round(w * scale / 32)).astype(np.int64)
    dense = rng.random(n) < 0.6
    text = np.where(dense, rng.integers(5, 61, n) * 28 + 60, rng.integers(60, 400, n))
    return image_tokens + text


def padding(lengths: np.ndarray, batches: list[np.ndarray]) -> int:
    return int(sum(len(b) * int(lengths[b].max()) - int(lengths[b].sum()) for b in batches if len(b)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batch", type=int, default=8, help="per-device batch x world size")
    args = parser.parse_args()
    n = 20_000 if args.quick else 200_000
    gb = args.batch
    lengths = length_mix(n)
    stream = np.random.default_rng(1).permutation(n)  # the epoch's stream order (seeded shuffle)
    ordered = lengths[stream]

    t = time.perf_counter()
    ours = group_by_length(ordered, n, gb)
    t_ours = time.perf_counter() - t
    pad_ours = padding(ordered, ours)

    pad_default = padding(ordered, [np.arange(i, min(i + gb, n)) for i in range(0, n, gb)])

    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    g = torch.Generator()
    g.manual_seed(1)
    t = time.perf_counter()
    hf = np.asarray(get_length_grouped_indices(lengths.tolist(), gb, generator=g))
    t_hf = time.perf_counter() - t
    pad_hf = padding(lengths, [hf[i : i + gb] for i in range(0, n, gb)])

    real = int(lengths.sum())
    rows = [
        {
            "figure": "padding_tokens",
            "impl": "vlmdata_grouped",
            "value": pad_ours,
            "share_of_real": pad_ours / real,
        },
        {
            "figure": "padding_tokens",
            "impl": "swift_default",
            "value": pad_default,
            "share_of_real": pad_default / real,
        },
        {"figure": "padding_tokens", "impl": "hf_grouped", "value": pad_hf, "share_of_real": pad_hf / real},
        {"figure": "padding_reduction_vs_swift_default", "value": 1 - pad_ours / pad_default, "target": 0.30},
        {"figure": "padding_ratio_vs_hf_grouped", "value": pad_ours / pad_hf},
        {"figure": "batching_seconds", "impl": "vlmdata_grouped", "value": t_ours, "samples": n},
        {"figure": "batching_seconds", "impl": "hf_grouped", "value": t_hf, "samples": n},
    ]
    for row in rows:
        print(json.dumps({"bench": "train_batching", "batch": gb, **row}))


if __name__ == "__main__":
    main()
