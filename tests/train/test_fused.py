"""Fused output projection + loss (`training.liger_kernel`): equal to the logits path in value and gradient.

Oracles: torch's cross-entropy on materialised float64 logits; ms-swift's own JSD arithmetic through today's
bounded JSD (`vlmdata_plugins.gkd.loss.bounded_jsd`) with autograd; and whole tiny-model runs with the flag
off, on the same batches.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.train


def _f64(*shape: int, scale: float = 1.0, seed: int = 0) -> Any:
    import torch

    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).requires_grad_(True)


@pytest.mark.parametrize(
    ("n", "hidden", "vocab", "token_chunk", "vocab_chunk", "scale"),
    [
        (257, 16, 1000, None, None, 1.0),  # one block: full vocabulary rows
        (257, 16, 1000, 64, 300, 1.0),  # vocabulary chunks that do not divide the vocabulary
        (1, 8, 7, 1, 1, 1.0),  # one token, one-column vocabulary chunks
        (40, 4, 50, 3, 49, 40.0),  # logits of several hundred: the log-sum-exp must not overflow
        (64, 12, 151936, None, 20000, 0.2),  # Qwen's vocabulary size
    ],
)
def test_fused_cross_entropy_equals_torch(
    n: int, hidden: int, vocab: int, token_chunk: int | None, vocab_chunk: int | None, scale: float
) -> None:
    import torch
    import torch.nn.functional as F
    from vlmdata_plugins.common.fused import fused_linear_loss

    h, w = _f64(n, hidden, seed=1), _f64(vocab, hidden, scale=scale, seed=2)
    targets = torch.randint(0, vocab, (n,), generator=torch.Generator().manual_seed(3))
    targets[: n // 3] = targets[0]  # repeated targets
    got = fused_linear_loss(h, w, targets, token_chunk=token_chunk, vocab_chunk=vocab_chunk)
    gh, gw = torch.autograd.grad(got.ce_sum, (h, w))
    logits = h @ w.T
    ref = F.cross_entropy(logits, targets, reduction="sum")
    rh, rw = torch.autograd.grad(ref, (h, w))
    assert math.isfinite(float(got.ce_sum.detach()))
    assert float(got.ce_sum.detach()) == pytest.approx(float(ref.detach()), rel=1e-12, abs=1e-9)
    assert torch.allclose(gh, rh, rtol=1e-10, atol=1e-12) and torch.allclose(gw, rw, rtol=1e-10, atol=1e-12)
    per_token = F.cross_entropy(logits.detach(), targets, reduction="none")
    assert torch.allclose(got.token_ce, per_token, rtol=1e-12, atol=1e-12)
    assert torch.equal(got.predictions, logits.detach().argmax(-1))
    assert got.count == n


def test_fused_cross_entropy_as_a_metric_has_no_gradient_and_empty_input_keeps_the_graph() -> None:
    import torch
    from vlmdata_plugins.common.fused import fused_linear_loss

    h, w = _f64(5, 4), _f64(9, 4, seed=1)
    metric = fused_linear_loss(h, w, torch.tensor([0, 1, 2, 3, 8]), ce_grad=False)
    assert metric.ce_sum.grad_fn is None and float(metric.ce_sum) > 0
    empty = fused_linear_loss(h[:0], w, torch.zeros(0, dtype=torch.long))
    assert empty.count == 0 and float(empty.ce_sum) == 0.0
    empty.ce_sum.backward()  # connected to the graph: an all-prompt batch still backpropagates (zeros)
    assert h.grad is not None and float(h.grad.abs().sum()) == 0.0
    with pytest.raises(ValueError, match="targets"):
        fused_linear_loss(h, w, torch.tensor([0, 1, -100, 3, 4]))
    with pytest.raises(ValueError, match="vocabulary"):
        fused_linear_loss(h, w, None, h, _f64(10, 4))


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("vocab_chunk", [None, 700])
def test_fused_jsd_equals_bounded_jsd_on_the_test_shape(beta: float, vocab_chunk: int | None) -> None:
    """The CPU test shape of the bounded JSD (2 x 700 positions, 20 prompt positions each, vocabulary 3000),
    from hidden states: value and gradients (hidden states and lm_head weight) equal to today's path."""
    import torch
    from swift.rlhf_trainers.gkd_loss import TeacherOutput
    from vlmdata_plugins.common.fused import fused_linear_loss
    from vlmdata_plugins.common.fused_model import shift_for_loss
    from vlmdata_plugins.gkd.loss import bounded_jsd

    batch, seq, vocab, width, temperature = 2, 700, 3000, 24, 1.5
    g = torch.Generator().manual_seed(1)
    labels = torch.randint(0, vocab, (batch, seq), generator=g)
    labels[:, :20] = -100
    hidden = torch.randn(batch, seq, width, generator=g).requires_grad_(True)
    weight = (torch.randn(vocab, width, generator=g) * 0.3).requires_grad_(True)
    t_hidden = torch.randn(batch, seq, width + 8, generator=g)
    t_weight = torch.randn(vocab, width + 8, generator=g) * 0.3

    # today's path: full logits, labels rolled as ms-swift's trainer does, bounded JSD over active positions
    shifted = torch.roll(labels, shifts=-1, dims=1)
    ref = bounded_jsd(
        hidden @ weight.T,
        TeacherOutput(full_logits=t_hidden @ t_weight.T, labels=shifted.clone()),
        shifted.clone(),
        beta,
        temperature,
        chunk=256,
    )
    ref.backward()  # .backward(), not autograd.grad: ms-swift may have made checkpointing reentrant
    assert hidden.grad is not None and weight.grad is not None
    rh, rw = hidden.grad.clone(), weight.grad.clone()
    hs, targets, _ = shift_for_loss(hidden, labels)
    ht, _, _ = shift_for_loss(t_hidden, labels)
    got = fused_linear_loss(
        hs,
        weight,
        targets,
        ht,
        t_weight,
        beta=beta,
        temperature=temperature,
        vocab_chunk=vocab_chunk,
        token_chunk=300,
    )
    assert got.count == batch * (seq - 20)  # 1,360 scored positions
    jsd = got.jsd_sum / got.count
    gh, gw = torch.autograd.grad(jsd, (hidden, weight))
    assert float(jsd.detach()) == pytest.approx(float(ref.detach()), rel=1e-5)
    assert torch.allclose(gh, rh, rtol=1e-4, atol=1e-7)
    assert torch.allclose(gw, rw, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("temperature", [1.0, 2.0])
@pytest.mark.parametrize("vocab_chunk", [None, 100])
@pytest.mark.parametrize("ce_grad", [True, False])
def test_fused_jsd_and_cross_entropy_together_match_autograd_in_float64(
    temperature: float, vocab_chunk: int | None, ce_grad: bool
) -> None:
    """One pass serving both terms with different weights: each term's gradient is scaled separately. The
    whole-vocabulary chunk (pass 3 reusing pass 2's gradient and, at temperature 1, its softmax for the
    cross-entropy) and vocabulary chunks (recomputed) give the same numbers."""
    import torch
    import torch.nn.functional as F
    from swift.rlhf_trainers.gkd_loss import jsd_loss
    from vlmdata_plugins.common.fused import fused_linear_loss

    h, w = _f64(90, 10, seed=4), _f64(333, 10, scale=0.7, seed=5)
    ht, wt = _f64(90, 6, seed=6).detach(), _f64(333, 6, scale=0.7, seed=7).detach()
    y = torch.randint(0, 333, (90,), generator=torch.Generator().manual_seed(8))
    for beta in (0.0, 0.3, 1.0):
        got = fused_linear_loss(
            h,
            w,
            y,
            ht,
            wt,
            beta=beta,
            temperature=temperature,
            token_chunk=17,
            vocab_chunk=vocab_chunk,
            ce_grad=ce_grad,
        )
        loss = 0.7 * got.jsd_sum + (0.3 * got.ce_sum if ce_grad else 0.0)
        gh, gw = torch.autograd.grad(loss, (h, w))
        z, zt = h @ w.T, ht @ wt.T
        ce = F.cross_entropy(z, y, reduction="sum")
        assert float(got.ce_sum.detach()) == pytest.approx(float(ce.detach()), rel=1e-12)
        ref = 0.7 * jsd_loss(z / temperature, zt / temperature, beta) + (0.3 * ce if ce_grad else 0.0)
        rh, rw = torch.autograd.grad(ref, (h, w))
        assert float(loss.detach()) == pytest.approx(float(ref.detach()), rel=1e-12)
        assert torch.allclose(gh, rh, rtol=1e-10, atol=1e-12) and torch.allclose(
            gw, rw, rtol=1e-10, atol=1e-12
        )


def test_fused_jsd_holds_less_for_the_backward_pass_than_the_logits_path() -> None:
    import torch
    from swift.rlhf_trainers.gkd_loss import TeacherOutput
    from vlmdata_plugins.common.fused import fused_linear_loss
    from vlmdata_plugins.common.fused_model import shift_for_loss
    from vlmdata_plugins.gkd.loss import bounded_jsd

    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3000, (2, 700), generator=g)
    hidden = torch.randn(2, 700, 24, generator=g).requires_grad_(True)
    weight = torch.randn(3000, 24, generator=g)
    t_hidden, t_weight = torch.randn(2, 700, 24, generator=g), torch.randn(3000, 24, generator=g)

    def saved_bytes(fn: Any) -> int:
        sizes: list[int] = []

        def pack(t: Any) -> Any:
            sizes.append(t.numel() * t.element_size())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            fn()
        return sum(sizes)

    shifted = torch.roll(labels, shifts=-1, dims=1)
    logits_path = saved_bytes(
        lambda: bounded_jsd(
            hidden @ weight.T,
            TeacherOutput(full_logits=t_hidden @ t_weight.T, labels=shifted.clone()),
            shifted.clone(),
            0.5,
            1.0,
        )
    )
    hs, targets, _ = shift_for_loss(hidden, labels)
    ht, _, _ = shift_for_loss(t_hidden, labels)
    fused_path = saved_bytes(lambda: fused_linear_loss(hs, weight, targets, ht, t_weight))
    # the fused path keeps the [N, H] gradient, never a [N, vocabulary] tensor
    assert fused_path * 20 < logits_path, (fused_path, logits_path)


