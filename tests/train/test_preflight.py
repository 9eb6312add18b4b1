"""`vlmdata train --dry-run` is a full preflight: every config the real run refuses before its first step is
refused by the dry run too, with the same code and exit status. Each case here is a config the dry run once
passed while the real run rejected it.

The refusals happen before any model loads, so the real runs here take seconds; the one config that passes
trains a single step on the tiny model (marked slow)."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from importlib.util import find_spec
from pathlib import Path

import pytest

from vlmdata.cli import main

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny synthetic set: its JSONL, the validated dataset, and a copy whose audited lengths are long."""
    from vlmdata.io.dataset import load_dataset, save_dataset
    from vlmdata.synth import generate
    from vlmdata.validate import ValidateOptions, validate_files

    root = tmp_path_factory.mktemp("preflight")
    generate(root / "synth", 8, seed=3, domain="bbu", min_size=64, max_size=128, max_objects=3)
    validate_files([root / "synth" / "data.jsonl"], root / "validated", ValidateOptions())
    ds = load_dataset(root / "validated")
    long = ds.add_column("length", [100] * (len(ds) - 1) + [5000])  # one record audited over the limit
    save_dataset(long, root / "audited_long")
    bad = root / "bad.jsonl"
    lines = (root / "synth" / "data.jsonl").read_text(encoding="utf-8").splitlines()
    bad.write_text("\n".join([*lines[:3], "{not json", *lines[3:]]) + "\n", encoding="utf-8")
    shutil.copytree(root / "synth" / "images", root / "images")  # bad.jsonl's relative image paths
    return {"root": root, "validated": root / "validated" / "data", "long": root / "audited_long", "bad": bad}


def _config(tmp: Path, model: Path, data: str, extra: str = "", training: str = "") -> Path:
    steps = "" if "max_steps" in training else "max_steps: 1, "  # a repeated YAML key is an error (VD607)
    text = (
        textwrap.dedent(f"""\
        model: {{path: {model}, dtype: float32}}
        template: {{name: target_dense_bbu, max_pixels: 65536, min_pixels: 3136}}
        global_max_length: 2048
        data: {{train: [{data}]}}
        tuner: {{train_type: lora, target_modules: [all-linear], lora_rank: 4}}
        training: {{{steps}per_device_train_batch_size: 2, gradient_accumulation_steps: 1,
                   logging_steps: 1, save_steps: 10, gradient_checkpointing: false, dataloader_num_workers: 0,
                   output_dir: {tmp / "run"}{training}}}
        """)
        + extra
    )
    path = tmp / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str | None, str]:
    code = main(args)
    captured = capsys.readouterr()
    found = re.search(r"error (VD\d{3})", captured.err)
    return code, found.group(1) if found else None, captured.out + captured.err


