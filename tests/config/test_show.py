"""`vlmdata config show`: the merged config, every value with the layer that set it; the documented overlay."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from vlmdata.config import load_run_config
from vlmdata.errors import VlmdataError
from vlmdata.train.show import render_config, show_config

ROOT = Path(__file__).resolve().parents[2]


def _w(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture()
def stack(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}", encoding="utf-8")
    from vlmdata.io.dataset import save_records

    if not (tmp_path / "ds").exists():  # a real (one-record) dataset folder, as the one opener requires
        save_records([{"id": "a", "messages": [{"role": "user", "content": "hi"}]}], tmp_path / "ds")
    machine = _w(tmp_path / "machine.yaml", "model: {path: model}\ntraining: {node_rank: 0}\n")
    preset = _w(
        tmp_path / "presets" / "lora.yaml",
        "tuner: {lora_rank: 16, lora_alpha: 32}\ntraining: {learning_rate: 1.0e-4}\n",
    )
    run = _w(
        tmp_path / "run.yaml",
        """
        extends: presets/lora.yaml
        data: {train: [ds]}
        training: {num_train_epochs: 2, learning_rate: 2.0e-4}
        """,
    )
    overlay = _w(
        tmp_path / "lr_sweep" / "lr5e-5.yaml",
        "extends: ../run.yaml\ntraining: {learning_rate: 5.0e-5}\ntuner: {lora_rank: 8}\n",
    )
    return {"machine": machine, "preset": preset, "run": run, "overlay": overlay, "root": tmp_path}


def test_every_value_names_its_layer(stack: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(stack["root"])
    shown = {
        ".".join(str(p) for p in e.path): e for e in show_config(stack["overlay"], base=stack["machine"])
    }
    origin = {k: v.origin for k, v in shown.items()}
    assert origin["training.learning_rate"] == "lr_sweep/lr5e-5.yaml"  # the overlay wins
    assert origin["tuner.lora_rank"] == "lr_sweep/lr5e-5.yaml"
    assert origin["tuner.lora_alpha"] == "presets/lora.yaml"
    assert origin["training.num_train_epochs"] == "run.yaml"
    assert origin["model.path"] == "machine.yaml" and origin["training.node_rank"] == "machine.yaml"
    assert origin["data.train"] == "run.yaml"
    assert origin["tuner.lora_dropout"] == "default" and origin["plugin"] == "default"
    assert origin["training.output_dir"].startswith("default")
    # the values are the validated ones, the same `vlmdata train` uses
    config = load_run_config(stack["overlay"], base=stack["machine"]).to_dict()
    assert shown["training.learning_rate"].value == config["training"]["learning_rate"] == 5.0e-5
    assert shown["model.path"].value == str(stack["root"] / "model")


def test_rendered_text_is_loadable_yaml_with_the_same_values(stack: dict[str, Path]) -> None:
    entries = show_config(stack["overlay"], base=stack["machine"])
    text = render_config(entries)
    config = load_run_config(stack["overlay"], base=stack["machine"], check_paths=False).to_dict()
    assert yaml.safe_load(text) == config
    line = next(x for x in text.splitlines() if x.strip().startswith("learning_rate:"))
    assert re.search(r"learning_rate: 5\.0e-05\s+# .*lr5e-5\.yaml$", line), line


def test_problems_are_reported_like_train_does(stack: dict[str, Path]) -> None:
    bad = _w(
        stack["root"] / "bad.yaml", "extends: run.yaml\ntraining: {lerning_rate: 1}\nmodel: {path: model}\n"
    )
    with pytest.raises(VlmdataError) as exc:
        show_config(bad)
    assert any(
        "training.lerning_rate" in d and "did you mean `learning_rate`" in d for d in exc.value.details
    )


def test_hub_id_shows_its_cache(stack: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants as hf_constants

    cache = stack["root"] / "hf"
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    snap = cache / "models--Org--Tiny" / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}", encoding="utf-8")
    (cache / "models--Org--Tiny" / "refs").mkdir()
    (cache / "models--Org--Tiny" / "refs" / "main").write_text("a" * 40, encoding="utf-8")
    run = _w(stack["root"] / "hub.yaml", "extends: run.yaml\nmodel: {path: Org/Tiny}\n")
    shown = {".".join(map(str, e.path)): e for e in show_config(run)}
    assert shown["model.path"].value == str(snap)
    assert "huggingface cache: Org/Tiny" in shown["model.path"].origin


def test_documented_overlay_example_loads(stack: dict[str, Path]) -> None:
    """The overlay example of docs/config.md, laid over a run file, changes exactly the keys it sets."""
    doc = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    block = re.search(r"## Varying a run: overlays\n.*?```yaml\n(.*?)```", doc, re.S)
    assert block is not None, "docs/config.md lost its overlay example"
    text = block.group(1)
    overlay = yaml.safe_load(text)
    assert set(overlay) == {"extends", "training", "tuner"} and overlay["extends"] == "run.yaml"
    path = _w(stack["root"] / "doc_overlay.yaml", text)
    base = load_run_config(stack["run"], base=stack["machine"]).to_dict()
    varied = load_run_config(path, base=stack["machine"]).to_dict()
    assert varied["training"]["learning_rate"] == overlay["training"]["learning_rate"]
    assert varied["tuner"]["lora_rank"] == overlay["tuner"]["lora_rank"]
    assert varied["training"]["output_dir"] == str(stack["root"] / overlay["training"]["output_dir"])
    changed = {
        (section, key)
        for section in base
        if isinstance(base[section], dict)
        for key in base[section]
        if base[section][key] != varied[section][key]
    }
    assert changed == {("training", "learning_rate"), ("training", "output_dir"), ("tuner", "lora_rank")}


def test_cli(stack: dict[str, Path], capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from vlmdata.cli import main

    monkeypatch.chdir(stack["root"])
    args = ["config", "show", "--config", str(stack["overlay"]), "--base-config", str(stack["machine"])]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert yaml.safe_load(text)["tuner"]["lora_rank"] == 8
    assert main([*args, "--format", "json"]) == 0
    rows = {r["key"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["tuner.lora_rank"] == {"key": "tuner.lora_rank", "value": 8, "origin": "lr_sweep/lr5e-5.yaml"}
    assert main(["config", "show", "--config", str(stack["root"] / "missing.yaml")]) == 2
    assert main(["config", "show", "--config", str(stack["run"]), "--format", "xml"]) == 2
