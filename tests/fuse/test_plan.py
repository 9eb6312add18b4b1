"""The epoch plan: exact quotas, coverage, balance, independent streams, stable hashing, interleaving."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlmdata.errors import VlmdataError
from vlmdata.fuse import FusionConfig, compute_quotas, object_subset, plan_epoch
from vlmdata.fuse.plan import round_half_up


def _config(targets, sources=(), seed=0, interleave="shuffle") -> FusionConfig:
    return FusionConfig.model_validate(
        {
            "seed": seed,
            "interleave": interleave,
            "targets": [{"name": n, "data": "x", "ratio": r, **kw} for n, r, kw in targets],
            "sources": [{"name": n, "data": "y", "ratio": r, **kw} for n, r, kw in sources],
        }
    )


def _expected_quota(ratio: float, n: int) -> int:
    exact = Fraction(repr(ratio)) * n
    return int(exact + Fraction(1, 2)) if exact >= 0 else 0  # floor(x + 1/2), written independently


ratios = st.one_of(
    st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.7]),
    st.floats(min_value=0.0, max_value=4.0, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 3)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    targets=st.lists(st.tuples(ratios, st.integers(1, 400), st.booleans()), min_size=1, max_size=3),
    sources=st.lists(st.tuples(ratios, st.integers(1, 300), st.booleans()), max_size=3),
    seed=st.integers(0, 2**32),
    epoch=st.integers(0, 5),
    stratified=st.booleans(),
)
def test_exact_counts_and_balanced_draws(targets, sources, seed, epoch, stratified) -> None:
    cfg = _config(
        [(f"t{i}", r, {"replacement": rep}) for i, (r, _, rep) in enumerate(targets)],
        [(f"s{i}", r, {"replacement": rep}) for i, (r, _, rep) in enumerate(sources)],
        seed=seed,
        interleave="stratified" if stratified else "shuffle",
    )
    sizes = {f"t{i}": n for i, (_, n, _) in enumerate(targets)} | {
        f"s{i}": n for i, (_, n, _) in enumerate(sources)
    }
    plan = plan_epoch(cfg, sizes, epoch)
    expected = {f"t{i}": _expected_quota(r, n) for i, (r, n, _) in enumerate(targets)}
    total_targets = sum(expected.values())
    expected |= {f"s{i}": _expected_quota(r, total_targets) for i, (r, _, _) in enumerate(sources)}
    assert plan.counts() == expected
    assert len(plan) == sum(expected.values()) == len(plan.index)
    for k, (_, entry) in enumerate(cfg.entries()):
        idx = plan.index[plan.entry == k]
        n = sizes[entry.name]
        assert idx.size == expected[entry.name]
        assert idx.size == 0 or (idx.min() >= 0 and idx.max() < n)
        if not entry.replacement:
            per_record = np.bincount(idx, minlength=n)
            assert per_record.max() - per_record.min() <= 1  # whole passes + a remainder
            if idx.size <= n:
                assert per_record.max() <= 1  # ratio <= 1: a truncated permutation, no repeats
        if stratified and len(plan):
            prefix = np.cumsum(plan.entry == k)
            ideal = np.arange(1, len(plan) + 1) * idx.size / len(plan)
            share = idx.size / len(plan)
            assert np.abs(prefix - ideal).max() <= 1 + max(len(plan.names) - 2, 0) * share + 1e-9


@pytest.mark.parametrize("stratified", [False, True])
def test_ratio_one_covers_every_record_exactly_once(stratified: bool) -> None:
    cfg = _config(
        [("a", 1.0, {}), ("b", 1.0, {})],
        [("s", 0.5, {})],
        seed=3,
        interleave="stratified" if stratified else "shuffle",
    )
    plan = plan_epoch(cfg, {"a": 1000, "b": 37, "s": 5000}, epoch=2)
    for k, n in ((0, 1000), (1, 37)):
        assert np.array_equal(np.sort(plan.index[plan.entry == k]), np.arange(n))
    assert plan.counts()["s"] == 519  # round_half_up(0.5 * 1037) = 518.5 -> 519


def test_rounding_is_half_up_on_the_decimal_ratio() -> None:
    assert round_half_up(0.5, 3) == 2 and round_half_up(0.5, 5) == 3  # not banker's rounding
    assert (
        round_half_up(0.1, 10) == 1 and round_half_up(0.7, 10) == 7
    )  # 0.7 * 10 == 7.000000000000001 in floats
    assert round_half_up(0.15, 10) == 2  # the written 0.15, though float(0.15) < 0.15
    assert compute_quotas(_config([("t", 0.3, {})], [("s", 1 / 3, {})]), {"t": 10, "s": 1}) == {
        "t": 3,
        "s": 1,
    }


def test_epochs_differ_and_repeat() -> None:
    cfg = _config([("a", 0.5, {})], seed=11)
    p0, p0b, p1 = (
        plan_epoch(cfg, {"a": 500}, 0),
        plan_epoch(cfg, {"a": 500}, 0),
        plan_epoch(cfg, {"a": 500}, 1),
    )
    assert np.array_equal(p0.index, p0b.index) and p0.digest() == p0b.digest()
    assert not np.array_equal(p0.index, p1.index)
    assert set(p0.index.tolist()) != set(
        p1.index.tolist()
    )  # a different subset each epoch, not only a reorder


def test_entries_never_share_a_stream() -> None:
    # identical pools and ratios under one seed: each entry must still pick its own subset
    cfg = _config([(f"t{i}", 0.5, {}) for i in range(6)], seed=5)
    plan = plan_epoch(cfg, {f"t{i}": 1000 for i in range(6)}, 0)
    subsets = [frozenset(plan.index[plan.entry == k].tolist()) for k in range(6)]
    assert len(set(subsets)) == 6
    # renaming one entry changes only that entry's draws; the others keep theirs
    renamed = _config([("zz" if i == 0 else f"t{i}", 0.5, {}) for i in range(6)], seed=5)
    plan2 = plan_epoch(renamed, {("zz" if i == 0 else f"t{i}"): 1000 for i in range(6)}, 0)
    subsets2 = [frozenset(plan2.index[plan2.entry == k].tolist()) for k in range(6)]
    assert subsets2[0] != subsets[0] and subsets2[1:] == subsets[1:]
    # an explicit per-entry seed pins the entry's draws regardless of the top-level seed
    a = plan_epoch(_config([("t", 0.5, {"seed": 42})], seed=1), {"t": 1000}, 0)
    b = plan_epoch(_config([("t", 0.5, {"seed": 42})], seed=2), {"t": 1000}, 0)
    assert set(a.index.tolist()) == set(b.index.tolist())


def test_plan_is_independent_of_python_hash_seed() -> None:
    code = (
        "from vlmdata.fuse import FusionConfig, plan_epoch;"
        "c = FusionConfig.model_validate({'seed': 7, 'targets': [{'name': 'bbu', 'data': 'x', 'ratio': 0.7}, {'name': 'rru', 'data': 'x', 'ratio': 2.5}],"
        " 'sources': [{'name': 'lvis', 'data': 'x', 'ratio': 0.3, 'max_objects': 3}]});"
        "p = plan_epoch(c, {'bbu': 300, 'rru': 50, 'lvis': 40}, 3);"
        "from vlmdata.fuse import object_subset;"
        "print(p.digest(), object_subset(7, 3, 'lvis', 'id-1', 50, 3).tolist())"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "OMP_NUM_THREADS": "1"},
        ).stdout
        for seed in ("0", "1", "12345")
    }
    assert len(outs) == 1, outs


def test_stratified_spreads_each_entry_evenly() -> None:
    cfg = _config(
        [("big", 1.0, {}), ("mid", 1.0, {})],
        [("small", 0.05, {}), ("tiny", 0.01, {})],
        seed=9,
        interleave="stratified",
    )
    plan = plan_epoch(cfg, {"big": 3000, "mid": 700, "small": 10, "tiny": 3}, 0)
    n = len(plan)
    for k, q in enumerate(plan.quotas):
        prefix = np.cumsum(plan.entry == k)
        ideal = np.arange(1, n + 1) * q / n
        bound = 1 + (len(plan.names) - 2) * q / n  # e_k(N - q_k)/N - q_k/N * sum of the others' errors
        assert np.abs(prefix - ideal).max() <= bound + 1e-9, plan.names[k]
        if q / n <= 0.5:
            assert np.abs(prefix - ideal).max() < 2.0
    shuffled = plan_epoch(
        _config([("big", 1.0, {}), ("mid", 1.0, {})], [("small", 0.05, {}), ("tiny", 0.01, {})], seed=9),
        {"big": 3000, "mid": 700, "small": 10, "tiny": 3},
        0,
    )
    assert shuffled.counts() == plan.counts()


def test_shuffle_mixes_entries() -> None:
    plan = plan_epoch(_config([("a", 1.0, {}), ("b", 1.0, {})], seed=1), {"a": 2000, "b": 2000}, 0)
    first_half = plan.entry[:2000]
    assert 900 < int((first_half == 0).sum()) < 1100  # not concatenated blocks


def test_object_subset_is_sorted_seeded_and_capped() -> None:
    keep = object_subset(1, 0, "lvis", "r1", 50, 7)
    assert keep.tolist() == sorted(set(keep.tolist())) and len(keep) == 7 and keep.max() < 50
    assert np.array_equal(keep, object_subset(1, 0, "lvis", "r1", 50, 7))
    others = [
        object_subset(*args, 50, 7).tolist()
        for args in ((2, 0, "lvis", "r1"), (1, 1, "lvis", "r1"), (1, 0, "coco", "r1"), (1, 0, "lvis", "r2"))
    ]
    assert all(o != keep.tolist() for o in others)
    assert object_subset(1, 0, "lvis", "r1", 5, 7).tolist() == [0, 1, 2, 3, 4]


def test_bad_sizes_and_empty_pools() -> None:
    cfg = _config([("t", 1.0, {})], [("s", 0.5, {})])
    for sizes in ({"t": 10}, {"t": 10, "s": 3, "extra": 1}, {"t": -1, "s": 3}):
        with pytest.raises(VlmdataError) as err:
            plan_epoch(cfg, sizes, 0)
        assert err.value.code_str == "VD524"
    with pytest.raises(VlmdataError) as err:
        plan_epoch(cfg, {"t": 10, "s": 0}, 0)
    assert err.value.code_str == "VD521" and "'s'" in str(err.value)
    zero = _config([("t", 1.0, {})], [("s", 0.0, {})])
    assert plan_epoch(zero, {"t": 10, "s": 0}, 0).counts() == {"t": 10, "s": 0}
    assert len(plan_epoch(_config([("t", 1.0, {})]), {"t": 0}, 0)) == 0


@pytest.mark.parametrize("interleave", ["shuffle", "stratified"])
def test_memory_mapped_plan_equals_the_in_memory_one(tmp_path, monkeypatch, interleave: str) -> None:
    """The offline writer's plan (arrays built in memory-mapped files, converted slice by slice) is the plan."""
    import vlmdata.fuse.plan as plan_module

    monkeypatch.setattr(plan_module, "_SLICE", 97)  # many slices, cut anywhere
    config = _config(
        [("bbu", 1.0, {}), ("rru", 2.5, {}), ("odd", 0.3, {"replacement": True})],
        [("lvis", 0.4, {}), ("chat", 0.05, {"seed": 9})],
        seed=5,
        interleave=interleave,
    )
    sizes = {"bbu": 1000, "rru": 137, "odd": 55, "lvis": 300, "chat": 7}
    memory = plan_epoch(config, sizes, 2)
    mapped = plan_epoch(config, sizes, 2, scratch=tmp_path / "plan")
    assert isinstance(mapped.index, np.memmap) and isinstance(mapped.entry, np.memmap)
    assert mapped.entry.dtype == memory.entry.dtype and mapped.index.dtype == memory.index.dtype
    assert np.array_equal(mapped.entry, memory.entry) and np.array_equal(mapped.index, memory.index)
    assert mapped.digest() == memory.digest() and mapped.counts() == memory.counts()
