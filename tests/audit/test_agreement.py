"""Agreement: the audited length equals len(input_ids) of ms-swift's own qwen3_vl encode, record by record."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vlmdata.audit.length import size_record
from vlmdata.audit.tokens import TokenCounter
from vlmdata.models.qwen import backend_image_env, effective_pixel_bounds, record_image_kwargs

pytestmark = pytest.mark.train

TEMPLATE_CFG = {"min_pixels": 3136, "max_pixels": 1048576}
BBU_SUMMARY = (
    '{"统计": [{"类别": "BBU设备", "可见性": {"完整": 1}, "品牌": {"华为": 1}}], "备注": ["线缆整齐"]}'
)
RRU_SUMMARY = (
    '{"统计": [{"类别": "RRU设备", "可见性": {"完整": 2, "部分": 1}}], "分组统计": {"1": 2, "2": 1}}'
)


def _obj(desc: str, kind: str, points: list[float], image_index: int = 0) -> dict:
    return {
        "desc": desc,
        "kind": kind,
        "points": points,
        "image_index": image_index,
        "attributes": None,
        "metadata": None,
    }


def _dense_objects(n: int, width: int, height: int, seed: int) -> list[dict]:
    import random

    rng = random.Random(seed)
    descs = [
        "类别=BBU设备,品牌=华为,可见性=完整",
        "类别=螺丝,可见性=部分",
        "类别=线缆,颜色=黄|绿",
        "类别=标签",
        "类别=天线,可见性=完整",
        "类别=RRU设备,品牌=中兴",
    ]
    out = []
    for i in range(n):
        x, y = rng.uniform(0, width * 0.8), rng.uniform(0, height * 0.8)
        w, h = rng.uniform(5, width * 0.2), rng.uniform(5, height * 0.2)
        kind = ("bbox_2d", "poly", "line")[i % 3]
        if kind == "bbox_2d":
            pts = [x, y, x + w, y + h]
        elif kind == "poly":
            pts = [x, y, x + w, y, x + w / 2, y + h]
        else:
            pts = [x, y, x + w / 3, y + h, x + w, y + h / 2]
        out.append(_obj(rng.choice(descs), kind, pts))
    return out


def _record(rid: str, tmp: Path, size: tuple[int, int], n_images: int = 1, **fields: object) -> dict:
    from PIL import Image

    w, h = size
    paths = []
    for i in range(n_images):
        p = tmp / f"{rid}_{i}.png"
        Image.new("RGB", (w, h), (30 * i + 20, 90, 140)).save(p)
        paths.append(str(p))
    rec = {
        "id": rid,
        "images": paths,
        "width": w if n_images else None,
        "height": h if n_images else None,
        "objects": [],
        "summary": None,
        "messages": None,
        "metadata": "{}",
        "source_file": "t.jsonl",
        "source_line": 1,
    }
    meta = fields.pop("meta", None)
    if meta is not None:
        rec["metadata"] = json.dumps(meta, ensure_ascii=False)
    rec.update(fields)
    return rec


USER_TEMPLATES = {
    # object map, header and prompts filled from the record's domain, a system prompt counting the images
    "site.yaml": (
        "name: site_map\nsystem: 'You inspect sites ({n_images} picture(s)).'\n"
        "user: 'Locate every part of the {domain} site. {format}'\n"
        "user_multi_image: 'Locate every part of the {domain} site across the pictures. {format}'\n"
        "header: '<SITE={domain}>'\n"
    ),
    # Qwen3-VL's native list in its code fence
    "coco.yaml": "name: coco_qwen\nuser: 'Find every object. {format}'\ntarget: qwen\n",
    # the list without the fence, no system prompt, a prompt with literal braces
    "bare.yaml": "name: bare_qwen\nuser: 'Objects as [{{...}}], nothing else.'\ntarget: {format: qwen, fence: false}\n",
    # a summary with a header line of its own
    "tally.yaml": "name: tally\nsystem: Count.\nuser: 'Count them. {format}'\nheader: 'TALLY'\ntarget: summary\n",
}


def _user_templates(tmp: Path) -> None:
    from vlmdata.render import use_templates

    folder = tmp / "templates"
    folder.mkdir(exist_ok=True)
    for name, text in USER_TEMPLATES.items():
        (folder / name).write_text(text, encoding="utf-8")
    use_templates([folder])


def sample_records(tmp: Path) -> list[tuple[dict, str]]:
    """(record, default template) pairs covering every shape the spec names, and templates defined in YAML
    (object map and Qwen list, with and without fence, header or system prompt) and the neutral built-ins."""
    _user_templates(tmp)
    chat_multi = json.dumps(
        [
            {"role": "system", "content": "You answer briefly."},
            {"role": "user", "content": "<image>What is this?"},
            {"role": "assistant", "content": "A BBU 设备 cabinet, 2 units."},
            {"role": "user", "content": "And the second <image> one?\n\n"},
            {"role": "assistant", "content": "\n  An RRU with 3 antennas (品牌=华为).  "},
        ],
        ensure_ascii=False,
    )
    chat_text = json.dumps(
        [
            {"role": "user", "content": "Count 1, 22, 333 and 4444."},
            {"role": "assistant", "content": "1+22+333+4444 = 4800"},
        ]
    )
    chat_think = json.dumps(
        [
            {"role": "user", "content": "<image>Count the units."},
            {"role": "assistant", "content": "<think>two cabinets, 3 units</think>\nThree units."},
            {"role": "user", "content": "Which brand?"},
            {"role": "assistant", "content": "<think>logo</think>华为"},
        ],
        ensure_ascii=False,
    )
    chat_merged = json.dumps(
        [
            {"role": "user", "content": "<image>Hello wor"},
            {"role": "user", "content": "ld, and <image> 12"},
            {"role": "assistant", "content": "as"},
            {"role": "assistant", "content": "sistant 345"},
        ]
    )
    chat_opening = json.dumps(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "assistant", "content": "How can I help?"},
            {"role": "user", "content": "Say 42."},
            {"role": "assistant", "content": "42"},
        ]
    )
    return [
        (
            _record("dense-bbu", tmp, (1024, 768), objects=_dense_objects(12, 1024, 768, 1)),
            "target_dense_bbu",
        ),
        (
            _record("dense-rru-big", tmp, (3000, 2000), objects=_dense_objects(40, 3000, 2000, 2)),
            "target_dense_rru",
        ),
        (
            _record(
                "dense-generic",
                tmp,
                (640, 480),
                objects=_dense_objects(5, 640, 480, 3),
                meta={"domain": "BBU"},
            ),
            "target_dense",
        ),
        (
            _record("source-dense", tmp, (800, 1200), objects=[_obj("person", "bbox_2d", [1, 2, 300, 400])]),
            "source_dense",
        ),
        (_record("empty-dense", tmp, (500, 500)), "target_dense_bbu"),
        (
            _record("tiny-image", tmp, (20, 30), objects=[_obj("类别=螺丝", "bbox_2d", [1, 1, 10, 20])]),
            "target_dense_bbu",
        ),
        (
            _record("multi-image", tmp, (1200, 900), n_images=3, objects=_dense_objects(9, 1200, 900, 4)),
            "target_dense_bbu",
        ),
        (
            _record(
                "capped-override",
                tmp,
                (2048, 1536),
                objects=_dense_objects(7, 2048, 1536, 5),
                meta={"max_pixels": 200000, "min_pixels": 5000},
            ),
            "target_dense_bbu",
        ),
        (_record("summary-bbu", tmp, (1500, 1000), summary=BBU_SUMMARY), "summary_bbu"),
        (_record("summary-rru", tmp, (1000, 1500), summary=RRU_SUMMARY), "summary_rru"),
        (_record("irrelevant", tmp, (700, 700), summary="无关图片"), "summary_bbu"),
        (
            _record(
                "fusion-template",
                tmp,
                (900, 600),
                summary=BBU_SUMMARY,
                meta={"_template": "summary", "domain": "BBU"},
            ),
            "target_dense_bbu",
        ),
        (_record("chat-multi", tmp, (640, 360), n_images=2, messages=chat_multi), "target_dense_bbu"),
        (_record("chat-text", tmp, (1, 1), n_images=0, messages=chat_text), "target_dense_bbu"),
        # shapes the contract accepts because ms-swift encodes them: earlier reasoning kept, consecutive turns
        # merged, an opening assistant turn given an empty user turn
        (_record("chat-think", tmp, (320, 240), messages=chat_think), "chat"),
        (_record("chat-merged", tmp, (320, 240), n_images=2, messages=chat_merged), "chat"),
        (_record("chat-opens-assistant", tmp, (1, 1), n_images=0, messages=chat_opening), "chat"),
        (_record("grounding", tmp, (1024, 768), objects=_dense_objects(8, 1024, 768, 6)), "grounding"),
        (
            _record(
                "grounding-qwen-multi", tmp, (800, 600), n_images=2, objects=_dense_objects(7, 800, 600, 7)
            ),
            "grounding_qwen",
        ),
        (
            _record(
                "user-map-domain",
                tmp,
                (1200, 900),
                n_images=2,
                objects=_dense_objects(6, 1200, 900, 8),
                meta={"domain": "north"},  # digit-free: the dense fast path takes it
            ),
            "site_map",
        ),
        (
            _record(
                "user-qwen-capped",
                tmp,
                (2048, 1536),
                objects=_dense_objects(11, 2048, 1536, 9),
                meta={"max_pixels": 200000},
            ),
            "coco_qwen",
        ),
        (_record("user-qwen-empty", tmp, (333, 222)), "coco_qwen"),
        (_record("user-bare", tmp, (640, 480), objects=_dense_objects(5, 640, 480, 10)), "bare_qwen"),
        (
            _record(
                "user-summary", tmp, (500, 400), summary=BBU_SUMMARY.replace(', "备注": ["线缆整齐"]', "")
            ),
            "tally",
        ),
        (
            _record(
                "fused-user-template",
                tmp,
                (900, 600),
                objects=_dense_objects(4, 900, 600, 11),
                meta={"_template": "coco_qwen", "_source": "coco"},
            ),
            "target_dense_bbu",
        ),
    ]


@pytest.fixture(scope="module")
def swift_template(tiny_model_dir: Path):
    """ms-swift's qwen3_vl template, with its image bounds taken from `backend_image_env` as training does."""
    from qwen_vl_utils import vision_process
    from swift import get_processor, get_template
    from swift.model.models.qwen import patch_qwen_vl_utils

    env = backend_image_env(TEMPLATE_CFG)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        processor = get_processor(str(tiny_model_dir), model_type="qwen3_vl", check_model=False)
        # ms-swift reads the env once per process; re-apply it in case another test loaded a processor first
        if hasattr(vision_process, "_patch"):
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


