"""The attack table of the `--out` rule: every writing command × every forbidden `--out`.

Each cell runs the real command line (`vlmdata.cli.main`) against fresh inputs and asserts the target exactly
as it was (type, bytes, children), the inputs exactly as they were, nothing left beside the target, and a
usage error (exit 2) with an output code (VD001–VD004). Commands read the dataset as `W/v/data` (the form
every version accepted). docs/reliability.md lists the same table. The character-device cell uses a private
node made with `mknod` (root only; skipped otherwise), never the system's `/dev/null`.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from vlmdata.cli import main

FILE, FOLDER, WORKSPACE = "file", "folder", "workspace"


@dataclass(frozen=True)
class Command:
    name: str
    kind: str
    argv: Callable[[Path, Path], list[str]]  # (inputs folder W, target) -> argv
    input_file: Callable[[Path], Path] | None = None  # a data file it reads
    reads_dataset: bool = False  # reads W/v (a `validate --out` folder)
    config: Callable[[Path], Path] | None = None  # its config file
    image_root_is_own: bool = False  # W/s is this command's own earlier output (synth)


def _arrow(w: Path) -> Path:
    return w / "v" / "data" / "data-00000-of-00001.arrow"


def _train_argv(w: Path, target: Path) -> list[str]:
    """`vlmdata train` with `training.output_dir` at the target (a config written outside W and the target)."""
    if target == w / "train.yaml":  # the config case: output_dir is the config file itself
        return ["train", "--config", str(target)]
    configs = w.parent / f"{w.name}-train-configs"
    configs.mkdir(exist_ok=True)
    config = configs / (hashlib.sha256(str(target).encode()).hexdigest()[:12] + ".yaml")
    config.write_text(
        f"plugin: sft\nmodel: {{path: {w / 'm'}}}\ndata: {{train: [{w / 'v' / 'data'}]}}\n"
        f"training: {{output_dir: '{target}', max_steps: 1, gradient_accumulation_steps: 1}}\n"
    )
    return ["train", "--config", str(config)]


COMMANDS = [
    Command(
        "validate",
        FOLDER,
        lambda w, t: ["validate", str(w / "s" / "data.jsonl"), "--out", str(t)],
        input_file=lambda w: w / "s" / "data.jsonl",
    ),
    Command(
        "augment",
        FOLDER,
        lambda w, t: ["augment", str(w / "v" / "data"), "--config", str(w / "aug.yaml"), "--out", str(t)],
        input_file=_arrow,
        reads_dataset=True,
        config=lambda w: w / "aug.yaml",
    ),
    Command(
        "fuse",
        FOLDER,
        lambda w, t: ["fuse", str(w / "fusion.yaml"), "--out", str(t)],
        input_file=_arrow,
        reads_dataset=True,
        config=lambda w: w / "fusion.yaml",
    ),
    Command(
        "render",
        FOLDER,
        lambda w, t: ["render", str(w / "v" / "data"), "--out", str(t), "--n", "1"],
        input_file=_arrow,
        reads_dataset=True,
    ),
    Command(
        "export",
        FILE,
        lambda w, t: ["export", str(w / "v" / "data"), "--config", str(w / "run.yaml"), "--out", str(t)],
        input_file=_arrow,
        reads_dataset=True,
        config=lambda w: w / "run.yaml",
    ),
    Command(
        "audit",
        FILE,
        lambda w, t: ["audit", str(w / "v" / "data"), "--config", str(w / "run.yaml"), "--out", str(t)],
        input_file=_arrow,
        reads_dataset=True,
        config=lambda w: w / "run.yaml",
    ),
    Command(
        "synth", FOLDER, lambda w, t: ["synth", str(t), "--n", "2", "--no-images"], image_root_is_own=True
    ),
    Command(
        "summarize-jsonl",
        FILE,
        lambda w, t: ["summarize", str(w / "s" / "data.jsonl"), "--out", str(t)],
        input_file=lambda w: w / "s" / "data.jsonl",
    ),
    Command(
        "summarize-dataset",
        FOLDER,
        lambda w, t: ["summarize", str(w / "v" / "data"), "--out", str(t)],
        input_file=_arrow,
        reads_dataset=True,
    ),
    Command("tiny-model", FOLDER, lambda w, t: ["tiny-model", str(t)]),
    Command(
        "eval",
        FILE,
        lambda w, t: ["eval", str(w / "preds.jsonl"), "--gt", str(w / "v" / "data"), "--out", str(t)],
        input_file=lambda w: w / "preds.jsonl",
        reads_dataset=True,
    ),
    Command(
        "infer",
        FILE,
        lambda w, t: ["infer", str(w / "v" / "data"), "--model", str(w / "m"), "--out", str(t)],
        input_file=_arrow,
        reads_dataset=True,
    ),
    Command(
        "train",
        WORKSPACE,
        _train_argv,
        input_file=_arrow,
        reads_dataset=True,
        config=lambda w: w / "train.yaml",
    ),
    Command("demo", WORKSPACE, lambda w, t: ["demo", "--out", str(t)]),
    Command(
        "config-migrate",
        FILE,
        lambda w, t: ["config", "migrate", str(w / "old.yaml"), "--out", str(t)],
        input_file=lambda w: w / "old.yaml",
    ),
]

CASES = (
    "input_file",
    "dataset",
    "image_root",
    "config",
    "inside_dataset",
    "fifo",
    "char_device",
    "symlink",
    "foreign_home",
    "only_report",
)


def _applies(cmd: Command, case: str) -> bool:
    return {
        "input_file": cmd.input_file is not None,
        "dataset": cmd.reads_dataset,
        "image_root": not cmd.image_root_is_own,
        "config": cmd.config is not None,
        "inside_dataset": cmd.reads_dataset,
    }.get(case, True)


TABLE = [
    pytest.param(c, case, id=f"{c.name}-{case}") for c in COMMANDS for case in CASES if _applies(c, case)
]


def digest(path: Path) -> str:
    """Type, content and children of `path`, without following symlinks."""
    h = hashlib.sha256()

    def walk(p: Path, rel: str) -> None:
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            h.update(f"{rel}:missing;".encode())
            return
        mode = stat.S_IFMT(st.st_mode)
        h.update(f"{rel}:{mode}:{stat.S_IMODE(st.st_mode)};".encode())
        if stat.S_ISLNK(st.st_mode):
            h.update(os.readlink(p).encode())
        elif stat.S_ISREG(st.st_mode):
            h.update(p.read_bytes())
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            h.update(str(st.st_rdev).encode())
        elif stat.S_ISDIR(st.st_mode):
            for child in sorted(os.listdir(p)):
                walk(p / child, f"{rel}/{child}")

    walk(path, ".")
    return h.hexdigest()


@pytest.fixture(scope="module")
def tokenizer_json() -> str:
    from vlmdata.models.tokenizer import build_backend_tokenizer

    return build_backend_tokenizer().to_str()


@pytest.fixture
def world(tmp_path_factory: pytest.TempPathFactory, tokenizer_json: str) -> Path:
    """Fresh inputs per cell: a synth folder, its validated dataset, configs, predictions, a model folder."""
    from vlmdata.synth import generate
    from vlmdata.validate import validate_files

    w = tmp_path_factory.mktemp("world")
    generate(w / "s", 3, seed=0, domain="bbu", min_size=64, max_size=96, max_objects=3)
    validate_files([w / "s" / "data.jsonl"], w / "v")
    (w / "m").mkdir()
    (w / "m" / "config.json").write_text("{}")
    (w / "m" / "tokenizer.json").write_text(tokenizer_json)  # the audit sizes for real before writing
    (w / "aug.yaml").write_text("seed: 0\nops:\n  - {name: hflip, params: {p: 0.5}}\n")
    (w / "fusion.yaml").write_text(
        f"targets:\n  - {{name: t, data: {w / 'v' / 'data'}, template: target_dense_bbu}}\n"
    )
    (w / "run.yaml").write_text(
        f"model: {{path: {w / 'm'}}}\ntemplate: {{name: target_dense_bbu}}\nglobal_max_length: 4096\n"
    )
    first_id = (w / "s" / "data.jsonl").read_text().split('"id": "', 1)[1].split('"', 1)[0]
    (w / "preds.jsonl").write_text(f'{{"id": "{first_id}", "completion": "{{}}"}}\n')
    (w / "old.yaml").write_text(f"model: {{model: {w / 'm'}}}\ntraining: {{learning_rate: 1.0e-4}}\n")
    (w / "train.yaml").write_text(
        f"plugin: sft\nmodel: {{path: {w / 'm'}}}\ndata: {{train: [{w / 'v' / 'data'}]}}\n"
        f"training: {{output_dir: '{w / 'train.yaml'}', max_steps: 1, gradient_accumulation_steps: 1}}\n"
    )
    return w


def _target(cmd: Command, case: str, w: Path, tmp: Path) -> Path:
    if case == "input_file":
        assert cmd.input_file is not None
        return cmd.input_file(w)
    if case == "dataset":
        return w / "v" / "data"
    if case == "image_root":
        return w / "s"  # a synth output holding the images the dataset references
    if case == "config":
        assert cmd.config is not None
        return cmd.config(w)
    if case == "inside_dataset":
        return w / "v" / "data" / ("x.json" if cmd.kind == FILE else "sub")
    if case == "fifo":
        os.mkfifo(tmp / "fifo")
        return tmp / "fifo"
    if case == "char_device":
        if os.geteuid() != 0:
            pytest.skip("making a character device needs root")
        os.mknod(tmp / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null twin
        return tmp / "null"
    if case == "symlink":
        (tmp / "elsewhere").mkdir()
        (tmp / "elsewhere" / "keep.txt").write_text("keep")
        (tmp / "link").symlink_to(tmp / "elsewhere")
        return tmp / "link"
    if case == "foreign_home":
        home = tmp / "home"
        (home / ".ssh").mkdir(parents=True)
        (home / ".ssh" / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
        (home / ".bashrc").write_text("export A=1\n")
        return home / ".ssh" / "id_ed25519" if cmd.kind == FILE else home
    if case == "only_report":
        folder = tmp / "r"
        folder.mkdir()
        (folder / "report.json").write_text('{"mine": true}\n')
        return folder / "report.json" if cmd.kind == FILE else folder
    raise AssertionError(case)


@pytest.mark.parametrize(("cmd", "case"), TABLE)
def test_forbidden_out_is_refused_before_anything_is_written(
    cmd: Command, case: str, world: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    target = _target(cmd, case, world, tmp_path)
    watched = target if case not in ("symlink",) else tmp_path
    before, inputs_before = digest(watched), digest(world)
    siblings = sorted(os.listdir(target.parent))
    code = main(cmd.argv(world, target))
    err = capsys.readouterr().err
    assert digest(watched) == before, f"the refused target changed (exit {code}): {err[-300:]}"
    assert digest(world) == inputs_before, f"an input changed (exit {code}): {err[-300:]}"
    assert sorted(os.listdir(target.parent)) == siblings, "something was left beside the target"
    assert code == 2, err
    assert any(f"VD00{k}" in err for k in (1, 2, 3, 4)), err
    print(f"cell {cmd.name} {case}: {err.split()[1]}")  # the code, shown with `pytest -rP`


def test_validate_with_an_explicit_image_root_may_not_write_inside_it(world: Path, tmp_path: Path) -> None:
    before = digest(world)
    out = world / "s" / "validated"
    assert (
        main(
            ["validate", str(world / "s" / "data.jsonl"), "--image-root", str(world / "s"), "--out", str(out)]
        )
        == 2
    )
    assert digest(world) == before and not out.exists()


def test_validate_into_the_jsonl_folder_is_the_documented_usage(tmp_path: Path) -> None:
    from vlmdata.synth import generate

    generate(tmp_path / "data", 2, seed=1, domain="bbu", min_size=64, max_size=96)
    out = tmp_path / "data" / "validated"
    assert main(["validate", str(tmp_path / "data" / "data.jsonl"), "--out", str(out)]) == 0
    assert main(["validate", str(tmp_path / "data" / "data.jsonl"), "--out", str(out)]) == 0  # a rerun
    assert (out / "data" / "state.json").is_file()
