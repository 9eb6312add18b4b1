"""Step time of the `sft` plugin vs plain ms-swift SFT on the same model, data and batch (tiny model, CPU).

Peer: ms-swift's own `SwiftSft` pipeline (what `swift sft` runs) on the same records exported to ms-swift's
standard JSONL with `vlmdata.export`, under the same image-resize environment. Both sides: LoRA on the tiny
Qwen3-VL, batch 2, no gradient checkpointing, no length grouping, no augmentation, float32 on the CPU. A
callback records wall time between `on_step_begin` and `on_step_end`; the figure is the median over steps
2..N (step 1 includes lazy initialisation). On a GPU the same script measures the spec's overhead target;
on the shared CPU box it shows what the data layer and the per-dataset metrics cost relative to a tiny model.

Prints one JSON line per figure. `--quick`: 6 steps per side instead of 20.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _plugins() -> None:
    if importlib.util.find_spec("vlmdata_plugins") is None:
        spec = importlib.util.spec_from_file_location(
            "vlmdata_plugins",
            ROOT / "plugins" / "__init__.py",
            submodule_search_locations=[str(ROOT / "plugins")],
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["vlmdata_plugins"] = module
        spec.loader.exec_module(module)


def step_timer() -> Any:
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self._t = 0.0

        def on_step_begin(self, *a: Any, **k: Any) -> None:
            self._t = time.perf_counter()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            self.times.append(time.perf_counter() - self._t)

    return Timer()


def records(root: Path, n: int) -> list[dict[str, Any]]:
    from PIL import Image

    (root / "images").mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        w, h = 96 + 32 * (i % 3), 64
        path = root / "images" / f"r{i}.png"
        Image.new("RGB", (w, h), ((i * 53) % 255, 90, 140)).save(path)
        objects = [{"desc": "螺丝", "kind": "bbox_2d", "points": [2.0, 3.0, 20.0 + i % 40, 30.0]}] * (
            1 + i % 4
        )
        out.append(
            {
                "id": f"r{i}",
                "images": [str(path)],
                "width": w,
                "height": h,
                "objects": objects,
                "metadata": {"domain": "BBU"},
                "source_file": "r.jsonl",
                "source_line": i + 1,
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    opts = parser.parse_args()
    steps = 6 if opts.quick else 20
    _plugins()
    from swift.arguments import SftArguments
    from swift.pipelines.train.sft import SwiftSft
    from vlmdata_plugins.common.env import image_env
    from vlmdata_plugins.sft import SftPlugin

    from vlmdata.config.run import RunConfig
    from vlmdata.export import export_records
    from vlmdata.io.dataset import save_records
    from vlmdata.models.tiny import build_tiny_model

    tmp = Path(tempfile.mkdtemp(prefix="vlmdata-bench-"))
    model = build_tiny_model(tmp / "model", seed=0)
    recs = records(tmp / "data", 2 * steps + 4)
    dataset = save_records(recs, tmp / "ds" / "data")
    template = {"name": "target_dense_bbu", "max_pixels": 128 * 128, "min_pixels": 32 * 32}
    cfg = RunConfig.model_validate(
        {
            "model": {"path": str(model), "dtype": "float32"},
            "template": template,
            "global_max_length": 4096,
            "data": {"train": [str(dataset)]},
            "tuner": {"train_type": "lora", "lora_dropout": 0.0},
            "training": {
                "output_dir": str(tmp / "ours"),
                "max_steps": steps,
                "per_device_train_batch_size": 2,
                "gradient_accumulation_steps": 1,
                "logging_steps": 1,
                "save_steps": 10_000,
                "gradient_checkpointing": False,
                "group_by_length": False,
                "report_to": ["none"],
            },
        }
    )
    plugin = SftPlugin()
    plan = plugin.plan(cfg)

    ours = step_timer()
    plugin.run(plan, extra_callbacks=[ours])

    jsonl = tmp / "export.jsonl"
    export_records(recs, jsonl, template="target_dense_bbu", template_cfg=cfg.template)
    peer = step_timer()

    class PlainSft(SwiftSft):  # unmodified ms-swift; only the timer is attached
        def train(self, trainer: Any) -> Any:
            trainer.add_callback(peer)
            return super().train(trainer)

    args = {k: v for k, v in plan.backend_args.items() if not k.startswith("vlmdata_")}
    args.update(
        dataset=[str(jsonl)],
        val_dataset=[],
        output_dir=str(tmp / "peer"),
        group_by_length=False,
        train_dataloader_shuffle=True,
        max_length=4096,
    )
    with image_env(plan.env):
        PlainSft(SftArguments(**args)).main()

    a, b = statistics.median(ours.times[1:]), statistics.median(peer.times[1:])
    for row in (
        {"figure": "median_step_seconds", "impl": "vlmdata_sft", "value": a, "steps": len(ours.times)},
        {"figure": "median_step_seconds", "impl": "swift_sft", "value": b, "steps": len(peer.times)},
        {"figure": "step_time_ratio_vs_swift_sft", "value": a / b, "target_gpu": 1.03},
    ):
        print(json.dumps({"bench": "train_step", "device": "cpu", **row}), flush=True)


if __name__ == "__main__":
    main()
