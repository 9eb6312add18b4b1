"""`vlmdata export`: ms-swift standard JSONL, checked by format, by ms-swift's own encode, and by training."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from PIL import Image

from vlmdata.cli import main
from vlmdata.errors import VlmdataError
from vlmdata.render import build_messages, get_template, resolve_template

IMAGE_PAD = 151655
SUMMARY = '{"统计": [{"类别": "BBU设备", "可见性": {"完整": 1}}]}'


def _image(path: Path, size: tuple[int, int], shade: int) -> str:
    Image.new("RGB", size, (shade, 120, 200 - shade)).save(path)
    return str(path)


def make_dataset(root: Path) -> Path:
    """Dense (one and two images), a summary record that names its template, an irrelevant one, a chat one."""
    from vlmdata.io.dataset import save_records

    root.mkdir(parents=True, exist_ok=True)
    img = [_image(root / f"i{k}.png", (64, 48), 30 * k) for k in range(6)]
    big = _image(root / "big.png", (256, 192), 90)
    box = {"desc": "类别=BBU设备,可见性=完整", "kind": "bbox_2d", "points": [4, 4, 30, 40], "image_index": 0}
    line = {"desc": "类别=光纤", "kind": "line", "points": [60, 2, 10, 40], "image_index": 0}
    poly = {"desc": "类别=螺丝", "kind": "poly", "points": [40, 10, 50, 10, 45, 20], "image_index": 1}
    chat = [
        {"role": "user", "content": "<image>图中有几个BBU设备？"},
        {"role": "assistant", "content": "图中有1个BBU设备。"},
    ]
    records = [
        {"id": "dense1", "images": [img[0]], "width": 64, "height": 48, "objects": [box, line]},
        {"id": "dense2", "images": [img[1], img[2]], "width": 64, "height": 48, "objects": [box, poly]},
        {
            "id": "sum",
            "images": [img[3]],
            "width": 64,
            "height": 48,
            "objects": [box],
            "summary": SUMMARY,
            "metadata": {"_template": "summary_bbu"},
        },
        {
            "id": "irr",
            "images": [img[4]],
            "width": 64,
            "height": 48,
            "objects": [],
            "summary": "无关图片",
            "metadata": {"_template": "summary_bbu"},
        },
        {"id": "chat", "images": [img[5]], "width": 64, "height": 48, "objects": [], "messages": chat},
        {
            "id": "capped",
            "images": [big],
            "width": 256,
            "height": 192,
            "objects": [box],
            "metadata": {"max_pixels": 4096},
        },
    ]
    return save_records(records, root / "ds")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_export_writes_swift_standard_lines(tmp_path: Path) -> None:
    from vlmdata.io.dataset import load_dataset

    ds_path = make_dataset(tmp_path / "d")
    out = tmp_path / "out" / "train.jsonl"
    assert main(["export", str(ds_path), "--out", str(out), "--template", "target_dense_rru"]) == 0
    rows = read_jsonl(out)
    ds = load_dataset(ds_path)
    assert [r["id"] for r in rows] == ds["id"]
    for row, rec in zip(rows, ds, strict=True):
        assert set(row) == {"messages", "images", "id"} | (
            {"chat_template_kwargs"} if rec["id"] == "capped" else set()
        )
        assert all(isinstance(m["content"], str) for m in row["messages"])
        user = next(m["content"] for m in row["messages"] if m["role"] == "user")
        assert user.count("<image>") == len(row["images"]) == len(rec["images"])
        assert row["images"] == [str(Path(p).resolve()) for p in rec["images"]]
        name = resolve_template(rec, "target_dense_rru")
        expected = build_messages(rec, name)
        assert row["messages"][-1]["content"] == expected[-1]["content"]
        if name != "chat":
            t = get_template(name)
            assert row["messages"][0] == {"role": "system", "content": t.system}
            assert user == "<image>" * len(rec["images"]) + t.prompt(len(rec["images"]))
    by_id = {r["id"]: r for r in rows}
    assert by_id["dense1"]["messages"][-1]["content"].startswith("<DOMAIN=RRU>, <TASK=DETECTION>\n")
    assert by_id["sum"]["messages"][-1]["content"] == "<DOMAIN=BBU>, <TASK=SUMMARY>\n" + SUMMARY
    assert by_id["irr"]["messages"][-1]["content"] == "无关图片"
    assert by_id["chat"]["messages"] == [
        {"role": "user", "content": "<image>图中有几个BBU设备？"},
        {"role": "assistant", "content": "图中有1个BBU设备。"},
    ]
    assert by_id["capped"]["chat_template_kwargs"] == {"min_pixels": 3072, "max_pixels": 4096}
    assert not list(out.parent.glob(".tmp-*"))
    again = tmp_path / "again.jsonl"
    assert main(["export", str(ds_path), "--out", str(again), "--template", "target_dense_rru"]) == 0
    assert again.read_bytes() == out.read_bytes(), "exports are deterministic"


def test_export_prints_the_plain_swift_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from vlmdata.config.run import TemplateConfig
    from vlmdata.models.qwen import backend_image_env

    ds_path = make_dataset(tmp_path / "d")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        "template: {name: target_dense_bbu, max_pixels: 65536, min_pixels: 4096}\n", encoding="utf-8"
    )
    out = tmp_path / "train.jsonl"
    assert main(["export", str(ds_path), "--out", str(out), "--config", str(cfg)]) == 0
    env = backend_image_env(TemplateConfig(max_pixels=65536, min_pixels=4096))
    assert env["IMAGE_MAX_TOKEN_NUM"] == "64"
    printed = capsys.readouterr().out
    assert " ".join(f"{k}={v}" for k, v in env.items()) in printed and f"--dataset {out}" in printed
    capped = next(r for r in read_jsonl(out) if r["id"] == "capped")
    assert capped["chat_template_kwargs"] == {"min_pixels": 4096, "max_pixels": 4096}


def test_export_takes_template_and_system_from_the_run_config(tmp_path: Path) -> None:
    ds_path = make_dataset(tmp_path / "d")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        "model: {path: /nonexistent/model}\ntemplate: {name: source_dense, system: Be brief.}\n"
        f"data: {{train: [{ds_path}]}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "train.jsonl"
    assert main(["export", str(ds_path), "--out", str(out), "--config", str(cfg)]) == 0
    rows = {r["id"]: r for r in read_jsonl(out)}
    assert rows["dense1"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert rows["dense1"]["messages"][-1]["content"].startswith('{"object_1": ')
    assert rows["sum"]["messages"][-1]["content"].startswith("<DOMAIN=BBU>, <TASK=SUMMARY>")


def test_export_refuses_missing_images_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    ds_path = make_dataset(tmp_path / "d")
    out = tmp_path / "train.jsonl"
    assert main(["export", str(ds_path), "--out", str(out), "--template", "target_dense_bbu"]) == 0
    previous = out.read_bytes()
    (tmp_path / "d" / "i2.png").unlink()
    assert main(["export", str(ds_path), "--out", str(out), "--template", "target_dense_bbu"]) == 1
    err = capsys.readouterr().err
    assert "VD421" in err and "id=dense2" in err and "images[1]" in err
    assert out.read_bytes() == previous, "a failed export leaves the previous file"
    assert main(["export", str(ds_path), "--out", str(out), "--template", "nope"]) == 2
    (tmp_path / "d" / "i2.png").write_bytes((tmp_path / "d" / "i1.png").read_bytes())
    from vlmdata.export import export_records
    from vlmdata.io.dataset import load_dataset

    rows = [dict(r) for r in load_dataset(ds_path)]
    rows[0]["metadata"] = '{"min_pixels": 9000, "max_pixels": 100}'
    with pytest.raises(VlmdataError) as err:
        export_records(rows, out, template="target_dense_bbu")
    assert err.value.code_str == "VD423" and "id=dense1" in str(err.value)
    assert main(["export", str(tmp_path / "missing"), "--out", str(out)]) == 2


@pytest.mark.train
def test_swift_encodes_the_export_like_the_in_process_conversation(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """ms-swift's template encode of an exported line equals its encode of `build_messages` (item form)."""
    pytest.importorskip("vlmdata.models.tiny")
    tiny = request.getfixturevalue("tiny_model_dir")
    from swift import get_processor
    from swift import get_template as swift_template

    from vlmdata.export import export_dataset
    from vlmdata.io.dataset import load_dataset

    ds_path = make_dataset(tmp_path / "d")
    out = tmp_path / "train.jsonl"
    export_dataset(ds_path, out, template="target_dense_bbu")
    processor = get_processor(str(tiny), model_type="qwen3_vl")
    template = swift_template(processor, max_length=4096)  # no max_pixels: it adds a pre-resize
    template.set_mode("train")
    for row, rec in zip(read_jsonl(out), load_dataset(ds_path), strict=True):
        messages = build_messages(rec, resolve_template(rec, "target_dense_bbu"))
        kwargs = {k: row[k] for k in ("chat_template_kwargs",) if k in row}
        a = template.encode({"messages": row["messages"], "images": row["images"], **kwargs})
        b = template.encode({"messages": messages, **kwargs})
        assert a["input_ids"] == b["input_ids"], rec["id"]
        assert a["labels"] == b["labels"], rec["id"]
        assert sum(t != -100 for t in a["labels"]) > 0
        if rec["id"] == "capped":  # the per-record bound reached ms-swift's resize: 256x192 capped at 4096 px
            from vlmdata.models.qwen import image_tokens

            assert a["input_ids"].count(IMAGE_PAD) == image_tokens(192, 256, 3072, 4096) == 2