def test_metrics_from_hidden_equal_the_logits_metrics() -> None:
    """Token accuracy and per-dataset loss/accuracy: the fused path's numbers equal the logits path's."""
    from collections import defaultdict

    import torch
    from vlmdata_plugins.common.trainer import VlmdataTrainerMixin

    class Meter:
        def __init__(self) -> None:
            self.values: list[float] = []

        def update(self, v: Any) -> None:
            self.values += [float(x) for x in (v.tolist() if hasattr(v, "tolist") else v)]

    class Fake(VlmdataTrainerMixin):
        def __init__(self) -> None:
            self.custom_metrics = {"train": defaultdict(Meter)}
            self.model = torch.nn.Module()
            self.args = type("A", (), {"acc_strategy": "token"})()

    g = torch.Generator().manual_seed(0)
    head = torch.nn.Linear(16, 50, bias=False)
    model = torch.nn.Module()
    model.lm_head = head
    model.get_output_embeddings = lambda: head  # type: ignore[method-assign]
    hidden = torch.randn(3, 12, 16, generator=g)
    logits = head(hidden).detach()
    labels = torch.full((3, 12), -100)
    labels[:, 4:] = torch.randint(0, 50, (3, 8), generator=g)
    labels[0, 5:9] = logits[0, 4:8].argmax(-1)  # some correct predictions, so accuracy is not trivially 0
    labels[2, 6:] = -100
    channels = ["bbu", "rru", "bbu"]

    fused, plain = Fake(), Fake()
    fused._fused_metrics(model, hidden, labels, channels)
    plain._per_source_metrics(logits, labels, channels)
    from swift.metrics.acc import compute_acc

    for k, v in compute_acc(logits.argmax(-1), labels, acc_strategy="token").items():
        plain.custom_metrics["train"][k].update(v)
    assert set(fused.custom_metrics["train"]) == {
        "token_acc",
        "bbu_loss",
        "bbu_token_acc",
        "rru_loss",
        "rru_token_acc",
    }
    for key, meter in plain.custom_metrics["train"].items():
        assert fused.custom_metrics["train"][key].values == pytest.approx(meter.values, rel=1e-6), key
    assert (
        0
        < sum(fused.custom_metrics["train"]["token_acc"].values)
        < len(fused.custom_metrics["train"]["token_acc"].values)
    )