def _same_refusal(config: Path, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    dry = _run(["train", "--config", str(config), "--dry-run"], capsys)
    real = _run(["train", "--config", str(config)], capsys)
    assert dry[0] != 0 and dry[1] is not None, dry[2]
    assert (dry[0], dry[1]) == (real[0], real[1]), (dry[2], real[2])
    assert dry[1] in real[2]
    return dry[0], dry[1]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLMDATA_CACHE", str(tmp_path / "cache"))


def test_audited_over_length_records(inputs, tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    import yaml

    config = _config(tmp_path, tiny_model_dir, str(inputs["long"]))
    assert _same_refusal(config, capsys) == (1, "VD551")
    # a refusal still shows the plan (the ms-swift arguments) on stdout, as YAML
    assert main(["train", "--config", str(config), "--dry-run"]) == 1
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["preflight"] == {"refused": "VD551"} and shown["backend_args"]["max_steps"] == 1


def test_output_dir_that_already_holds_a_run(inputs, tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    from vlmdata.io.output import workspace

    config = _config(tmp_path, tiny_model_dir, str(inputs["validated"]))
    # a folder vlmdata did not write is refused by the `--out` rule before anything else, as the run does
    (tmp_path / "run" / "checkpoint-3").mkdir(parents=True)
    (tmp_path / "run" / "logging.jsonl").write_text('{"step": 3}\n', encoding="utf-8")
    assert _same_refusal(config, capsys) == (2, "VD003")
    # an earlier vlmdata run's folder: the run-folder check refuses a fresh run over it
    with workspace(tmp_path / "run2", command="train"):
        (tmp_path / "run2" / "checkpoint-3").mkdir()
        (tmp_path / "run2" / "logging.jsonl").write_text('{"step": 3}\n', encoding="utf-8")
    text = config.read_text(encoding="utf-8").replace(str(tmp_path / "run"), str(tmp_path / "run2"))
    config.write_text(text, encoding="utf-8")
    assert _same_refusal(config, capsys) == (1, "VD735")
    for run in ("run", "run2"):  # untouched
        assert (tmp_path / run / "logging.jsonl").read_text(encoding="utf-8") == '{"step": 3}\n'


def test_jsonl_with_rejected_lines_in_data_train(
    inputs, tiny_model_dir: Path, tmp_path: Path, capsys
) -> None:
    assert _same_refusal(_config(tmp_path, tiny_model_dir, str(inputs["bad"])), capsys) == (1, "VD522")
    _, _, text = _run(
        ["train", "--config", str(_config(tmp_path, tiny_model_dir, str(inputs["bad"]))), "--dry-run"], capsys
    )
    assert "fail validation" in text and "vlmdata validate" in text


@pytest.mark.skipif(find_spec("wandb") is not None, reason="wandb is installed here")
def test_report_to_a_logger_that_is_not_installed(
    inputs, tiny_model_dir: Path, tmp_path: Path, capsys
) -> None:
    config = _config(
        tmp_path, tiny_model_dir, str(inputs["validated"]), training=", report_to: [tensorboard, wandb]"
    )
    assert _same_refusal(config, capsys) == (2, "VD716")


def test_gkd_teacher_folder_without_weights(inputs, tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_model_dir / name, teacher / name)  # passes every config check, has no weights
    config = _config(
        tmp_path,
        tiny_model_dir,
        str(inputs["validated"]),
        extra=f"plugin: gkd\nrlhf: {{teacher_model: {teacher}}}\n",
    )
    assert _same_refusal(config, capsys) == (1, "VD644")


def test_dry_run_prints_what_the_run_will_do(inputs, tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    import yaml

    config = _config(
        tmp_path, tiny_model_dir, str(inputs["validated"]), training=", num_train_epochs: 3, max_steps: -1"
    )
    code, _, text = _run(["train", "--config", str(config), "--dry-run"], capsys)
    assert code == 0, text
    comments = [line[2:] for line in text.splitlines() if line.startswith("# ")]
    shown = yaml.safe_load(text)
    check = shown["preflight"]
    n = 8  # the synthetic records, all valid
    assert check["records_per_epoch"] == {"validated": [n, n, n]}
    # 8 records, 2 per step, no accumulation: 4 steps per epoch, 12 for 3 epochs
    assert (check["steps_per_epoch"], check["total_steps"], check["effective_batch"]) == (4, 12, 2)
    assert check["image_tokens_per_image"] == [3, 64]  # 3136 px -> 3 tokens of 32x32, 65536 px -> 64
    assert shown["backend_args"]["per_device_train_batch_size"] == 2  # the ms-swift arguments are shown
    assert any(line.startswith("preflight passed") for line in comments)
    assert any("not audited" in line for line in comments)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_jsonl_in_data_train_is_validated_on_the_fly_and_trains(
    inputs, tiny_model_dir: Path, tmp_path: Path, capsys
) -> None:
    config = _config(tmp_path, tiny_model_dir, str(inputs["root"] / "synth" / "data.jsonl"))
    code, _, text = _run(["train", "--config", str(config), "--dry-run"], capsys)
    assert code == 0, text
    code, _, text = _run(["train", "--config", str(config)], capsys)
    assert code == 0, text
    rows = [
        json.loads(x) for x in (tmp_path / "run" / "logging.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert rows and rows[0]["step"] == 1
    backend = (tmp_path / "run" / "backend.log").read_text(encoding="utf-8")
    assert "SftArguments(" in backend and "SftArguments(" not in text  # the argument dump is in the log only


def _one_image_jsonl(folder: Path, size: tuple[int, int]) -> Path:
    """Two records on one real 1-bit PNG of `size` (a 90-megapixel file stays ~11 kB)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    Image.new("1", size).save(folder / "a.png")
    w, h = size
    line = {
        "images": ["a.png"],
        "width": w,
        "height": h,
        "objects": [{"desc": "box", "bbox_2d": [1, 1, 9, 9]}],
    }
    path = folder / "data.jsonl"
    path.write_text(json.dumps(line) + "\n" + json.dumps({**line, "id": "second"}) + "\n", encoding="utf-8")
    return path


def _with_data(config: Path, data: str) -> Path:
    text = config.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("data: "))
    config.write_text(text.replace(line, f"data: {data}"), encoding="utf-8")
    return config


def test_a_jsonl_in_data_train_is_checked_under_a_raised_pixel_limit(
    tmp_path: Path, tiny_model_dir: Path, capsys
) -> None:
    import yaml

    data = _one_image_jsonl(tmp_path / "big", (10000, 9000))  # 90,000,000 px, over validate's default
    config = _config(tmp_path, tiny_model_dir, str(data))
    code, found, text = _run(["train", "--config", str(config), "--dry-run"], capsys)
    assert (code, found) == (1, "VD522"), text  # the default limit, as `vlmdata validate` without the flag
    assert f"{data}:1 id=" in text and "VD306 images[0]" in text and "data.train[0]" in text
    _with_data(config, f"{{train: [{data}], max_image_pixels: 90000000}}")
    code, _, text = _run(["train", "--config", str(config), "--dry-run"], capsys)
    assert code == 0, text
    assert yaml.safe_load(text)["preflight"]["records_per_epoch"] == {"data": [2]}


def test_a_jsonl_in_data_val_is_refused_under_a_lowered_pixel_limit(
    inputs, tmp_path: Path, tiny_model_dir: Path, capsys
) -> None:
    val = _one_image_jsonl(tmp_path / "small", (100, 80))  # 8,000 px, far under the default
    config = _config(tmp_path, tiny_model_dir, str(inputs["validated"]))
    _with_data(config, f"{{train: [{inputs['validated']}], val: [{val}]}}")
    code, _, text = _run(["train", "--config", str(config), "--dry-run"], capsys)
    assert code == 0, text  # the default limit accepts it
    _with_data(config, f"{{train: [{inputs['validated']}], val: [{val}], max_image_pixels: 7999}}")
    assert _same_refusal(config, capsys) == (1, "VD522")
    _, _, text = _run(["train", "--config", str(config), "--dry-run"], capsys)
    assert f"VD522 {val} data.val[0]: 2 record(s) of {val} fail validation" in text
    for line in (1, 2):
        assert re.search(rf"{re.escape(str(val))}:{line} id=\S+: VD306 images\[0\]: .*> limit 7999", text), (
            text
        )
    assert f"vlmdata validate {val} --max-image-pixels 7999 --out DIR" in text