@pytest.mark.train
def test_plain_ms_swift_trains_on_the_export(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    pytest.importorskip("vlmdata.models.tiny")
    tiny = request.getfixturevalue("tiny_model_dir")
    from swift import SftArguments, sft_main

    from vlmdata.export import export_dataset

    ds_path = make_dataset(tmp_path / "d")
    out = tmp_path / "train.jsonl"
    export_dataset(ds_path, out, template="target_dense_bbu")
    args = SftArguments(
        model=str(tiny),
        model_type="qwen3_vl",
        check_model=False,
        dataset=[str(out)],
        tuner_type="lora",
        max_steps=2,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=1,
        learning_rate=1e-3,
        output_dir=str(tmp_path / "run"),
        save_steps=2,
        logging_steps=1,
        report_to=[],
        dataset_num_proc=1,
        torch_dtype="float32",
        split_dataset_ratio=0.0,
        add_version=False,
        seed=0,
        strict=True,
        max_length=4096,
        dataloader_num_workers=0,
    )
    result = sft_main(args)
    losses = [h["loss"] for h in result["log_history"] if "loss" in h]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    ckpt = Path(result["last_model_checkpoint"])
    assert (ckpt / "adapter_config.json").exists() and (ckpt / "adapter_model.safetensors").exists()
    from safetensors.torch import load_file

    lora_b = {k: v for k, v in load_file(str(ckpt / "adapter_model.safetensors")).items() if "lora_B" in k}
    assert lora_b, "the adapter holds LoRA weights"
    untouched = [k for k, v in lora_b.items() if float(v.abs().sum()) == 0.0]
    assert not untouched, f"LoRA B matrices start at zero; these never trained: {untouched[:3]}"
