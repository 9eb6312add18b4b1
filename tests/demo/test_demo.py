"""`vlmdata demo`: end to end on a CPU (slow), its embedded config equal to configs/demo/sft.yaml, a stage
needing an uninstalled extra stopped with the install command, and the `--out` rule for its folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from vlmdata.errors import VlmdataError

ROOT = Path(__file__).resolve().parents[2]


def test_preset_matches_embedded_config() -> None:
    from vlmdata.demo import RUN_CONFIG

    preset = yaml.safe_load((ROOT / "configs" / "demo" / "sft.yaml").read_text(encoding="utf-8"))
    for key in ("plugin", "template", "global_max_length", "augmentation", "tuner"):
        assert preset[key] == RUN_CONFIG[key], key
    strip = lambda t: {k: v for k, v in t.items() if k != "output_dir"}  # noqa: E731
    assert strip(preset["training"]) == strip(RUN_CONFIG["training"])
    assert {k: v for k, v in preset["model"].items() if k != "path"} == {
        k: v for k, v in RUN_CONFIG["model"].items() if k != "path"
    }


@pytest.mark.slow
@pytest.mark.train
def test_demo_end_to_end(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    from vlmdata.cli import main
    from vlmdata.demo import next_commands

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    console = capfd.readouterr()
    lines = console.out.splitlines()
    stages = ["synth", "validate", "augment", "fuse", "model", "audit", "report", "train"]
    # one line per stage with its result, then the output root, the artefacts and three next commands
    assert [line.split()[0] for line in lines[: len(stages)]] == stages
    assert lines[len(stages)] == f"output: {out.resolve()}"
    body = "\n".join(lines[len(stages) :])
    for kind in ("datasets", "configs", "reports", "adapter", "logs", "previews"):
        assert f"  {kind} " in body, body
    assert lines[-4] == "next:" and len(lines) - lines.index("next:") - 1 == 3
    # the libraries' chatter is in the logs, not on the console
    assert "SftArguments(" not in console.out + console.err and "[INFO:swift]" not in console.err
    assert console.err.strip() == "", console.err[:2000]
    assert "SftArguments(" in (out / "run" / "backend.log").read_text(encoding="utf-8")
    page = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert "report/index.html" in body and "data-count='records'" in page
    report = json.loads((out / "demo_report.json").read_text(encoding="utf-8"))
    from vlmdata.demo import DemoReport

    commands = next_commands(DemoReport(**report))
    assert [c.split()[1] for c in commands] == ["train", "infer", "eval"]
    assert all(f"  {c}" in lines for c in commands)
    assert report["validate"]["bbu"]["valid"] == report["validate"]["bbu"]["lines"] > 0
    assert len(report["augment_previews"]) == 3 and all(Path(p).exists() for p in report["augment_previews"])
    assert report["fused"]["total"] == report["fused"]["bbu"] + report["fused"]["rru"]
    log = Path(report["log_file"])
    assert log.name == "logging.jsonl" and log.exists()
    assert report["losses"] and all(loss == loss and loss < 1e4 for loss in report["losses"])
    adapter = Path(report["adapter_dir"])
    assert (adapter / "adapter_config.json").exists() and (adapter / "adapter_model.safetensors").exists()
    assert not (adapter / "model.safetensors").exists(), "a LoRA run saves an adapter, not the full model"


def test_stage_needing_an_uninstalled_extra_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import vlmdata.demo as demo
    from vlmdata.cli import main

    def synth(out: Path, report: object) -> None:
        import torch  # noqa: F401

    monkeypatch.setitem(sys.modules, "torch", None)  # as if the `train` extra were not installed
    monkeypatch.setattr(demo, "_synth", synth)
    assert main(["demo", "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.out.split()[:2] == ["synth", "stopped"]  # the log names the stage that stopped
    assert "VD006" in captured.err and "pip install 'vlmdata[train]'" in captured.err
    assert "Traceback" not in captured.err


def test_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    from vlmdata.demo import run_demo

    (tmp_path / "mine.txt").write_text("keep", encoding="utf-8")
    with pytest.raises(VlmdataError) as exc:
        run_demo(tmp_path, log=lambda line: None)
    assert exc.value.exit_code == 2 and exc.value.code_str == "VD003"
    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "keep"
