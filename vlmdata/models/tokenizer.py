"""A small Qwen-compatible byte-level BPE tokenizer, trained offline in about a second.

Qwen2/Qwen3 tokenizers are byte-level BPE with a fixed pre-tokeniser (a regex that isolates every digit, so
`1024` is always four tokens) and 26 special tokens at ids 151643-151668. ms-swift and the Qwen3-VL model
hard-code some of those ids (`<|image_pad|>` = 151655, `<|vision_start|>` = 151652, ...), so a stand-in
tokenizer must keep them exactly there. We therefore:

1. train a byte-level BPE with Qwen2's exact normaliser (NFC), pre-tokeniser regex and byte-level alphabet on
   a generated corpus that looks like our data: English prompt text, JSON scaffolding of dense targets,
   integers on the 0-1000 grid, and the Chinese words our object descriptions and summaries use;
2. pad the vocabulary with never-produced `<|unused_N|>` entries up to id 151642;
3. append Qwen's 26 special tokens in Qwen's order, so they land at 151643-151668.

The model's embedding table has 151936 rows, as in every Qwen2/Qwen3 checkpoint. The corpus is built from a
seeded `random.Random`, and the BPE trainer breaks ties deterministically, so the tokenizer is byte-identical
on every build (a test checks it).
"""

from __future__ import annotations

import json
import random
from typing import Any

QWEN_PRETOKENIZE_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

FIRST_SPECIAL_ID = 151643
TEXT_VOCAB_SIZE = 151936

# (token, special) in Qwen's id order, starting at 151643. `special=False` entries are added tokens that
# decoding keeps even with skip_special_tokens, as in Qwen's own tokenizer_config.json.
QWEN_SPECIAL_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
)

SPECIAL_IDS = {tok: FIRST_SPECIAL_ID + i for i, (tok, _) in enumerate(QWEN_SPECIAL_TOKENS)}

_ENGLISH = (
    "the a an of to in on at and or with for from by is are be this that each every all any no not only "
    "image images picture photo object objects detect detection describe description list output return "
    "write give find locate count summarize summary report JSON json format key keys value values field "
    "bounding box boxes polygon polygons line lines polyline point points coordinate coordinates grid "
    "integer integers normalized scale top left right bottom center order first second third last one two "
    "please answer question user assistant system you are helpful careful expert inspector telecom site "
    "equipment cabinet cable cables antenna screw label tag port power ground fiber rack visible partial "
    "complete hidden irrelevant category attribute attributes remark remarks group groups domain task "
    "dense caption grounding target source chat reply text word words sentence here there what which how "
    "many much where when why who model train training eval evaluation data dataset record records sample"
).split()

_CJK = (
    "类别 BBU设备 品牌 华为 中兴 爱立信 诺基亚 可见性 完整 部分 无关图片 统计 备注 分组统计 RRU 天线 螺丝 "
    "标签 线缆 光纤 光模块 电源线 接地线 挡风板 机柜 机架 安装 正确 错误 是 否 合格 不合格 遮挡 模糊 清晰 "
    "数量 位置 颜色 红色 黄色 绿色 蓝色 黑色 白色 灰色 端口 电源 连接 松动 紧固 插头 走线 规范 不规范 "
    "扎带 标识 设备 型号 状态 正常 异常 组 编号 上 下 左 右 前 后 个 条 根 处 图片 检测 描述 对象 目标"
).split()

_ATTR_KEYS = (
    "类别",
    "品牌",
    "可见性",
    "状态",
    "颜色",
    "备注",
    "型号",
    "安装",
    "category",
    "brand",
    "visibility",
)


def _desc(rng: random.Random) -> str:
    parts = [rng.choice(_CJK)]
    for _ in range(rng.randint(0, 3)):
        parts.append(f"{rng.choice(_ATTR_KEYS)}={rng.choice(_CJK)}")
    sep = rng.choice(["/", ",", "|", "/"])
    return sep.join(parts)


