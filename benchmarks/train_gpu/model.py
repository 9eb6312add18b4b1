"""A randomly initialised Qwen3-VL-2B-Instruct-architecture model folder, with vlmdata's offline processor.

The widths are those of the public config.json of Qwen3-VL-2B-Instruct (no weights are needed or fetched):
text 28 layers, hidden 2048, 16 attention heads, 8 KV heads, head_dim 128, intermediate 6144, tied
embeddings, vocabulary 151936, interleaved M-RoPE (mrope_section [24, 20, 20], rope_theta 5e6); vision 24
blocks, hidden 1024, intermediate 4096, 16 heads, patch 16, spatial merge 2, temporal patch 2, out_hidden 2048,
deepstack after blocks 5, 11 and 17, 2304 learned position embeddings. The tokenizer, image/video processor and
chat template are `vlmdata.models.tiny.build_processor()` (Qwen's special-token ids, so ms-swift's hard-coded
ids hold). `size="tiny"` builds `vlmdata.models.tiny`'s model instead (the CPU smoke test).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vlmdata.io.atomic import atomic_dir

QWEN3_VL_2B_TEXT: dict[str, Any] = {
    "hidden_size": 2048,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "intermediate_size": 6144,
    "hidden_act": "silu",
    "max_position_embeddings": 262144,
    "rms_norm_eps": 1e-6,
    "attention_bias": False,
    "rope_parameters": {
        "rope_type": "default",
        "rope_theta": 5000000.0,
        "mrope_section": [24, 20, 20],
        "mrope_interleaved": True,
    },
    "tie_word_embeddings": True,
    "initializer_range": 0.02,
}
QWEN3_VL_2B_VISION: dict[str, Any] = {
    "depth": 24,
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_heads": 16,
    "in_channels": 3,
    "patch_size": 16,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "out_hidden_size": 2048,
    "num_position_embeddings": 2304,
    "deepstack_visual_indexes": [5, 11, 17],
    "hidden_act": "gelu_pytorch_tanh",
    "initializer_range": 0.02,
}


VISION_SPECIALS = ("<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>")


def qwen3_vl_2b_config(dtype: str = "bfloat16") -> Any:
    from transformers import Qwen3VLConfig

    from vlmdata.models.tokenizer import SPECIAL_IDS, TEXT_VOCAB_SIZE

    text = dict(
        QWEN3_VL_2B_TEXT,
        vocab_size=TEXT_VOCAB_SIZE,
        bos_token_id=SPECIAL_IDS["<|endoftext|>"],
        eos_token_id=SPECIAL_IDS["<|im_end|>"],
        pad_token_id=SPECIAL_IDS["<|endoftext|>"],
        dtype=dtype,
    )
    return Qwen3VLConfig(
        text_config=text,
        vision_config=dict(QWEN3_VL_2B_VISION),
        image_token_id=SPECIAL_IDS["<|image_pad|>"],
        video_token_id=SPECIAL_IDS["<|video_pad|>"],
        vision_start_token_id=SPECIAL_IDS["<|vision_start|>"],
        vision_end_token_id=SPECIAL_IDS["<|vision_end|>"],
        tie_word_embeddings=True,
        dtype=dtype,
    )


def build_model(out: str | Path, seed: int = 0, size: str = "2b") -> Path:
    """Write the model folder (random weights from `seed`) and return its path; an existing one is kept."""
    target = Path(out)
    if (target / "config.json").is_file():
        return target
    if size == "tiny":
        from vlmdata.models.tiny import build_tiny_model

        return build_tiny_model(target, seed=seed)
    import torch
    from transformers import GenerationConfig, Qwen3VLForConditionalGeneration

    from vlmdata.models.tiny import build_processor
    from vlmdata.models.tokenizer import SPECIAL_IDS

    config = qwen3_vl_2b_config()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(int(seed))
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = Qwen3VLForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(default)
    model.generation_config = GenerationConfig(
        bos_token_id=SPECIAL_IDS["<|endoftext|>"],
        eos_token_id=[SPECIAL_IDS["<|im_end|>"], SPECIAL_IDS["<|endoftext|>"]],
        pad_token_id=SPECIAL_IDS["<|endoftext|>"],
        do_sample=False,
        # random weights sample any id; a vision placeholder in a completion would be re-encoded as an image
        # slot without pixels (a trained model never emits them)
        suppress_tokens=sorted(SPECIAL_IDS[t] for t in VISION_SPECIALS),
    )
    params = int(sum(p.numel() for p in model.parameters()))
    with atomic_dir(target) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        build_processor().save_pretrained(str(tmp))
        info = {
            "builder": "benchmarks/train_gpu/model.py",
            "architecture": "Qwen3-VL-2B-Instruct (public config.json)",
            "seed": int(seed),
            "parameters": params,
            "dtype": "bfloat16",
        }
        (tmp / "vlmdata_bench_model.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return target
