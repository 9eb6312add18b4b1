"""Plugin system: a third-party plugin installed the ordinary way trains through `vlmdata train`; broken
plugins are named with their package and the rule they broke."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vlmdata.errors import VlmdataError

TOY = """
import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from vlmdata.train.plugin import TrainerPlugin, TrainPlan, TrainResult


class ToySection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target_slope: float = 2.0


class Toy(TrainerPlugin):
    name = "toy"
    description = "linear regression on a one-weight torch model"
    config_model = ToySection

    def plan(self, config):
        t = config.training
        args = {
            "steps": t.max_steps if t.max_steps > 0 else 10,
            "lr": t.learning_rate,
            "seed": t.seed,
            "slope": config.rlhf.target_slope,
            "log_every": t.logging_steps,
        }
        return TrainPlan(self.name, config, Path(t.output_dir), args, world_size=t.world_size,
                         gradient_accumulation_steps=t.resolved_gradient_accumulation_steps())

    def run(self, plan):
        import torch

        a = plan.backend_args
        torch.manual_seed(a["seed"])
        model = torch.nn.Linear(1, 1)
        opt = torch.optim.SGD(model.parameters(), lr=a["lr"])
        x = torch.linspace(-1, 1, 32).unsqueeze(1)
        y = a["slope"] * x + 1
        plan.output_dir.mkdir(parents=True, exist_ok=True)
        rank = int(os.environ.get("RANK", "0"))
        log = plan.output_dir / ("logging.jsonl" if rank == 0 else f"logging.rank{rank}.jsonl")
        with log.open("w") as f:
            for step in range(1, a["steps"] + 1):
                loss = torch.nn.functional.mse_loss(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                if step % a["log_every"] == 0:
                    row = {"step": step, "loss": loss.item(), "world_size": int(os.environ.get("WORLD_SIZE", "1"))}
                    f.write(json.dumps(row) + "\\n")
        ckpt = plan.output_dir / f"checkpoint-{a['steps']}"
        ckpt.mkdir(exist_ok=True)
        (ckpt / f"weights.rank{rank}.json").write_text(json.dumps([p.tolist() for p in model.parameters()]))
        return TrainResult(plan.output_dir, a["steps"], checkpoint_dir=ckpt, log_file=log, metrics={"loss": loss.item()})
"""


def _install(site: Path, package: str, module: str, source: str, entry_points: dict[str, str]) -> None:
    """Install `module` as distribution `package` the way pip would leave it: code + dist-info."""
    (site / module).mkdir(parents=True, exist_ok=True)
    (site / module / "__init__.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{package.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n", encoding="utf-8"
    )
    eps = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text("[vlmdata.trainers]\n" + eps, encoding="utf-8")


@pytest.fixture()
def toy_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    _install(site, "toy-trainer", "toy_trainer", TOY, {"toy": "toy_trainer:Toy"})
    return site


def _fake_inputs(root: Path, model: str, data: str) -> None:
    """A folder that passes as a model and one that passes as a dataset (the toy plugin reads neither)."""
    (root / model).mkdir(exist_ok=True)
    (root / model / "config.json").write_text("{}", encoding="utf-8")
    (root / data).mkdir(exist_ok=True)
    (root / data / "state.json").write_text("{}", encoding="utf-8")
    (root / data / "dataset_info.json").write_text("{}", encoding="utf-8")  # what load_from_disk needs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_config(tmp_path: Path, extra: str = "") -> Path:
    _fake_inputs(tmp_path, "model", "train")
    text = textwrap.dedent("""\
        plugin: toy
        model: {path: model}
        data: {train: train}
        rlhf: {target_slope: 3.0}
        training:
          output_dir: OUT
          max_steps: 40
          learning_rate: 0.3
          logging_steps: 10
        """).replace("OUT", str(tmp_path / "run"))
    path = tmp_path / "run.yaml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def _cli(args: list[str], site: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "vlmdata", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


@pytest.mark.train
def test_third_party_plugin_trains_through_registry_and_cli(toy_site: Path, tmp_path: Path) -> None:
    listed = _cli(["plugins", "--format", "json"], toy_site, tmp_path)
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["toy"]["package"] == "toy-trainer" and rows["toy"]["ok"], listed

    config = _run_config(tmp_path)
    dry = _cli(["train", "--config", str(config), "--dry-run"], toy_site, tmp_path)
    assert dry.returncode == 0, dry.stderr
    import yaml

    shown = yaml.safe_load(dry.stdout)
    assert shown["backend_args"] == {"steps": 40, "lr": 0.3, "seed": 42, "slope": 3.0, "log_every": 10}
    assert shown["config"]["rlhf"] == {"target_slope": 3.0}
    assert not (tmp_path / "run").exists(), "--dry-run must not write the run folder"

    done = _cli(["train", "--config", str(config)], toy_site, tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "run" / "logging.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20, 30, 40]
    assert rows[-1]["loss"] < rows[0]["loss"] / 10
    assert (tmp_path / "run" / "checkpoint-40" / "weights.rank0.json").exists()
    assert "checkpoint-40" in done.stdout

    bad = _cli(["train", "--config", str(config), "--plugin", "toy", "--debug"], toy_site, tmp_path)
    assert bad.returncode == 1 and "VD708" in bad.stderr and "toy" in bad.stderr


@pytest.mark.train
@pytest.mark.slow
def test_nproc_per_node_launches_torchrun_workers(toy_site: Path, tmp_path: Path) -> None:
    config = _run_config(tmp_path, f"  nproc_per_node: 2\n  master_port: {_free_port()}\n")
    dry = _cli(["train", "--config", str(config), "--dry-run"], toy_site, tmp_path)
    import yaml

    launch = yaml.safe_load(dry.stdout)["launch"]
    assert launch[1:3] == ["-m", "torch.distributed.run"] and "--nproc_per_node=2" in launch
    done = _cli(["train", "--config", str(config)], toy_site, tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("logging.jsonl", "logging.rank1.jsonl"):
        rows = [json.loads(line) for line in (tmp_path / "run" / name).read_text().splitlines()]
        assert rows[-1]["step"] == 40 and {r["world_size"] for r in rows} == {2}


BROKEN = {
    "broken-import": (
        "broken_import_mod",
        "raise ImportError('needs libfoo')\n",
        {"bimport": "broken_import_mod:X"},
    ),
    "not-a-plugin": ("not_a_plugin_mod", "def X():\n    pass\n", {"notplugin": "not_a_plugin_mod:X"}),
    "bad-name": (
        "bad_name_mod",
        "from vlmdata.train.plugin import TrainerPlugin\nclass X(TrainerPlugin):\n    name = 'other'\n"
        "    def plan(self, c): ...\n    def run(self, p): ...\n",
        {"badname": "bad_name_mod:X"},
    ),
    "loose-model": (
        "loose_model_mod",
        "from pydantic import BaseModel\nfrom vlmdata.train.plugin import TrainerPlugin\nclass S(BaseModel):\n    a: int = 1\n"
        "class X(TrainerPlugin):\n    name = 'loose'\n    config_model = S\n    def plan(self, c): ...\n    def run(self, p): ...\n",
        {"loose": "loose_model_mod:X"},
    ),
    "half-done": (
        "half_done_mod",
        "from vlmdata.train.plugin import TrainerPlugin\nclass X(TrainerPlugin):\n    name = 'half'\n    def plan(self, c): ...\n",
        {"half": "half_done_mod:X"},
    ),
    "twin-a": ("twin_a_mod", "", {"twin": "twin_a_mod:X"}),
    "twin-b": ("twin_b_mod", "", {"twin": "twin_b_mod:X"}),
    "crashy": (
        "crashy_mod",
        "from vlmdata.train.plugin import TrainerPlugin\nclass X(TrainerPlugin):\n    name = 'crashy'\n"
        "    def plan(self, c):\n        raise KeyError('oops')\n    def run(self, p): ...\n",
        {"crashy": "crashy_mod:X"},
    ),
    "debugger": (
        "debugger_mod",
        "from pathlib import Path\nfrom vlmdata.train.plugin import DebugSample, TrainerPlugin, TrainPlan\n"
        "class X(TrainerPlugin):\n    name = 'debugger'\n"
        "    def plan(self, c):\n        return TrainPlan(self.name, c, Path(c.training.output_dir), {'x': 1})\n"
        "    def run(self, p): ...\n"
        "    def debug(self, p):\n"
        "        return DebugSample('r1', '<|vision_start|><|image_pad|>*12<|vision_end|>hi', 12, 16,\n"
        "                           {'pixel_values': [64, 1536]}, problems=['grid 1x4x4 needs 16 pads, found 12'])\n",
        {"debugger": "debugger_mod:X"},
    ),
    "picky": (
        "picky_mod",
        "from pathlib import Path\nfrom vlmdata.io.layered import ConfigProblem\n"
        "from vlmdata.train.plugin import TrainerPlugin, TrainPlan\n"
        "class X(TrainerPlugin):\n    name = 'picky'\n"
        "    def validate(self, c):\n"
        "        if c.training.seed == 7:\n            raise RuntimeError('seven')\n"
        "        return [ConfigProblem(('training', 'seed'), 'picky wants seed 0', None, 'set training.seed: 0', 'VD645')] if c.training.seed else []\n"
        "    def plan(self, c):\n        return TrainPlan(self.name, c, Path(c.training.output_dir), {'x': 1})\n"
        "    def run(self, p): ...\n",
        {"picky": "picky_mod:X"},
    ),
    "plain": (
        "plain_mod",
        "from vlmdata.train.plugin import TrainerPlugin\nclass X(TrainerPlugin):\n    name = 'plain'\n"
        "    def plan(self, c): ...\n    def run(self, p): ...\n",
        {"plain": "plain_mod:X"},
    ),
}


@pytest.fixture()
def broken_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    for package, (module, source, eps) in BROKEN.items():
        _install(site, package, module, source, eps)
    monkeypatch.syspath_prepend(str(site))
    yield site
    for module, _, _ in BROKEN.values():
        sys.modules.pop(module, None)


@pytest.mark.parametrize(
    ("name", "code", "package"),
    [
        ("bimport", "VD701", "broken-import"),
        ("notplugin", "VD702", "not-a-plugin"),
        ("badname", "VD703", "bad-name"),
        ("loose", "VD704", "loose-model"),
        ("half", "VD706", "half-done"),
        ("twin", "VD705", "twin-a"),
    ],
)
def test_broken_plugin_names_package_and_rule(broken_site: Path, name: str, code: str, package: str) -> None:
    from vlmdata.train.registry import get_plugin, list_plugins

    with pytest.raises(VlmdataError) as exc:
        get_plugin(name)
    assert exc.value.code_str == code and package in str(exc.value)
    if name == "twin":
        assert "twin-b" in str(exc.value)
    info = next(i for i in list_plugins() if i.name == name)
    assert not info.ok and info.error is not None and info.error.code_str == code


def test_plugins_command_lists_and_fails_on_broken(
    broken_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vlmdata.cli import main

    assert main(["plugins", "--format", "json"]) == 1
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["plain"]["ok"] and rows["plain"]["package"] == "plain"
    assert not rows["bimport"]["ok"] and "needs libfoo" in rows["bimport"]["error"]
    from vlmdata.train.registry import get_plugin

    with pytest.raises(VlmdataError) as exc:
        get_plugin("nosuch")
    assert exc.value.code_str == "VD700" and "plain" in (exc.value.hint or "")


def test_section_for_a_plugin_without_config_model(broken_site: Path, tmp_path: Path) -> None:
    from vlmdata.train.config import load_train_config

    _fake_inputs(tmp_path, "m", "d")
    run = tmp_path / "run.yaml"
    run.write_text("plugin: plain\nmodel: {path: m}\ndata: {train: d}\nrlhf: {beta: 1}\n", encoding="utf-8")
    with pytest.raises(VlmdataError) as exc:
        load_train_config(run)
    assert exc.value.details[0].startswith("VD645") and "rlhf" in exc.value.details[0]
    run.write_text("plugin: plain\nmodel: {path: m}\ndata: {train: d}\n", encoding="utf-8")
    assert load_train_config(run).rlhf is None


def test_compress_image_pads() -> None:
    from vlmdata.train.plugin import compress_image_pads

    text = "<|vision_start|>" + "<|image_pad|>" * 64 + "<|vision_end|>a<|image_pad|>b"
    assert compress_image_pads(text) == "<|vision_start|><|image_pad|>*64<|vision_end|>a<|image_pad|>*1b"
    assert compress_image_pads("no pads") == "no pads"


def _plain_run(tmp_path: Path, plugin: str, extra: str = "") -> Path:
    _fake_inputs(tmp_path, "m", "d")
    run = tmp_path / "run.yaml"
    run.write_text(f"plugin: {plugin}\nmodel: {{path: m}}\ndata: {{train: d}}\n{extra}", encoding="utf-8")
    return run


def test_train_cli_exit_codes_and_messages(
    broken_site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vlmdata.cli import main

    assert main(["train", "--config", str(tmp_path / "nope.yaml")]) == 2
    bad = _plain_run(tmp_path, "plain", "training: {packing: true, lr: 1}\nmax_length: 10\n")
    capsys.readouterr()
    assert main(["train", "--config", str(bad), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert (
        "3 problem(s)" in err
        and "training.packing" in err
        and "training.lr" in err
        and "global_max_length" in err
    )
    assert main(["train", "--config", str(_plain_run(tmp_path, "crashy")), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "VD707" in err and "crashy" in err and "oops" in err
    assert main(["train", "--config", str(_plain_run(tmp_path, "plain")), "--dry-run"]) == 1
    assert "VD707" in capsys.readouterr().err


def test_debug_prints_sample_and_fails_on_token_mismatch(
    broken_site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from vlmdata.cli import main

    monkeypatch.chdir(tmp_path)
    run = _plain_run(tmp_path, "debugger")
    capsys.readouterr()
    assert main(["train", "--config", str(run), "--debug"]) == 1
    captured = capsys.readouterr()
    assert "<|vision_start|><|image_pad|>*12<|vision_end|>hi" in captured.out
    assert "image tokens: 12, from grids: 16" in captured.out and "pixel_values: [64, 1536]" in captured.out
    assert "VD710" in captured.err and "needs 16 pads" in captured.err
    assert not (tmp_path / "runs").exists(), "--debug must not create the run folder"


def test_plugin_validate_joins_the_config_problems(
    broken_site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vlmdata.cli import main

    capsys.readouterr()
    assert (
        main(["train", "--config", str(_plain_run(tmp_path, "picky", "training: {seed: 3}\n")), "--dry-run"])
        == 1
    )
    err = capsys.readouterr().err
    assert "run.yaml: training.seed: picky wants seed 0" in err and "set training.seed: 0" in err
    assert (
        main(["train", "--config", str(_plain_run(tmp_path, "picky", "training: {seed: 7}\n")), "--dry-run"])
        == 1
    )
    err = capsys.readouterr().err
    assert "VD707" in err and "picky" in err and "RuntimeError: seven" in err
    assert (
        main(["train", "--config", str(_plain_run(tmp_path, "picky", "training: {seed: 0}\n")), "--dry-run"])
        == 0
    )


def test_torchrun_command_carries_multi_node_fields(
    broken_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vlmdata.train.config import load_train_config
    from vlmdata.train.launch import needs_launch, torchrun_command

    extra = (
        "training: {nproc_per_node: 8, nnodes: 2, node_rank: 1, master_addr: 10.1.2.3, master_port: 29601}\n"
    )
    config = load_train_config(_plain_run(tmp_path, "plain", extra))
    command = torchrun_command(config, ["--config", "/abs/run.yaml", "--plugin", "plain"])
    assert command[0] == sys.executable and command[1:3] == ["-m", "torch.distributed.run"]
    assert command[3:8] == [
        "--nproc_per_node=8",
        "--nnodes=2",
        "--node_rank=1",
        "--master_addr=10.1.2.3",
        "--master_port=29601",
    ]
    assert command[8:] == ["-m", "vlmdata", "train", "--config", "/abs/run.yaml", "--plugin", "plain"]
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert needs_launch(config)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert not needs_launch(config), "a torchrun worker trains in-process"
    single = load_train_config(_plain_run(tmp_path, "plain"))
    monkeypatch.delenv("LOCAL_RANK")
    assert not needs_launch(single)
