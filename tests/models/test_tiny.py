"""The tiny offline Qwen3-VL: Qwen token ids, deterministic rebuilds, transformers and ms-swift compatibility."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlmdata.io.output import MARKER
from vlmdata.models.tokenizer import QWEN_SPECIAL_TOKENS, SPECIAL_IDS

pytestmark = pytest.mark.train


def _files(folder: Path) -> dict[str, bytes]:
    """The model's files (the output marker records the time of the build, not the model)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.name != MARKER}


def test_rebuild_through_cli_is_byte_identical(tiny_model_dir: Path, tmp_path: Path) -> None:
    from vlmdata.cli import main

    out = tmp_path / "again"
    assert main(["tiny-model", str(out), "--seed", "0"]) == 0
    first, second = _files(tiny_model_dir), _files(out)
    assert sorted(first) == sorted(second)
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"} <= set(first)
    for name in first:
        assert first[name] == second[name], name


def test_special_tokens_sit_at_qwen_ids(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert len(QWEN_SPECIAL_TOKENS) == 26
    assert len(tok) == 151669
    for i, (token, _) in enumerate(QWEN_SPECIAL_TOKENS):
        assert tok.convert_tokens_to_ids(token) == 151643 + i
    assert SPECIAL_IDS["<|image_pad|>"] == 151655
    assert tok.convert_tokens_to_ids("<|vision_start|>") == 151652
    assert tok.convert_tokens_to_ids("</think>") == 151668
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["model_type"] == "qwen3_vl"
    assert config["text_config"]["vocab_size"] == 151936
    assert config["image_token_id"] == 151655
    assert config["vision_config"]["patch_size"] == 16 and config["vision_config"]["spatial_merge_size"] == 2
    assert len(config["vision_config"]["deepstack_visual_indexes"]) >= 2


def test_tokenizer_splits_digits_and_round_trips(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = tok("[1024, 7, 993]", add_special_tokens=False)["input_ids"]
    pieces = tok.convert_ids_to_tokens(ids)
    assert [p for p in pieces if p.strip("Ġ").isdigit()] == ["1", "0", "2", "4", "7", "9", "9", "3"]
    for text in [
        '{"object_1": {"desc": "BBU设备/品牌=华为/可见性=完整", "bbox_2d": [12, 345, 1000, 7]}}',
        '<DOMAIN=RRU>, <TASK=SUMMARY>\n{"统计": [{"类别": "天线", "分组统计": {"1": 3}}]}',
        "无关图片",
        "Emoji 😀 and tabs\tand CRLF\r\n ok",
    ]:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text
        assert all(i < 151643 for i in ids)
    # the trained merges compress our CJK vocabulary (not one token per byte)
    assert len(tok("BBU设备品牌华为", add_special_tokens=False)["input_ids"]) < len(
        "BBU设备品牌华为".encode()
    )


def test_chat_template_and_processor_expand_images(tiny_model_dir: Path) -> None:
    from PIL import Image
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(tiny_model_dir)
    messages = [
        {"role": "system", "content": "You are careful."},
        {
            "role": "user",
            "content": [
                {"type": "image", "image": "a.png"},
                {"type": "image", "image": "b.png"},
                {"type": "text", "text": "Describe."},
            ],
        },
        {"role": "assistant", "content": "ok"},
    ]
    text = proc.apply_chat_template(messages, tokenize=False)
    assert text == (
        "<|im_start|>system\nYou are careful.<|im_end|>\n<|im_start|>user\n"
        "<|vision_start|><|image_pad|><|vision_end|><|vision_start|><|image_pad|><|vision_end|>Describe.<|im_end|>\n"
        "<|im_start|>assistant\nok<|im_end|>\n"
    )
    prompt = proc.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    images = [Image.new("RGB", (512, 256)), Image.new("RGB", (320, 320))]
    enc = proc(text=[text], images=images, return_tensors="pt")
    grids = enc["image_grid_thw"].tolist()
    expected = sum(t * h * w // 4 for t, h, w in grids)
    assert int((enc["input_ids"] == 151655).sum()) == expected
    assert grids[0] == [1, 16, 32]  # 512x256 is within the processor's pixel range: 32 px per merged token


def test_teacher_shares_the_tokenizer_not_the_weights(tiny_model_dir: Path, tiny_teacher_dir: Path) -> None:
    from safetensors import safe_open

    assert (tiny_model_dir / "tokenizer.json").read_bytes() == (
        tiny_teacher_dir / "tokenizer.json"
    ).read_bytes()
    s_cfg = json.loads((tiny_model_dir / "config.json").read_text())
    t_cfg = json.loads((tiny_teacher_dir / "config.json").read_text())
    assert t_cfg["text_config"]["num_hidden_layers"] == s_cfg["text_config"]["num_hidden_layers"] + 1
    assert t_cfg["text_config"]["hidden_size"] == s_cfg["text_config"]["hidden_size"]
    assert t_cfg["vision_config"] == s_cfg["vision_config"]
    key = "model.visual.patch_embed.proj.weight"
    with (
        safe_open(tiny_model_dir / "model.safetensors", "pt") as a,
        safe_open(tiny_teacher_dir / "model.safetensors", "pt") as b,
    ):
        assert key in a.keys()
        assert not a.get_tensor(key).equal(b.get_tensor(key))


def test_ms_swift_loads_encodes_and_runs_forward(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch
    from PIL import Image
    from swift import get_model_processor, get_template

    model, processor = get_model_processor(str(tiny_model_dir), model_type="qwen3_vl", check_model=False)
    n_params = sum(p.numel() for p in model.parameters())
    assert 1_000_000 < n_params < 10_000_000
    template = get_template(processor, template_type="qwen3_vl")
    template.set_mode("train")
    template.model = model
    Image.new("RGB", (300, 200), (40, 90, 10)).save(tmp_path / "x.png")
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image", "image": str(tmp_path / "x.png")},
                {"type": "text", "text": "Describe."},
            ],
        },
        {"role": "assistant", "content": '{"object_1": {"desc": "螺丝", "bbox_2d": [1, 2, 3, 4]}}'},
    ]
    enc = template.encode({"messages": messages})
    ids = enc["input_ids"]
    assert ids.count(151655) == (192 // 32) * (288 // 32)  # 300x200 rounds to 288x192 on the 32 px grid
    assert ids[0] == 151644 and 151652 in ids and 151653 in ids
    batch = template.data_collator([enc])
    with torch.no_grad():
        out = model(**batch)
    assert torch.isfinite(out.loss)
