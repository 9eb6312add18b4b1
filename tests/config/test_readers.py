"""Each YAML has one reader: the run config (training, audit, export) and the augmentation config go through
the shared layered loader, and the training layer adds the plugin, augmentation and fusion checks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from vlmdata.errors import VlmdataError


def _w(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_config_layer_knows_no_plugin_and_training_adds_the_checks(tmp_path: Path) -> None:
    from vlmdata.config.load import load_run_config
    from vlmdata.train.config import load_train_config

    (tmp_path / "fusion.yaml").write_text("targets: []\n", encoding="utf-8")
    run = _w(
        tmp_path / "run.yaml",
        """\
        plugin: no-such-plugin
        model: {path: m}
        data: {fusion: fusion.yaml}
        rlhf: {anything: 1}
        augmentation: {ops: [{name: rotat}]}
        """,
    )
    config = load_run_config(run, check_paths=False)  # the run file's own rules only
    assert config.plugin == "no-such-plugin" and config.rlhf == {"anything": 1}
    assert config.augmentation == {"ops": [{"name": "rotat"}]}
    with pytest.raises(VlmdataError) as info:
        load_train_config(run)
    lines = info.value.details
    assert any(line.startswith("VD700") and ": plugin:" in line for line in lines), lines
    assert any(line.startswith("VD605") and "augmentation.ops[0]" in line for line in lines), lines
    assert any(line.startswith("VD644") and "model.path" in line for line in lines), lines
    assert any(line.startswith("VD643") and "no targets" in line for line in lines), lines


def test_train_config_replaces_raw_sections_with_their_models(tmp_path: Path) -> None:
    from vlmdata.augment import AugmentationConfig
    from vlmdata.train.config import load_train_config

    run = _w(tmp_path / "run.yaml", "model: {path: m}\ndata: {train: [d]}\naugmentation: {seed: 4}\n")
    config = load_train_config(run, check_paths=False)
    assert isinstance(config.augmentation, AugmentationConfig) and config.augmentation.seed == 4
    assert config.to_dict()["augmentation"]["seed"] == 4


def test_audit_reads_the_run_config_with_the_one_reader(tmp_path: Path) -> None:
    from vlmdata.audit.audit import audit_config

    _w(tmp_path / "presets" / "base.yaml", "template: {max_pixels: 65536}\nglobal_max_length: 2048\n")
    run = _w(tmp_path / "run.yaml", "extends: presets/base.yaml\nmodel: {path: model}\n")
    cfg = audit_config(run)
    assert cfg.model.path == str(tmp_path / "model") and cfg.template.max_pixels == 65536
    assert cfg.global_max_length == 2048
    # what the run's reader refuses, the audit refuses too, with the file that set it
    bad = _w(
        tmp_path / "bad.yaml",
        "extends: presets/base.yaml\nmodel: {path: m}\nmax_length: 10\ntemplte: {name: chat}\n"
        "global_max_length: true\n",
    )
    with pytest.raises(VlmdataError) as info:
        audit_config(bad)
    lines = info.value.details
    assert any(line.startswith("VD640") and ": max_length:" in line for line in lines), lines
    assert any(line.startswith("VD606") and ": templte:" in line for line in lines), lines
    assert any(": global_max_length:" in line and "boolean" in line for line in lines), lines
    assert all(str(bad) in line for line in lines), lines
    with pytest.raises(VlmdataError) as info:
        audit_config({"model": {"path": "m"}, "template": {"name": "no_such_template"}})
    assert info.value.code_str == "VD649"


def test_export_reads_the_template_with_the_one_reader(tmp_path: Path) -> None:
    from vlmdata.export import template_config

    _w(tmp_path / "base.yaml", "template: {name: source_dense, max_pixels: 65536}\n")
    run = _w(tmp_path / "run.yaml", "extends: base.yaml\ntemplate: {system: Be brief.}\n")
    cfg = template_config(run)
    assert (cfg.name, cfg.max_pixels, cfg.system) == ("source_dense", 65536, "Be brief.")
    typo = _w(tmp_path / "typo.yaml", "templte: {name: source_dense}\n")  # silently ignored before
    with pytest.raises(VlmdataError) as info:
        template_config(typo)
    assert info.value.code_str == "VD606" and "templte" in str(info.value)


def test_augmentation_yaml_goes_through_the_layered_loader(tmp_path: Path) -> None:
    from vlmdata.augment import load_augmentation_config

    base = _w(
        tmp_path / "presets" / "aug.yaml",
        "seed: 1\nops:\n  - {name: hflip, params: {p: 0.5}}\n  - {name: rotate, params: {p: 2}}\n",
    )
    child = _w(tmp_path / "child.yaml", "extends: presets/aug.yaml\nseed: 7\nfill: 300\n")
    with pytest.raises(VlmdataError) as info:
        load_augmentation_config(child)
    lines = info.value.details
    assert len(lines) == 2, lines  # every problem at once, each with the file that set it
    assert any(f"{base}: augmentation.ops[1]" in line for line in lines), lines
    assert any(f"{child}: augmentation.fill" in line for line in lines), lines
    _w(tmp_path / "presets" / "aug.yaml", "seed: 1\nops:\n  - {name: hflip, params: {p: 0.5}}\n")
    cfg = load_augmentation_config(_w(tmp_path / "ok.yaml", "extends: presets/aug.yaml\nseed: 7\n"))
    assert cfg.seed == 7 and [op.name for op in cfg.ops] == ["hflip"]
    train = _w(
        tmp_path / "train.yaml",
        "extends: presets/base_run.yaml\naugmentation: {ops: [{name: vflip}]}\n",
    )
    _w(tmp_path / "presets" / "base_run.yaml", "augmentation: {seed: 5, bypass_prob: 2}\n")
    with pytest.raises(VlmdataError) as info:
        load_augmentation_config(train)
    (line,) = info.value.details
    assert (
        line.startswith("VD652")
        and f"{tmp_path / 'presets' / 'base_run.yaml'}: augmentation.bypass_prob" in line
    )
