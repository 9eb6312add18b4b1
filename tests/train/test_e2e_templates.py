"""From a COCO file to a trained adapter with a template defined in YAML, through the CLI:
`vlmdata import coco` → `validate` → `fuse` → `audit` → `train --plugin sft` on the tiny Qwen3-VL.

`test_jsonl_to_adapter_with_a_user_template` runs the chain from the contract JSONL an importer writes;
`test_coco_to_adapter_with_a_user_template` runs it from the COCO file itself.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from PIL import Image

from vlmdata.cli import main

pytestmark = pytest.mark.train

CATEGORIES = [
    {"supercategory": "person", "id": 1, "name": "person"},
    {"supercategory": "outdoor", "id": 38, "name": "kite"},
]
TEMPLATE = """\
# A user template: Qwen3-VL's own grounding answer, a prompt of the user's own words
name: coco_qwen
description: COCO objects answered as Qwen3-VL answers grounding questions
system: You find objects in photos.
user: |
  Find every object in the {n_images} image(s). {format}
target: {format: qwen}
"""


def _coco(root: Path) -> tuple[Path, list[dict]]:
    """A COCO instances file written as the COCO tools write it, its images, and the records it holds."""
    images, annotations, records = [], [], []
    ann_id = 1
    for i in range(6):
        w, h = 64 + 16 * (i % 3), 48
        name = f"{i:012d}.jpg"
        Image.new("RGB", (w, h), (20 * i, 120, 200 - 10 * i)).save(root / "images" / name)
        images.append(
            {"license": 1, "file_name": name, "coco_url": "", "height": h, "width": w, "id": 100 + i}
        )
        box = [2.0 + i, 3.0, 20.0, 15.0 + i]  # x, y, w, h
        poly = [30.0, 10.0, 50.0, 10.0, 50.0, 30.0, 30.0, 30.0]
        annotations.append(
            {"segmentation": [poly], "area": 400.0, "iscrowd": 0, "image_id": 100 + i, "bbox": [30.0, 10.0, 20.0, 20.0], "category_id": 38, "id": ann_id}
        )  # fmt: skip
        annotations.append(
            {"segmentation": [], "area": box[2] * box[3], "iscrowd": 0, "image_id": 100 + i, "bbox": box, "category_id": 1, "id": ann_id + 1}
        )  # fmt: skip
        ann_id += 2
        records.append(
            {
                "id": str(100 + i),
                "images": [f"images/{name}"],
                "width": w,
                "height": h,
                "objects": [
                    {"desc": "kite", "poly": poly},
                    {"desc": "person", "bbox_2d": [box[0], box[1], box[0] + box[2], box[1] + box[3]]},
                ],
            }
        )
    coco = {
        "info": {"description": "tiny", "version": "1.0", "year": 2026},
        "licenses": [{"url": "", "id": 1, "name": "test"}],
        "images": images,
        "annotations": annotations,
        "categories": CATEGORIES,
    }
    path = root / "annotations" / "instances_train.json"
    path.write_text(json.dumps(coco), encoding="utf-8")
    return path, records


@pytest.fixture
def coco_root(tmp_path: Path) -> Path:
    for sub in ("images", "annotations", "templates"):
        (tmp_path / sub).mkdir()
    (tmp_path / "templates" / "coco.yaml").write_text(TEMPLATE, encoding="utf-8")
    return tmp_path


def _chain(root: Path, jsonl: Path, model: Path, image_root: Path | None = None) -> None:
    """validate → fuse → audit → train on `jsonl` with the user template, asserting each step's result."""
    from datasets import load_from_disk
    from safetensors.numpy import load_file

    from vlmdata.render import build_messages, get_template

    where = ["--image-root", str(image_root)] if image_root is not None else []
    assert main(["validate", str(jsonl), *where, "--out", str(root / "validated")]) == 0
    (root / "fusion.yaml").write_text(
        "templates: [templates]\ntargets:\n  - {name: coco, data: validated/data, template: coco_qwen, augment: false}\n",
        encoding="utf-8",
    )
    assert main(["fuse", str(root / "fusion.yaml"), "--out", str(root / "fused")]) == 0
    fused = load_from_disk(str(root / "fused" / "data")).to_list()
    assert len(fused) == 6 and all(json.loads(r["metadata"])["_template"] == "coco_qwen" for r in fused)
    # what the model is trained on: the user's prompt and Qwen3-VL's own answer format
    messages = build_messages(fused[0], "coco_qwen")
    assert messages[0]["content"] == "You find objects in photos."
    assert messages[1]["content"][-1]["text"].startswith(
        "Find every object in the 1 image(s). Answer with a JSON"
    )
    assert (
        messages[2]["content"].startswith('```json\n[\n\t{"') and '"label": "kite"' in messages[2]["content"]
    )
    assert get_template("coco_qwen").source == str((root / "templates" / "coco.yaml").resolve())

    run = root / "run.yaml"
    run.write_text(
        f"""\
plugin: sft
model: {{path: {model}, dtype: float32}}
templates: [templates]
template: {{name: coco_qwen, max_pixels: 4096, min_pixels: 1024}}
global_max_length: 1024
data: {{train: [fused/data]}}
tuner: {{train_type: lora, lora_dropout: 0.0}}
training:
  output_dir: out
  max_steps: 2
  per_device_train_batch_size: 2
  gradient_accumulation_steps: 1
  learning_rate: 0.002
  warmup_ratio: 0.0
  weight_decay: 0.0
  logging_steps: 1
  save_steps: 2
  report_to: [none]
""",
        encoding="utf-8",
    )
    report = root / "audit.json"
    assert (
        main(
            [
                "audit",
                str(root / "fused" / "data"),
                "--config",
                str(run),
                "--out",
                str(report),
                "--write-lengths",
            ]
        )
        == 0
    )
    audit = json.loads(report.read_text(encoding="utf-8"))
    assert audit["ok"] and audit["sized"] == 6 and not audit["errors"] and audit["template"] == "coco_qwen"
    assert main(["train", "--config", str(run), "--plugin", "sft"]) == 0
    out = root / "out"
    losses = [
        json.loads(line)["train/loss"]
        for line in (out / "logging.jsonl").read_text().splitlines()
        if "train/loss" in json.loads(line)
    ]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    weights = load_file(str(out / "checkpoint-2" / "adapter_model.safetensors"))
    lora_b = {k: v for k, v in weights.items() if "lora_B" in k}
    assert lora_b and all(abs(v).max() > 0 for v in lora_b.values()), "every LoRA B (zero at start) moved"
    manifest = json.loads((out / "data_manifest.json").read_text(encoding="utf-8"))
    assert '"template": "coco_qwen"' in json.dumps(manifest)  # the run records the template it used


def test_jsonl_to_adapter_with_a_user_template(coco_root: Path, tiny_model_dir: Path) -> None:
    """The chain after the import step, from the contract JSONL an importer writes for this COCO file."""
    _, records = _coco(coco_root)
    jsonl = coco_root / "train.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    _chain(coco_root, jsonl, tiny_model_dir)


def test_coco_to_adapter_with_a_user_template(coco_root: Path, tiny_model_dir: Path) -> None:
    coco, records = _coco(coco_root)
    jsonl = coco_root / "imported.jsonl"
    assert (
        main(["import", "coco", str(coco), "--out", str(jsonl), "--image-root", str(coco_root / "images")])
        == 0
    )
    imported = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert len(imported) == 6 and sum(len(r["objects"]) for r in imported) == 12
    _chain(coco_root, jsonl, tiny_model_dir, image_root=coco_root / "images")  # image paths: relative to it
