"""`model.path` as a local folder or a hub id already in the local Hugging Face / ModelScope cache."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from vlmdata.config import load_run_config
from vlmdata.errors import VlmdataError
from vlmdata.io.model_ref import ModelNotCached, looks_like_hub_id, resolve_model_ref
from vlmdata.train.config import load_train_config


@pytest.fixture()
def caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty HF and ModelScope caches under tmp_path (the libraries read these at call time)."""
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms"))
    return tmp_path


def _hf_snapshot(cache: Path, repo: str, revision: str = "0123abcd" * 5) -> Path:
    """The layout `hf download` leaves: blobs/, snapshots/<commit>/ (files link to blobs) and refs/main."""
    root = cache / "hf" / ("models--" + repo.replace("/", "--"))
    snap = root / "snapshots" / revision
    (root / "blobs").mkdir(parents=True)
    snap.mkdir(parents=True)
    blob = root / "blobs" / "e3b0c442"
    blob.write_text('{"model_type": "qwen3_vl"}', encoding="utf-8")
    (snap / "config.json").symlink_to(Path("../../blobs/e3b0c442"))
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(revision, encoding="utf-8")
    return snap


def _ms_snapshot(cache: Path, repo: str) -> Path:
    """The layout of current ModelScope downloads: models/<org>--<name>/snapshots/<revision>/."""
    snap = cache / "ms" / "models" / repo.replace("/", "--") / "snapshots" / "master"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}", encoding="utf-8")
    return snap


@pytest.mark.parametrize(
    "value, hub",
    [
        ("Qwen/Qwen3-VL-2B-Instruct", True),
        ("org/name@v1.0", True),
        ("a.b/c_d-e", True),
        ("./Qwen/Qwen3-VL", False),
        ("/abs/Qwen/x", False),
        ("../x/y", False),
        ("Qwen/a/b", False),
        ("plain", False),
        ("~/models/x", False),
        ("org/..", False),
    ],
)
def test_which_values_are_hub_ids(value: str, hub: bool) -> None:
    assert looks_like_hub_id(value) is hub


def test_cached_ids_resolve_offline_to_their_snapshot(caches: Path, capfd: pytest.CaptureFixture) -> None:
    hf = _hf_snapshot(caches, "Org/Tiny")
    ms = _ms_snapshot(caches, "Org/OnlyMs")
    ref = resolve_model_ref("Org/Tiny")
    assert (ref.source, Path(ref.path)) == ("huggingface", hf)
    ref = resolve_model_ref("Org/OnlyMs")
    assert (ref.source, Path(ref.path)) == ("modelscope", ms)
    assert capfd.readouterr().err == ""  # the hubs' "offline, using cache" chatter is kept quiet
    # a folder wins over the cache; relative folders resolve against the base
    (caches / "Org" / "Tiny").mkdir(parents=True)
    assert resolve_model_ref("Org/Tiny", base=caches).source == "folder"


def test_uncached_id_names_the_download_command(caches: Path) -> None:
    with pytest.raises(ModelNotCached) as exc:
        resolve_model_ref("Qwen/Qwen3-VL-2B-Instruct")
    assert "`hf download Qwen/Qwen3-VL-2B-Instruct`" in exc.value.fix
    with pytest.raises(FileNotFoundError):
        resolve_model_ref("./not/there")


def _run(tmp_path: Path, model: str, extra: str = "") -> Path:
    from vlmdata.io.dataset import save_records

    if not (tmp_path / "ds").exists():  # a real (one-record) dataset folder, as the one opener requires
        save_records([{"id": "a", "messages": [{"role": "user", "content": "hi"}]}], tmp_path / "ds")
    run = tmp_path / "run.yaml"
    run.write_text(
        textwrap.dedent(f"model: {{path: {model}}}\ndata: {{train: ds}}\n{extra}"), encoding="utf-8"
    )
    return run


def test_run_config_accepts_a_cached_hub_id(caches: Path) -> None:
    snap = _hf_snapshot(caches, "Org/Tiny")
    config = load_run_config(_run(caches, "Org/Tiny"))
    assert Path(config.model.path) == snap


def test_run_config_refuses_an_uncached_id_with_one_error(caches: Path) -> None:
    with pytest.raises(VlmdataError) as exc:
        load_run_config(_run(caches, "Qwen/Qwen3-VL-2B-Instruct"))
    (line,) = exc.value.details
    assert line.startswith("VD669") and "model.path" in line and "run.yaml" in line
    assert "hf download Qwen/Qwen3-VL-2B-Instruct" in line
    # a path that is no id keeps its plain "no such folder" error
    with pytest.raises(VlmdataError) as exc:
        load_run_config(_run(caches, "./models/missing"))
    (line,) = exc.value.details
    assert line.startswith("VD644")


def test_gkd_teacher_may_be_a_cached_id(caches: Path) -> None:
    pytest.importorskip("vlmdata_plugins.gkd")
    student = _hf_snapshot(caches, "Org/Student")
    with pytest.raises(VlmdataError) as exc:
        load_train_config(_run(caches, "Org/Student", "plugin: gkd\nrlhf: {teacher_model: Org/Teacher}\n"))
    assert any(line.startswith("VD669") and "rlhf.teacher_model" in line for line in exc.value.details)
    assert student.is_dir()


def test_infer_model_flag_takes_a_cached_id_or_names_the_download(caches: Path, capsys) -> None:
    from vlmdata.cli import main
    from vlmdata.io.model_ref import local_model

    snap = _hf_snapshot(caches, "Org/Tiny")
    assert local_model("Org/Tiny") == snap
    assert (
        main(["infer", str(caches / "nope"), "--model", "Org/Missing", "--out", str(caches / "p.jsonl")]) == 2
    )
    err = capsys.readouterr().err
    assert "hf download Org/Missing" in err and "Traceback" not in err
