"""A tiny, randomly initialised Qwen3-VL built offline: the model the demo, the tests and CI train on.

`build_tiny_model(out, seed, teacher)` writes a normal Hugging Face model folder (`config.json`,
`model.safetensors`, `generation_config.json`, tokenizer, image/video processor and chat template) that
`transformers` loads with the Auto classes and ms-swift loads as `model_type qwen3_vl`. Nothing is downloaded.

Architecture: the real Qwen3-VL layout with tiny widths — a 4-block vision tower (patch 16, temporal patch 2,
spatial merge 2, so one image token per 32x32 pixels) with deepstack mergers after blocks 1 and 2, and a
2-layer text model (3 layers for `teacher=True`) of hidden size 32 with interleaved M-RoPE. The text vocabulary
has Qwen's 151936 rows (see `vlmdata.models.tokenizer` for why); the embedding is tied to the LM head, so the
model has about five million parameters, almost all of them in that table.

Determinism: weights come from `torch.manual_seed(seed)` on CPU and every file is written by code whose
output depends only on its inputs, so rebuilding with the same arguments gives byte-identical files. `seed`
changes only the weights (the tokenizer is always the same), which is what a GKD teacher needs. `teacher=True`
keeps every width (so visual features of student and teacher can be compared one to one) and adds one
decoder layer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vlmdata.io.output import output_dir
from vlmdata.models.tokenizer import SPECIAL_IDS, TEXT_VOCAB_SIZE

PATCH_SIZE = 16
MERGE_SIZE = 2
TEMPORAL_PATCH_SIZE = 2
IMAGE_FACTOR = PATCH_SIZE * MERGE_SIZE

# Qwen3-VL's own processor bounds (65536 px to 16 Mpx per image); ms-swift resizes with its own bounds.
DEFAULT_MIN_PIXELS = 65536
DEFAULT_MAX_PIXELS = 16777216

TEXT_HIDDEN = 32
VISION_HIDDEN = 32


def model_config(teacher: bool = False) -> Any:
    from transformers import Qwen3VLConfig

    text = {
        "vocab_size": TEXT_VOCAB_SIZE,
        "hidden_size": TEXT_HIDDEN,
        "intermediate_size": 64,
        "num_hidden_layers": 3 if teacher else 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 16,
        "hidden_act": "silu",
        "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-6,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 5000000.0,
            "mrope_section": [4, 2, 2],
            "mrope_interleaved": True,
        },
        "bos_token_id": SPECIAL_IDS["<|endoftext|>"],
        "eos_token_id": SPECIAL_IDS["<|im_end|>"],
        "pad_token_id": SPECIAL_IDS["<|endoftext|>"],
        "tie_word_embeddings": True,
        "dtype": "float32",
    }
    vision = {
        "depth": 4,
        "hidden_size": VISION_HIDDEN,
        "intermediate_size": 64,
        "num_heads": 2,
        "in_channels": 3,
        "patch_size": PATCH_SIZE,
        "spatial_merge_size": MERGE_SIZE,
        "temporal_patch_size": TEMPORAL_PATCH_SIZE,
        "out_hidden_size": TEXT_HIDDEN,
        "num_position_embeddings": 2304,
        "deepstack_visual_indexes": [1, 2],
        "hidden_act": "gelu_pytorch_tanh",
    }
    return Qwen3VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=SPECIAL_IDS["<|image_pad|>"],
        video_token_id=SPECIAL_IDS["<|video_pad|>"],
        vision_start_token_id=SPECIAL_IDS["<|vision_start|>"],
        vision_end_token_id=SPECIAL_IDS["<|vision_end|>"],
        tie_word_embeddings=True,
        dtype="float32",
    )


def build_processor() -> Any:
    """Tokenizer + image processor + video processor + chat template, as a `Qwen3VLProcessor`."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor
    from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer

    from vlmdata.models.chat_template import CHAT_TEMPLATE
    from vlmdata.models.tokenizer import build_backend_tokenizer

    backend = build_backend_tokenizer()
    tokenizer = Qwen2Tokenizer(
        tokenizer_object=backend,
        unk_token=None,  # type: ignore[arg-type]  # Qwen's tokenizers have no unknown token
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
        errors="replace",
        add_prefix_space=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    half = [0.5, 0.5, 0.5]
    image_processor = Qwen2VLImageProcessor(
        patch_size=PATCH_SIZE,
        temporal_patch_size=TEMPORAL_PATCH_SIZE,
        merge_size=MERGE_SIZE,
        image_mean=half,
        image_std=half,
        size={"shortest_edge": DEFAULT_MIN_PIXELS, "longest_edge": DEFAULT_MAX_PIXELS},
    )
    video_processor = Qwen3VLVideoProcessor(
        patch_size=PATCH_SIZE,
        temporal_patch_size=TEMPORAL_PATCH_SIZE,
        merge_size=MERGE_SIZE,
        image_mean=half,
        image_std=half,
        size={"shortest_edge": 4096, "longest_edge": 25165824},
        fps=2,
    )
    return Qwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )


def build_tiny_model(out: str | Path, seed: int = 0, teacher: bool = False) -> Path:
    """Build the tiny model folder at `out` (the `--out` rule: replaced atomically, only if vlmdata wrote it)."""
    from vlmdata.io.output import check_out

    target = Path(out)
    check_out(target, command="tiny-model", flag="OUT")  # refuse before building anything

    import torch
    from transformers import GenerationConfig, Qwen3VLForConditionalGeneration

    config = model_config(teacher=teacher)
    torch.manual_seed(int(seed))
    with torch.device("cpu"):
        model = Qwen3VLForConditionalGeneration(config)
    model.eval()
    model.generation_config = GenerationConfig(
        bos_token_id=SPECIAL_IDS["<|endoftext|>"],
        eos_token_id=[SPECIAL_IDS["<|im_end|>"], SPECIAL_IDS["<|endoftext|>"]],
        pad_token_id=SPECIAL_IDS["<|endoftext|>"],
        do_sample=False,
    )
    processor = build_processor()
    with output_dir(target, command="tiny-model", flag="OUT") as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        processor.save_pretrained(str(tmp))
        info = {
            "builder": "vlmdata.models.tiny",
            "seed": int(seed),
            "teacher": bool(teacher),
            "parameters": int(sum(p.numel() for p in model.parameters())),
        }
        (tmp / "vlmdata_tiny_model.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return target
