"""`vlmdata infer` sizes images exactly as training does: ms-swift's own qwen3_vl encode (with the image env
training sets from the same run config) is the oracle for the number of image tokens and the image grid."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from vlmdata.eval.infer import model_inputs, pixel_bounds
from vlmdata.models.qwen import backend_image_env, effective_pixel_bounds, image_tokens, record_image_kwargs

pytestmark = pytest.mark.train

IMAGE_PAD = 151655
# min_pixels 3136 is 3.06 tokens: training (and the audit) use 3 tokens = 3072 px
TEMPLATE_CFG = {"min_pixels": 3136, "max_pixels": 1048576}


def swift_encoder(model_dir: Path, template_cfg: dict):
    from qwen_vl_utils import vision_process
    from swift import get_processor, get_template
    from swift.model.models.qwen import patch_qwen_vl_utils

    env = backend_image_env(template_cfg)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        processor = get_processor(str(model_dir), model_type="qwen3_vl", check_model=False)
        if hasattr(vision_process, "_patch"):  # ms-swift reads the env once per process: re-apply it
            del vision_process._patch
        patch_qwen_vl_utils(vision_process)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    template = get_template(processor, template_type="qwen3_vl")
    template.set_mode("train")
    return template


def _record(tmp: Path, rid: str, size: tuple[int, int], **meta: object) -> dict:
    path = tmp / f"{rid}.png"
    Image.new("RGB", size, (120, 60, 30)).save(path)
    return {
        "id": rid,
        "images": [str(path)],
        "width": size[0],
        "height": size[1],
        "objects": [{"desc": "a", "kind": "bbox_2d", "points": [1.0, 1.0, 5.0, 5.0], "image_index": 0}],
        "summary": None,
        "messages": None,
        "metadata": json.dumps(meta),
    }


def test_default_bounds_are_the_run_configs_as_training_applies_them() -> None:
    from vlmdata.config.run import TemplateConfig

    assert pixel_bounds() == effective_pixel_bounds(TemplateConfig()) == (3072, 1048576)
    assert pixel_bounds(3136, 1000000) == (3072, 999424)
    assert pixel_bounds(None, 65536) == (3072, 65536)


@pytest.mark.parametrize(
    ("size", "meta"),
    [
        ((107, 37), {}),  # raw 3136 gives 64×96 (6 tokens); training's 3072 gives 32×96 (3)
        ((3, 101), {}),  # a 1:34 sliver of an image, scaled up
        ((64, 64), {}),  # below the model processor's own 65536 px minimum
        ((1500, 900), {}),  # scaled down under max_pixels
        ((107, 37), {"min_pixels": 20000}),  # a record's own bound, exact (not rounded to tokens)
        ((800, 600), {"max_pixels": 70000}),
    ],
)
def test_infer_image_tokens_equal_ms_swift_training_encode(
    tiny_model_dir: Path, tmp_path: Path, size: tuple[int, int], meta: dict
) -> None:
    from transformers import AutoProcessor

    from vlmdata.render import build_messages, to_swift_standard

    record = _record(tmp_path, "r", size, **meta)
    processor = AutoProcessor.from_pretrained(str(tiny_model_dir), local_files_only=True)
    bounds = pixel_bounds(TEMPLATE_CFG["min_pixels"], TEMPLATE_CFG["max_pixels"])
    inputs, names = model_inputs(processor, [record], "grounding", bounds)
    ours = inputs["input_ids"][0].tolist().count(IMAGE_PAD)

    encoder = swift_encoder(tiny_model_dir, TEMPLATE_CFG)
    flat, images = to_swift_standard(build_messages(record, names[0]))
    row: dict = {"messages": flat, "images": images}
    if record_image_kwargs(record):
        row["chat_template_kwargs"] = record_image_kwargs(record)
    encoded = encoder.encode(row)
    assert ours == encoded["input_ids"].count(IMAGE_PAD) > 0
    assert inputs["image_grid_thw"].tolist() == encoded["image_grid_thw"].tolist()
    # and both equal the closed form the audit counts with
    lo, hi = meta.get("min_pixels", bounds[0]), meta.get("max_pixels", bounds[1])
    assert ours == image_tokens(size[1], size[0], lo, hi)


def test_a_records_unusable_bound_is_a_clear_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoProcessor

    from vlmdata.errors import VlmdataError

    processor = AutoProcessor.from_pretrained(str(tiny_model_dir), local_files_only=True)
    record = _record(tmp_path, "bad", (64, 64), min_pixels=50000, max_pixels=4000)
    with pytest.raises(VlmdataError) as err:
        model_inputs(processor, [record], "grounding", pixel_bounds())
    assert err.value.code_str == "VD423" and "bad" in str(err.value)


def test_the_cli_takes_the_bounds_from_the_run_config(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vlmdata.cli import main
    from vlmdata.eval import infer as infer_mod
    from vlmdata.io.dataset import save_records

    data = save_records([_record(tmp_path, "c", (107, 37))], tmp_path / "ds")
    config = tmp_path / "run.yaml"
    config.write_text(
        f"model: {{path: {tiny_model_dir}}}\ntemplate: {{min_pixels: 3136, max_pixels: 200000}}\n",
        encoding="utf-8",
    )
    seen: list[tuple[int, int]] = []
    real = infer_mod.model_inputs

    def spy(processor, records, template, bounds, system=None):
        seen.append(bounds)
        return real(processor, records, template, bounds, system)

    monkeypatch.setattr(infer_mod, "model_inputs", spy)
    out = tmp_path / "p.jsonl"
    args = ["infer", str(data), "--model", str(tiny_model_dir), "--out", str(out), "--max-new-tokens", "2"]
    assert main([*args, "--config", str(config)]) == 0
    assert seen == [(3072, 199680)]  # 195 whole tokens
    assert main([*args, "--config", str(config), "--max-pixels", "70000"]) == 0
    assert seen[-1] == (3072, 69632)
