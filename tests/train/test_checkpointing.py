"""`training.checkpoint_every_n_layers`: only every n-th decoder layer recomputes; the arithmetic is unchanged.

Oracle: forward calls counted on each decoder layer of the language model during real tiny-model runs (a
recomputed layer runs its forward twice per micro-batch, a layer that keeps its activations once), and the
losses of the same run with every layer checkpointed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.train


def _losses(run: Path) -> list[float]:
    rows = [
        json.loads(x) for x in (run / "logging.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()
    ]
    return [r["train/loss"] for r in rows if "train/loss" in r]


def test_every_second_layer_recomputes_and_losses_equal_full_checkpointing(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, sft_helpers: Any
) -> None:
    from vlmdata_plugins.common import checkpointing
    from vlmdata_plugins.common.trainer import VlmdataTrainerMixin

    helpers = sft_helpers
    plugin = helpers.sft_plugin()
    data = helpers.make_dataset(tmp_path, "bbu", 4)
    calls: dict[int, list[int]] = {}
    original = VlmdataTrainerMixin._prepare_gradient_checkpointing

    def counting(self: Any, model: Any) -> None:
        original(self, model)
        counts = [0] * len(checkpointing.language_layers(model))
        calls[self.vlmdata_plan.config.training.checkpoint_every_n_layers] = counts
        for i, layer in enumerate(checkpointing.language_layers(model)):
            layer.register_forward_pre_hook(
                lambda *_a, i=i, counts=counts: counts.__setitem__(i, counts[i] + 1)
            )

    monkeypatch.setattr(VlmdataTrainerMixin, "_prepare_gradient_checkpointing", counting)
    losses = {}
    for every in (1, 2):
        run = tmp_path / f"run-{every}"
        cfg = helpers.config(
            tiny_model_dir,
            run,
            train=[data],
            training={
                "max_steps": 2,
                "save_steps": 2,
                "gradient_checkpointing": True,
                "checkpoint_every_n_layers": every,
            },
        )
        plan = plugin.plan(cfg)
        assert any("one decoder layer in 2" in n for n in plan.notes) == (every == 2)
        plugin.run(plan)
        losses[every] = _losses(run)
    micro_batches = 2  # two steps of one micro-batch
    assert len(calls[1]) == len(calls[2]) == 2  # the tiny model's two decoder layers
    assert calls[1] == [2 * micro_batches, 2 * micro_batches]  # every layer recomputed
    assert calls[2] == [2 * micro_batches, micro_batches]  # layer 0 recomputed, layer 1 kept its activations
    assert len(losses[1]) == len(losses[2]) == 2
    assert losses[2] == pytest.approx(losses[1], rel=1e-6, abs=1e-7)


def test_thinned_checkpointing_needs_checkpointing(tmp_path: Path, tiny_model_dir: Path) -> None:
    from vlmdata.config.run import RunConfig

    base = {"model": {"path": str(tiny_model_dir)}}
    with pytest.raises(ValueError, match="checkpoint_every_n_layers: 3 needs gradient_checkpointing: true"):
        RunConfig.model_validate(
            {
                **base,
                "training": {
                    "output_dir": str(tmp_path),
                    "gradient_checkpointing": False,
                    "checkpoint_every_n_layers": 3,
                },
            }
        )
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        RunConfig.model_validate(
            {**base, "training": {"output_dir": str(tmp_path), "checkpoint_every_n_layers": 0}}
        )
    ok = RunConfig.model_validate(
        {**base, "training": {"output_dir": str(tmp_path), "gradient_checkpointing": False}}
    )
    assert ok.training.checkpoint_every_n_layers == 1
