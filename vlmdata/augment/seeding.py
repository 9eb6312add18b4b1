"""Randomness: one generator per (seed, epoch, record id, stream), derived through hashlib.

Nothing here depends on process, worker count, visiting order or Python's salted `hash()`: the same inputs
give the same draws on every machine. Each op of the pipeline has its own stream (its position and name), so
adding an op at the end never changes the draws of the ops before it.
"""

from __future__ import annotations

import hashlib

import numpy as np


def stream_key(seed: int, epoch: int, record_id: str, stream: str) -> bytes:
    text = f"vlmdata-augment/v1\x1f{int(seed)}\x1f{int(epoch)}\x1f{record_id}\x1f{stream}"
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def generator(seed: int, epoch: int, record_id: str, stream: str) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(int.from_bytes(stream_key(seed, epoch, record_id, stream), "little"))
    )
