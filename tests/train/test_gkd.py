"""The `gkd` plugin on a tiny student + tiny teacher, in-process on the CPU."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from vlmdata.errors import VlmdataError
from vlmdata.io.dataset import save_records

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def dense_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("gkd-data")
    records = []
    for i in range(6):
        path = root / f"{i}.png"
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
    return save_records(records[:4], root / "train"), save_records(records[4:], root / "val")


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    import yaml

    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _config(
    model: Path, teacher: Path, data: tuple[Path, Path], out: Path, steps: int = 2, **rlhf: Any
) -> dict[str, Any]:
    return {
        "plugin": "gkd",
        "model": {"path": str(model), "dtype": "float32"},
        "template": {"name": "target_dense_bbu", "max_pixels": 64 * 64, "min_pixels": 32 * 32},
        "global_max_length": 1024,
        "data": {"train": [str(data[0])], "val": [str(data[1])]},
        "tuner": {
            "train_type": "lora",
            "lora_dropout": 0.0,
            "lora_rank": 4,
            "lora_alpha": 8,
            "freeze_aligner": False,
        },
        "training": {
            "output_dir": str(out),
            "max_steps": steps,
            "per_device_train_batch_size": 2,
            "gradient_accumulation_steps": 1,
            "learning_rate": 5e-3,
            "logging_steps": 1,
            "save_steps": steps,
            "eval_steps": steps,
            "weight_decay": 0.0,
            "report_to": ["tensorboard"],
            "seed": 5,
            "gradient_checkpointing": False,
        },
        "rlhf": {"teacher_model": str(teacher), "sft_alpha": 0.5, **rlhf},
    }


def _train(tmp_path: Path, data: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    from vlmdata.train.config import load_train_config
    from vlmdata.train.registry import get_plugin

    config = load_train_config(_write(tmp_path, data))
    plugin = get_plugin("gkd")
    result = plugin.run(plugin.plan(config))
    rows = [
        json.loads(line)
        for line in (Path(data["training"]["output_dir"]) / "logging.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    return result, rows


def test_metrics_with_teacher_and_visual_kd(
    tmp_path: Path, tiny_model_dir: Path, tiny_teacher_dir: Path, dense_data: tuple[Path, Path]
) -> None:
    visual = {
        "vit": {"enabled": True, "distance": "cosine"},
        "aligner": {"enabled": True},
        "deepstack": {"enabled": True, "weight": 0.5},
    }
    result, rows = _train(
        tmp_path, _config(tiny_model_dir, tiny_teacher_dir, dense_data, tmp_path / "run", visual_kd=visual)
    )
    steps = [r for r in rows if "train/loss" in r]
    assert len(steps) == 2
    for key in (
        "train/loss",
        "train/sft_loss",
        "train/llm_kd_loss",
        "train/vision_kd_loss",
        "train/vision_kd_vit",
        "train/vision_kd_aligner",
        "train/vision_kd_deepstack",
        "train/token_acc",
    ):
        assert all(key in r and math.isfinite(r[key]) for r in steps), key
    assert all(not any(k.startswith("train/train") or k.startswith("train/eval") for k in r) for r in rows)
    evals = [r for r in rows if "eval/sft_loss" in r]
    assert evals and math.isfinite(evals[-1]["eval/sft_loss"]) and "eval/token_acc" in evals[-1]
    assert not any("eval/llm_kd_loss" in r or "eval/vision_kd_loss" in r for r in rows), (
        "evaluation must skip the teacher"
    )
    assert result.adapter_dir is not None and (result.adapter_dir / "adapter_config.json").is_file()
    saved = {p.name for p in result.adapter_dir.iterdir()}
    assert "model.safetensors" not in saved  # an adapter, and never the teacher


def test_llm_kd_zero_against_own_base_and_weight_zero_drops_metric(
    tmp_path: Path, tiny_model_dir: Path, dense_data: tuple[Path, Path]
) -> None:
    # teacher == student: a LoRA student starts equal to its frozen base, so the first step's JSD is ~0
    _, rows = _train(
        tmp_path, _config(tiny_model_dir, tiny_model_dir, dense_data, tmp_path / "same", steps=1)
    )
    first = next(r for r in rows if "train/loss" in r)
    assert first["train/llm_kd_loss"] == pytest.approx(0.0, abs=1e-6)
    # llm_kd_weight 0 with only visual KD: the run works and the LM KD metric is absent
    cfg = _config(
        tiny_model_dir,
        tiny_model_dir,
        dense_data,
        tmp_path / "visual",
        steps=1,
        llm_kd_weight=0.0,
        visual_kd={"aligner": {"enabled": True}},
    )
    _, rows = _train(tmp_path, cfg)
    steps = [r for r in rows if "train/loss" in r]
    assert steps and all("train/llm_kd_loss" not in r for r in rows)
    assert all("train/vision_kd_aligner" in r and math.isfinite(r["train/loss"]) for r in steps)


def test_jsd_matches_direct_computation() -> None:
    """The JSD the wrapper adds (ms-swift's `_compute_jsd_loss`) against a direct float64 computation."""
    from types import SimpleNamespace

    import torch
    from swift.rlhf_trainers.gkd_loss import TeacherOutput
    from swift.rlhf_trainers.gkd_trainer import GKDTrainer

    def kl(p: Any, q: Any) -> Any:
        return (p * (p.log() - q.log())).sum()

    def direct(s: Any, t: Any, beta: float, temperature: float) -> Any:
        ps, pt = torch.softmax(s.double() / temperature, -1), torch.softmax(t.double() / temperature, -1)
        if beta == 0:
            return kl(pt, ps)  # forward KL
        if beta == 1:
            return kl(ps, pt)  # reverse KL
        m = beta * pt + (1 - beta) * ps
        return beta * kl(pt, m) + (1 - beta) * kl(ps, m)

    torch.manual_seed(0)
    student, teacher = torch.randn(2, 5, 11), torch.randn(2, 5, 11)
    labels = torch.tensor([[-100, -100, 3, 4, 5], [-100, 1, 2, -100, -100]])
    # position t is scored when the token it predicts (t + 1) is supervised
    scored = [(b, t) for b in range(2) for t in range(4) if labels[b, t + 1] != -100]
    for beta, temperature in ((0.5, 1.0), (0.2, 2.0), (0.0, 1.0), (1.0, 1.0)):
        me = SimpleNamespace(beta=beta, temperature=temperature, gkd_logits_topk=None)
        got = GKDTrainer._compute_jsd_loss(
            me, student, TeacherOutput(full_logits=teacher, labels=labels.clone()), labels.clone()
        )
        expected = torch.stack(
            [direct(student[b, t], teacher[b, t], beta, temperature) for b, t in scored]
        ).mean()
        assert float(got) == pytest.approx(float(expected), rel=1e-4, abs=1e-6), (beta, temperature)


def test_visual_kd_gradients_reach_student_and_text_skips(
    tiny_model_dir: Path, tiny_teacher_dir: Path
) -> None:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from vlmdata_plugins.gkd.config import VisualTarget
    from vlmdata_plugins.gkd.visual import VisualKD

    processor = AutoProcessor.from_pretrained(str(tiny_model_dir))
    student = AutoModelForImageTextToText.from_pretrained(str(tiny_model_dir)).train()
    teacher = AutoModelForImageTextToText.from_pretrained(str(tiny_teacher_dir)).eval().requires_grad_(False)
    targets = {
        "vit": VisualTarget(enabled=True),
        "aligner": VisualTarget(enabled=True, distance="cosine"),
        "deepstack": VisualTarget(enabled=True),
    }
    kd = VisualKD(student, teacher, targets)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}]
    text = processor.apply_chat_template(messages, tokenize=False)
    inputs = processor(text=[text], images=[Image.new("RGB", (64, 64), (200, 10, 10))], return_tensors="pt")
    student(**inputs)
    with torch.no_grad():
        teacher(**inputs)
    losses = kd.losses()
    assert set(losses) == {"vit", "aligner", "deepstack"} and all(float(v) > 0 for v in losses.values())
    sum(losses.values()).backward()
    visual = student.model.visual
    for module in (visual.blocks[-1], visual.merger, visual.deepstack_merger_list[0]):
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None for g in grads) and any(float(g.abs().sum()) > 0 for g in grads)
    assert all(p.grad is None for p in teacher.parameters())
    kd.clear()
    text_only = processor(text=["<|im_start|>user\nhello<|im_end|>\n"], return_tensors="pt")
    student(**text_only)
    teacher(**text_only)
    assert kd.losses() == {}


