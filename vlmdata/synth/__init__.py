"""Deterministic synthetic datasets: real images with drawn objects, BBU/RRU descs and summaries, planted defects.

`generate(out_dir, n, seed, corrupt=0, **options) -> SynthResult` writes `data.jsonl`, `images/…` and, with
`corrupt > 0`, `corrupt_manifest.json` (see `vlmdata.synth.generate`). `iter_records` yields the same clean
records without touching the disk, for benchmarks that need many records fast. The vocabularies, desc and
summary builders live in `vlmdata.synth.vocab`; the defect table in `vlmdata.synth.corrupt`.
"""

from vlmdata.synth.generate import SynthResult, generate, iter_records

__all__ = ["SynthResult", "generate", "iter_records"]