def _dense_line(rng: random.Random) -> str:
    items = []
    for i in range(1, rng.randint(2, 8)):
        kind = rng.choice(["bbox_2d", "bbox_2d", "poly", "line"])
        if kind == "bbox_2d":
            geom = "[" + ", ".join(str(rng.randint(0, 1000)) for _ in range(4)) + "]"
            items.append(f'"object_{i}": {{"desc": "{_desc(rng)}", "bbox_2d": {geom}}}')
        else:
            n = rng.randint(2, 6)
            pts = ", ".join(f"[{rng.randint(0, 1000)}, {rng.randint(0, 1000)}]" for _ in range(n))
            extra = f'"line_points": {n}, ' if kind == "line" else ""
            items.append(f'"object_{i}": {{"desc": "{_desc(rng)}", {extra}"{kind}": [{pts}]}}')
    header = rng.choice(["<DOMAIN=BBU>, <TASK=DETECTION>\n", "<DOMAIN=RRU>, <TASK=DETECTION>\n", ""])
    return header + "{" + ", ".join(items) + "}"


def _summary_line(rng: random.Random) -> str:
    entries = []
    for _ in range(rng.randint(1, 4)):
        attrs = ", ".join(f'"{rng.choice(_CJK)}": {rng.randint(1, 30)}' for _ in range(rng.randint(1, 3)))
        entries.append(f'{{"类别": "{rng.choice(_CJK)}", "{rng.choice(_ATTR_KEYS)}": {{{attrs}}}}}')
    body = '{"统计": [' + ", ".join(entries) + "]}"
    return rng.choice(["<DOMAIN=BBU>, <TASK=SUMMARY>\n", "<DOMAIN=RRU>, <TASK=SUMMARY>\n"]) + body


def _english_line(rng: random.Random) -> str:
    words = [rng.choice(_ENGLISH) for _ in range(rng.randint(4, 24))]
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice([".", "?", ":", "!", ".\n"])


def training_corpus(lines: int = 6000, seed: int = 20240601) -> list[str]:
    """Generated text that resembles prompts, dense/summary targets and chat replies (deterministic)."""
    rng = random.Random(seed)
    makers = (_english_line, _english_line, _dense_line, _dense_line, _summary_line)
    corpus = [rng.choice(makers)(rng) for _ in range(lines)]
    corpus.append(" ".join(_ENGLISH))
    corpus.append(" ".join(_CJK))
    return corpus


def build_backend_tokenizer(bpe_vocab_size: int = 6000) -> Any:
    """The `tokenizers.Tokenizer` with Qwen's pre-tokeniser, a trained BPE, padding and the special tokens."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        trainers,
    )

    def _pipeline(tok: Tokenizer) -> Tokenizer:
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(QWEN_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
        tok.decoder = decoders.ByteLevel()
        return tok

    trainee = _pipeline(Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False)))
    trainer = trainers.BpeTrainer(
        vocab_size=bpe_vocab_size,
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    trainee.train_from_iterator(training_corpus(), trainer=trainer)

    model_state = json.loads(trainee.to_str())["model"]
    vocab: dict[str, int] = dict(model_state["vocab"])
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model_state["merges"]]
    if len(vocab) >= FIRST_SPECIAL_ID:  # pragma: no cover - guarded by the small trainer size
        raise ValueError("trained vocabulary too large")
    for i in range(len(vocab), FIRST_SPECIAL_ID):
        vocab[f"<|unused_{i}|>"] = i

    tok = _pipeline(
        Tokenizer(
            models.BPE(
                vocab=vocab,
                merges=merges,
                dropout=None,
                unk_token=None,
                continuing_subword_prefix="",
                end_of_word_suffix="",
                fuse_unk=False,
                byte_fallback=False,
            )
        )
    )
    tok.add_special_tokens([AddedToken(t, special=s, normalized=False) for t, s in QWEN_SPECIAL_TOKENS])
    for token, expected in SPECIAL_IDS.items():
        got = tok.token_to_id(token)
        if got != expected:  # pragma: no cover - a tokenizers behaviour change would land here
            raise ValueError(f"special token {token} landed at id {got}, expected {expected}")
    return tok