# -- the plugins -----------------------------------------------------------------------------------------------


def test_plan_maps_liger_kernel_per_machine_and_plugin(tmp_path: Path, tiny_model_dir: Path) -> None:
    from vlmdata_plugins.common.args import build_swift_args

    from vlmdata.config.run import RunConfig

    cfg = RunConfig.model_validate(
        {
            "model": {"path": str(tiny_model_dir)},
            "training": {"liger_kernel": True, "output_dir": str(tmp_path)},
        }
    )
    notes: list[str] = []
    gpu = build_swift_args(cfg, gradient_accumulation_steps=1, has_val=False, notes=notes, has_cuda=True)
    assert gpu["use_liger_kernel"] is True and gpu["vlmdata_fused"] == "liger" and not notes
    cpu = build_swift_args(cfg, gradient_accumulation_steps=1, has_val=False, notes=notes, has_cuda=False)
    assert "use_liger_kernel" not in cpu and cpu["vlmdata_fused"] == "chunked"
    assert any("chunked linear cross-entropy" in n for n in notes)
    off = RunConfig.model_validate({"model": {"path": str(tiny_model_dir)}})
    plain = build_swift_args(off, gradient_accumulation_steps=1, has_val=False, notes=[], has_cuda=True)
    assert "use_liger_kernel" not in plain and "vlmdata_fused" not in plain


