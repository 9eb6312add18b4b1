"""Configs that cannot hang or explode: bounded reading, linear loading, repeated keys refused, every numeric
setting bounded at load — for run, fusion and augmentation configs alike."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from vlmdata.errors import VlmdataError
from vlmdata.io.layered import MAX_CONFIG_BYTES, load_layered


def _w(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _code(call, *args, **kwargs) -> VlmdataError:
    with pytest.raises(VlmdataError) as info:
        call(*args, **kwargs)
    return info.value


# -- reading -----------------------------------------------------------------------------------------------
def _config_lines_executed(path: Path) -> int:
    """Lines of vlmdata/config run while loading `path` (a machine-independent measure of the work)."""
    folder = str(Path(load_layered.__code__.co_filename).parent)
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    def global_tracer(frame, event, arg):
        return tracer if frame.f_code.co_filename.startswith(folder) else None

    sys.settrace(global_tracer)
    try:
        load_layered(path, merge_lists_by_name=("targets",))
    finally:
        sys.settrace(None)
    return count


def test_loading_is_linear_in_the_size_of_the_files(tmp_path: Path) -> None:
    work = {}
    for n in (500, 4000):
        base = _w(
            tmp_path / f"base{n}.yaml",
            "items:\n"
            + "".join(f"  - {{name: n{i}, v: {i}}}\n" for i in range(n))
            + "targets:\n"
            + "".join(f"  - {{name: t{i}, ratio: 1}}\n" for i in range(n)),
        )
        top = _w(
            tmp_path / f"top{n}.yaml",
            f"extends: {base.name}\nitems: [1]\ntargets:\n"
            + "".join(f"  - {{name: t{i}, ratio: 2}}\n" for i in range(0, n, 2)),
        )
        work[n] = _config_lines_executed(top)
    assert work[4000] < 10 * work[500], work  # 8× the input: linear is ≈ 8×, quadratic ≈ 64×
    layered = load_layered(top, merge_lists_by_name=("targets",))
    assert layered.origin_of(("items",)) == str(top) and layered.origin_of(("items", 0)) == str(top)
    assert layered.origin_of(("targets", 2, "ratio")) == str(top)
    assert layered.origin_of(("targets", 3, "ratio")) == str(tmp_path / "base4000.yaml")
    assert layered.origin_of(("targets", 3)) == str(tmp_path / "base4000.yaml")


def test_alias_expansion_is_bounded(tmp_path: Path) -> None:
    levels = [f"l0: &l0 [{', '.join(['x'] * 10)}]"]
    levels += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10⁹ leaves
    laughs = _w(tmp_path / "laughs.yaml", "\n".join(levels) + "\n")
    err = _code(load_layered, laughs)
    assert err.code_str == "VD609" and "laughs.yaml:" in str(err)
    recursive = _w(tmp_path / "recursive.yaml", "a: &a [1, *a]\n")
    assert _code(load_layered, recursive).code_str == "VD609"
    # ordinary anchors and merge keys stay fine
    ok = _w(tmp_path / "ok.yaml", "base: &b {x: 1, y: 2}\nchild: {<<: *b, y: 3}\nlist: [*b, *b]\n")
    assert load_layered(ok).data["child"] == {"x": 1, "y": 3}


def test_deep_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    deep = _w(tmp_path / "deep.yaml", "a: " + "[" * 20000 + "]" * 20000 + "\n")
    assert _code(load_layered, deep).code_str in ("VD600", "VD609")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_non_regular_and_oversized_files_are_refused(tmp_path: Path) -> None:
    top = _w(tmp_path / "top.yaml", "extends: /dev/zero\n")
    err = _code(load_layered, top)
    assert err.code_str == "VD608" and "/dev/zero" in str(err)
    assert _code(load_layered, "/dev/zero").code_str == "VD608"
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    assert _code(load_layered, _w(tmp_path / "f.yaml", "extends: folder.yaml\n")).code_str == "VD608"
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(MAX_CONFIG_BYTES + 1)  # sparse: no disk used
    assert _code(load_layered, big).code_str == "VD608"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    top = _w(tmp_path / "top.yaml", "extends: pipe.yaml\n")
    result: dict[str, object] = {}

    def load() -> None:
        try:
            load_layered(top)
        except VlmdataError as exc:
            result["code"] = exc.code_str

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(20)
    if thread.is_alive():  # unblock the reader so the test process can end
        with open(fifo, "wb"):
            pass
        pytest.fail("loading a config that extends a FIFO blocked")
    assert result.get("code") == "VD608"


# -- repeated keys -----------------------------------------------------------------------------------------
def test_repeated_keys_are_errors_with_every_line(tmp_path: Path) -> None:
    run = _w(
        tmp_path / "run.yaml",
        """\
        model: {path: m}
        global_max_length: 1024
        training:
          learning_rate: 0.1
          learning_rate: 0.2
        global_max_length: 2048
        """,
    )
    err = _code(load_layered, run)
    assert err.code_str == "VD607"
    assert f"{run}:5: key 'learning_rate' already set at line 4" in err.details
    assert f"{run}:6: key 'global_max_length' already set at line 2" in err.details
    flow = _w(tmp_path / "flow.yaml", "a: {x: 1, x: 2}\n")
    assert _code(load_layered, flow).code_str == "VD607"


def test_repeated_keys_in_fusion_and_augmentation_configs(tmp_path: Path) -> None:
    from vlmdata.augment import load_augmentation_config
    from vlmdata.fuse import load_fusion_config

    fusion = _w(tmp_path / "fusion.yaml", "targets:\n  - {name: a, data: d, ratio: 1, ratio: 2}\n")
    assert _code(load_fusion_config, fusion).code_str == "VD607"
    aug = _w(tmp_path / "aug.yaml", "seed: 1\nops: []\nseed: 2\n")
    assert _code(load_augmentation_config, aug).code_str == "VD607"


# -- numbers -----------------------------------------------------------------------------------------------
RUN_NUMBERS = [
    ("global_max_length: true", "global_max_length", "boolean"),
    ("global_max_length: 1.0e+30", "global_max_length", ""),
    ("training: {num_train_epochs: .inf}", "training.num_train_epochs", "finite"),
    ("training: {learning_rate: .nan}", "training.learning_rate", "finite"),
    ("training: {seed: -1}", "training.seed", "greater than or equal to 0"),
    ("training: {per_device_train_batch_size: 1000000000}", "training.per_device_train_batch_size", ""),
    ("training: {gradient_accumulation_steps: false}", "training.gradient_accumulation_steps", "boolean"),
    ("training: {warmup_ratio: true}", "training.warmup_ratio", "boolean"),
    ("template: {max_pixels: 100000000000}", "template.max_pixels", ""),
    ("template: {min_pixels: true}", "template.min_pixels", "boolean"),
    ("tuner: {lora_dropout: .nan}", "tuner.lora_dropout", "finite"),
]


@pytest.mark.parametrize(("body", "key", "text"), RUN_NUMBERS)
def test_run_config_numbers_are_bounded_at_load(tmp_path: Path, body: str, key: str, text: str) -> None:
    from vlmdata.config.load import load_run_config

    run = _w(tmp_path / "run.yaml", f"model: {{path: m}}\ndata: {{train: [d]}}\n{body}\n")
    err = _code(load_run_config, run, check_paths=False)
    (line,) = err.details
    assert f": {key}:" in line and text in line, line


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0", "greater than 0"),
        ("-5", "greater than 0"),
        (str(65535 * 65535 + 1), "less than or equal to 4294836225"),
        ("true", "boolean"),
        (".inf", "finite"),
        ("1.5", "integer"),
        ("'lots'", "integer"),
    ],
)
def test_data_max_image_pixels_is_bounded_at_load(tmp_path: Path, value: str, text: str) -> None:
    from vlmdata.config.load import load_run_config

    run = _w(tmp_path / "run.yaml", f"model: {{path: m}}\ndata: {{train: [d], max_image_pixels: {value}}}\n")
    err = _code(load_run_config, run, check_paths=False)
    (line,) = err.details
    assert "VD605" in line and ": data.max_image_pixels:" in line and text in line, line


def test_data_max_image_pixels_defaults_to_validates_limit(tmp_path: Path) -> None:
    from vlmdata.config.load import load_run_config
    from vlmdata.io.images import DEFAULT_MAX_IMAGE_PIXELS

    run = _w(tmp_path / "run.yaml", "model: {path: m}\ndata: {train: [d]}\n")
    assert (
        load_run_config(run, check_paths=False).data.max_image_pixels
        == DEFAULT_MAX_IMAGE_PIXELS
        == 89_478_485
    )
    raised = _w(tmp_path / "big.yaml", "model: {path: m}\ndata: {train: [d], max_image_pixels: 4294836225}\n")
    assert load_run_config(raised, check_paths=False).data.max_image_pixels == 65535 * 65535


AUG_NUMBERS = [
    ({"name": "pad_to_multiple", "params": {"multiple": 1_000_000_000}}, "multiple"),
    ({"name": "expand_to_fit", "params": {"multiple": 100_000}}, "multiple"),
    ({"name": "expand_to_fit", "params": {"max_pixels": 10**12}}, "max_pixels"),
    ({"name": "clahe", "params": {"tile_grid_size": 1_000_000}}, "tile_grid_size"),
    ({"name": "resize", "params": {"scales": [1000.0]}}, "scales"),
    ({"name": "resize", "params": {"scales": []}}, "scales"),
    ({"name": "resize", "params": {"scale_range": [0.5, 100.0]}}, "scale_range"),
    ({"name": "resize", "params": {"align_multiple": 1_000_000}}, "align_multiple"),
    ({"name": "rotate", "params": {"angle_range": [float("nan"), 1.0]}}, "finite"),
    ({"name": "rotate", "params": {"angle_range": [True, 2.0]}}, "boolean"),
    ({"name": "rotate", "params": {"p": True}}, "boolean"),
    ({"name": "translate", "params": {"shift_range": [-5.0, 5.0]}}, "shift_range"),
    ({"name": "roi_crop", "params": {"scale_range": [-2.0, 3.0]}}, "scale_range"),
    ({"name": "scale", "params": {"scale_range": [0.0, 1.0]}}, "scale_range"),
    ({"name": "gamma", "params": {"gamma_range": [0.0, 1.0]}}, "gamma_range"),
    ({"name": "jpeg_quality", "params": {"quality_range": [0.0, 200.0]}}, "quality_range"),
    ({"name": "color_jitter", "params": {"hue_range": [-3.0, 3.0]}}, "hue_range"),
    ({"name": "clahe", "params": {"clip_limit_range": [float("inf"), float("inf")]}}, "finite"),
]


@pytest.mark.parametrize(("op", "text"), AUG_NUMBERS)
def test_augmentation_numbers_are_bounded_at_load(op: dict, text: str) -> None:
    from vlmdata.augment import AugmentationConfig

    with pytest.raises(Exception) as info:
        AugmentationConfig.model_validate({"ops": [op]})
    assert text in str(info.value)


@pytest.mark.parametrize(
    "settings",
    [{"seed": True}, {"fill": False}, {"bypass_prob": float("nan")}, {"min_visibility": True}],
)
def test_augmentation_settings_refuse_booleans_and_nan(settings: dict) -> None:
    from vlmdata.augment import AugmentationConfig

    with pytest.raises(Exception, match="boolean|finite"):
        AugmentationConfig.model_validate(settings)


@pytest.mark.parametrize(
    ("entry", "text"),
    [
        ("ratio: true", "boolean"),
        ("ratio: .inf", "finite"),
        ("seed: true", "boolean"),
        ("max_objects: 0", ""),
    ],
)
def test_fusion_numbers_are_bounded_at_load(tmp_path: Path, entry: str, text: str) -> None:
    from vlmdata.fuse import load_fusion_config

    (tmp_path / "d").mkdir()
    fusion = _w(tmp_path / "fusion.yaml", f"targets:\n  - {{name: a, data: d, {entry}}}\n")
    err = _code(load_fusion_config, fusion)
    assert any(text in line for line in err.details), err.details


@pytest.mark.parametrize(
    ("plugin", "body", "key", "text"),
    [
        ("gkd", "rlhf: {teacher_model: m, temperature: .inf}", "rlhf.temperature", "finite"),
        ("gkd", "rlhf: {teacher_model: m, lmbda: true}", "rlhf.lmbda", "boolean"),
        ("grpo", "rlhf: {reward_funcs: [dense_f1], beta: .nan}", "rlhf.beta", "finite"),
        (
            "grpo",
            "rlhf: {reward_funcs: [dense_f1], reward_weights: [true]}",
            "rlhf.reward_weights",
            "boolean",
        ),
    ],
)
def test_plugin_sections_refuse_nan_and_booleans(
    tmp_path: Path, plugin: str, body: str, key: str, text: str
) -> None:
    from vlmdata.train.config import load_train_config

    run = _w(tmp_path / "run.yaml", f"plugin: {plugin}\nmodel: {{path: m}}\ndata: {{train: [d]}}\n{body}\n")
    err = _code(load_train_config, run, check_paths=False)
    assert any(f": {key}:" in line and text in line for line in err.details), err.details