def test_audited_length_equals_ms_swift_encode(swift_template, tiny_model_dir: Path, tmp_path: Path) -> None:
    from vlmdata.render import build_messages, resolve_template, to_swift_standard

    counter = TokenCounter.from_model_dir(tiny_model_dir)
    assert counter.fast
    bounds = effective_pixel_bounds(TEMPLATE_CFG)
    checked = 0
    for record, default in sample_records(tmp_path):
        sized, name = size_record(record, default, counter, bounds)
        messages = build_messages(record, resolve_template(record, default))
        row = {"messages": messages}
        if record_image_kwargs(record):
            row["chat_template_kwargs"] = record_image_kwargs(record)
        encoded = swift_template.encode(row)
        ids = encoded["input_ids"]
        raw = json.loads(record["messages"]) if record["messages"] else None
        if raw is not None:  # ms-swift given the record's own, unmerged turns encodes the same tokens
            own = {"messages": raw, "images": record["images"]}
            assert swift_template.encode(own)["input_ids"] == ids, record["id"]
        assert sized.length == len(ids), (record["id"], name, sized, len(ids))
        assert sized.image_tokens == ids.count(151655), record["id"]
        # the trainer's form: standard messages with <image> tags and the images beside them
        flat, images = to_swift_standard(messages)
        std = swift_template.encode({**row, "messages": flat, "images": images})
        assert std["input_ids"] == ids, record["id"]
        checked += 1
    assert checked == 25
    # the fast digit-split counter agreed with the tokenizer on every string it saw
    texts = list(counter._whole) + list(counter._before_digit)
    assert counter.verify(texts) == []