def _rows(run: Path) -> list[dict[str, Any]]:
    lines = (run / "logging.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in (json.loads(x) for x in lines if x.strip()) if "train/loss" in r]


def test_sft_with_liger_kernel_on_a_cpu_equals_the_unfused_run(
    tmp_path: Path, tiny_model_dir: Path, sft_helpers: Any
) -> None:
    """Two datasets (per-dataset metrics on), three steps, the same batches: equal losses and metrics."""
    helpers = sft_helpers
    config, make_dataset = helpers.config, helpers.make_dataset
    plugin = helpers.sft_plugin()
    bbu = make_dataset(tmp_path, "bbu", 6, lengths=True)
    rru = make_dataset(tmp_path, "rru", 4, domain="RRU", lengths=True)
    runs = {}
    for fused in (False, True):
        extra = {"liger_kernel": True} if fused else {}
        run = tmp_path / f"run-{fused}"
        cfg = config(
            tiny_model_dir, run, train=[bbu, rru], training={"max_steps": 3, "save_steps": 3, **extra}
        )
        plan = plugin.plan(cfg)
        assert plan.backend_args.get("vlmdata_fused") == ("chunked" if fused else None)
        plugin.run(plan)
        runs[fused] = _rows(run)
    assert len(runs[True]) == len(runs[False]) == 3

    def metrics(row: dict[str, Any]) -> set[str]:
        return {k for k in row if k.endswith(("loss", "token_acc"))}

    seen: set[str] = set()
    for plain, fused_row in zip(runs[False], runs[True], strict=True):
        assert metrics(fused_row) == metrics(plain)
        seen |= metrics(plain)
        for key in metrics(plain):
            assert fused_row[key] == pytest.approx(plain[key], rel=2e-5, abs=1e-6), key
    assert {"train/token_acc", "train/bbu_loss", "train/rru_loss", "train/rru_token_acc"} <= seen


def test_grpo_refuses_liger_kernel(tmp_path: Path, tiny_model_dir: Path) -> None:
    import yaml

    from vlmdata.errors import VlmdataError
    from vlmdata.train.config import load_train_config

    data = tmp_path / "d"
    from vlmdata.io.dataset import save_records

    save_records(
        [
            {
                "id": "a",
                "images": [],
                "width": None,
                "height": None,
                "objects": [],
                "summary": "无关图片",
                "source_file": "a.jsonl",
                "source_line": 1,
            }
        ],
        data,
    )
    cfg = {
        "plugin": "grpo",
        "model": {"path": str(tiny_model_dir)},
        "data": {"train": [str(data)]},
        "training": {"liger_kernel": True},
        "rlhf": {"reward_funcs": ["summary_format"], "num_generations": 2, "generation_batch_size": 2},
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    with pytest.raises(VlmdataError, match="liger_kernel"):
        load_train_config(path)


def _load_helpers(name: str) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{name}_helpers", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gkd_with_liger_kernel_equals_the_logits_path(
    tmp_path: Path, tiny_model_dir: Path, tiny_teacher_dir: Path
) -> None:
    """Forward-only GKD with the CE term and visual KD: every logged term equal with and without fusion."""
    from PIL import Image

    from vlmdata.io.dataset import save_records

    gkd = _load_helpers("test_gkd")
    records = []
    for i in range(4):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (64 + 32 * (i % 2), 64), (40 * i, 90, 140)).save(path)
        records.append(
            {
                "id": f"d{i}",
                "images": [str(path)],
                "width": 64 + 32 * (i % 2),
                "height": 64,
                "objects": [
                    {"desc": "类别=BBU设备,品牌=华为", "kind": "bbox_2d", "points": [2, 3, 30 + i, 40]}
                ],
                "source_file": "d.jsonl",
                "source_line": i + 1,
            }
        )
    bbu, rru = save_records(records[:2], tmp_path / "bbu"), save_records(records[2:3], tmp_path / "rru")
    data = (bbu, save_records(records[3:], tmp_path / "val"))
    runs = {}
    for fused in (False, True):
        cfg = gkd._config(
            tiny_model_dir,
            tiny_teacher_dir,
            data,
            tmp_path / f"run-{fused}",
            beta=0.3,
            temperature=1.5,
            visual_kd={"aligner": {"enabled": True}},
        )
        cfg["data"]["train"] = [str(bbu), str(rru)]  # two datasets: per-dataset metrics on
        if fused:
            cfg["training"]["liger_kernel"] = True
        _, rows = gkd._train(tmp_path, cfg)
        runs[fused] = [r for r in rows if "train/loss" in r]
    keys = {"train/loss", "train/sft_loss", "train/llm_kd_loss", "train/vision_kd_aligner", "train/token_acc"}
    per_dataset = {k for row in runs[False] for k in row if k.endswith(("bbu_loss", "rru_token_acc"))}
    assert per_dataset, "the two-dataset run logs per-dataset metrics"
    keys |= per_dataset
    assert len(runs[True]) == len(runs[False]) == 2
    for plain, fused_row in zip(runs[False], runs[True], strict=True):
        assert keys <= set(plain) and keys <= set(fused_row)
        for key in keys:
            assert fused_row[key] == pytest.approx(plain[key], rel=2e-5, abs=1e-6), key