def test_config_errors(tmp_path: Path, tiny_model_dir: Path, dense_data: tuple[Path, Path]) -> None:
    from vlmdata.train.config import load_train_config

    with pytest.raises(VlmdataError) as err:
        load_train_config(
            _write(tmp_path, _config(tiny_model_dir, tmp_path / "nope", dense_data, tmp_path / "o"))
        )
    assert "teacher_model" in str(err.value) and "run.yaml" in str(err.value)
    other = tmp_path / "other-teacher"
    other.mkdir()
    cfg = json.loads((tiny_model_dir / "config.json").read_text(encoding="utf-8"))
    cfg["text_config"]["vocab_size"] = 1000
    (other / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    with pytest.raises(VlmdataError) as err:
        load_train_config(_write(tmp_path, _config(tiny_model_dir, other, dense_data, tmp_path / "o")))
    assert "vocab size 1000 != student 151936" in str(err.value)
    data = _config(
        tiny_model_dir,
        tiny_model_dir,
        dense_data,
        tmp_path / "o",
        seq_kd=True,
        llm_kd_weight=0.0,
        sft_alpha=0.0,
    )
    with pytest.raises(VlmdataError) as err:
        load_train_config(_write(tmp_path, data))
    assert "seq_kd" in str(err.value) and "every loss term is off" in str(err.value)


def test_bounded_jsd_equals_ms_swift_and_keeps_one_chunk() -> None:
    """Same value and gradient as ms-swift's JSD, with far fewer bytes held for the backward pass."""
    from types import SimpleNamespace

    import torch
    from swift.rlhf_trainers.gkd_loss import TeacherOutput
    from swift.rlhf_trainers.gkd_trainer import GKDTrainer
    from vlmdata_plugins.gkd.loss import bounded_jsd

    torch.manual_seed(1)
    batch, seq, vocab = 2, 700, 3000
    labels = torch.randint(0, vocab, (batch, seq))
    labels[:, :20] = -100
    teacher = torch.randn(batch, seq, vocab)

    def run(fn: Any) -> tuple[float, Any, int]:
        student = torch.randn(batch, seq, vocab, generator=torch.Generator().manual_seed(7)).requires_grad_(
            True
        )
        saved: list[int] = []

        def pack(t: Any) -> Any:
            saved.append(t.numel() * t.element_size())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = fn(student)
        loss.backward()
        return float(loss), student.grad, sum(saved)

    me = SimpleNamespace(beta=0.5, temperature=1.5, gkd_logits_topk=None)
    ref_loss, ref_grad, ref_bytes = run(
        lambda s: GKDTrainer._compute_jsd_loss(
            me, s, TeacherOutput(full_logits=teacher, labels=labels.clone()), labels.clone()
        )
    )
    shifted = torch.roll(labels, shifts=-1, dims=1)
    ours_loss, ours_grad, ours_bytes = run(
        lambda s: bounded_jsd(
            s,
            TeacherOutput(full_logits=teacher, labels=shifted.clone()),
            shifted.clone(),
            0.5,
            1.5,
            chunk=256,
        )
    )
    assert ours_loss == pytest.approx(ref_loss, rel=1e-5)
    assert torch.allclose(ours_grad, ref_grad, rtol=1e-4, atol=1e-7)
    print(f"saved for backward: ms-swift {ref_bytes / 2**20:.1f} MiB, bounded {ours_bytes / 2**20:.1f} MiB")
    assert ours_bytes * 3 < ref_bytes, (ours_bytes, ref_bytes)


@pytest.mark.parametrize("workers", [0, 1])
def test_dataset_batches_encoded_in_the_workers_train_as_the_main_process_encoding(
    tmp_path: Path,
    tiny_model_dir: Path,
    tiny_teacher_dir: Path,
    dense_data: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
) -> None:
    """Forward-only GKD: the rows' prefetched encodings (`rows.prefetch_encoder`) replace ms-swift's
    main-process encoding on every dataset batch, and the run logs the same losses and metrics as one that
    encodes on the main process."""
    from vlmdata_plugins.gkd import pipeline as gkd_pipeline

    made: list[Any] = []
    original = gkd_pipeline.make_gkd_trainer_cls

    def probing(base: type, use: bool) -> type:
        cls = original(base)

        class Probe(cls):  # type: ignore[misc, valid-type]
            vlmdata_use_prefetched = use

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                made.append(self)

        return Probe

    runs = {}
    for use in (True, False):
        monkeypatch.setattr(gkd_pipeline, "make_gkd_trainer_cls", lambda base, use=use: probing(base, use))
        cfg = _config(tiny_model_dir, tiny_teacher_dir, dense_data, tmp_path / f"run-{use}", lmbda=0.0)
        cfg["training"]["dataloader_num_workers"] = workers
        (tmp_path / f"cfg-{use}").mkdir()
        _, rows = _train(tmp_path / f"cfg-{use}", cfg)
        runs[use] = [r for r in rows if "train/loss" in r or "eval/loss" in r]
    on, off = made
    assert on.get_train_dataloader().device is None  # rows stay on the CPU until collated
    assert on.vlmdata_prefetched >= 4 and on.vlmdata_encoded_here == 0  # 2 steps x 2 rows, + evaluation
    assert off.vlmdata_prefetched == 0 and off.vlmdata_encoded_here == on.vlmdata_prefetched
    assert len(runs[True]) == len(runs[False]) >= 3
    for a, b in zip(runs[True], runs[False], strict=True):
        keys = {k for k in b if k.endswith(("loss", "token_acc"))}
        assert keys and keys == {k for k in a if k.endswith(("loss", "token_acc"))}
        for key in keys:
            assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-7), key


def test_on_policy_batches_are_encoded_on_the_main_process(
    tmp_path: Path,
    tiny_model_dir: Path,
    tiny_teacher_dir: Path,
    dense_data: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """lmbda = 1: every training batch is generated by the student, so its prefetched encoding is stale and
    must not be used; evaluation reads the dataset rows (2 validation records) and may use theirs."""
    from vlmdata_plugins.gkd import pipeline as gkd_pipeline

    made: list[Any] = []
    original = gkd_pipeline.make_gkd_trainer_cls

    def probing(base: type) -> type:
        cls = original(base)

        class Probe(cls):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                made.append(self)

        return Probe

    monkeypatch.setattr(gkd_pipeline, "make_gkd_trainer_cls", probing)
    cfg = _config(
        tiny_model_dir, tiny_teacher_dir, dense_data, tmp_path / "run", lmbda=1.0, max_completion_length=4
    )
    _train(tmp_path, cfg)
    (trainer,) = made
    assert trainer.vlmdata_encoded_here == 4 and trainer.vlmdata_prefetched == 2  # 2 steps x 2 rows; 2 eval
