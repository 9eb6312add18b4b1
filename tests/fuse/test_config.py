"""Fusion config: extends/merge rules in fusion context, path resolution, and every error naming file + key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vlmdata.errors import VlmdataError
from vlmdata.fuse import load_fusion_config

ROOT = Path(__file__).resolve().parents[2]


def _error(path: Path, **kw) -> str:
    with pytest.raises(VlmdataError) as err:
        load_fusion_config(path, **kw)
    assert err.value.exit_code == 1
    return str(err.value)


def test_extends_merges_entries_by_name_and_resolves_paths_per_file(tmp_path: Path, write_yaml) -> None:
    base = write_yaml(
        tmp_path / "base" / "mix.yaml",
        "seed: 1\n"
        "targets:\n  - {name: bbu, data: d/bbu, ratio: 1.0, template: target_dense_bbu}\n"
        "sources:\n  - {name: lvis, data: d/lvis, ratio: 0.2, max_objects: 20}\n  - {name: chat, data: d/chat, ratio: 0.1, mode: chat}\n",
    )
    top = write_yaml(
        tmp_path / "run" / "top.yaml",
        "extends: ../base/mix.yaml\nseed: 9\n"
        "targets:\n  - {name: bbu, ratio: 0.5}\n  - {name: rru, data: mine/rru, template: target_dense_rru}\n"
        "sources:\n  - {name: lvis, data: mine/lvis}\n",
    )
    cfg = load_fusion_config(top, check_paths=False)
    assert cfg.seed == 9
    assert [t.name for t in cfg.targets] == ["bbu", "rru"]
    assert cfg.targets[0].ratio == 0.5 and cfg.targets[0].template == "target_dense_bbu"
    # data set in the base resolves next to the base; data set in the child next to the child
    assert cfg.targets[0].data == str((tmp_path / "base" / "d" / "bbu").resolve())
    assert cfg.targets[1].data == str((tmp_path / "run" / "mine" / "rru").resolve())
    lvis = cfg.sources[0]
    assert lvis.data == str((tmp_path / "run" / "mine" / "lvis").resolve())
    assert lvis.ratio == 0.2 and lvis.max_objects == 20  # untouched keys of a merged entry are kept
    assert [s.name for s in cfg.sources] == ["lvis", "chat"]
    assert cfg.files == [str(base.resolve()), str(top.resolve())]


def test_empty_list_clears_inherited_sources(tmp_path: Path, write_yaml) -> None:
    write_yaml(
        tmp_path / "b.yaml",
        "targets:\n  - {name: t, data: x}\nsources:\n  - {name: s, data: y, ratio: 0.5}\n",
    )
    top = write_yaml(tmp_path / "t.yaml", "extends: b.yaml\nsources: []\n")
    cfg = load_fusion_config(top, check_paths=False)
    assert cfg.sources == [] and [t.name for t in cfg.targets] == ["t"]


def test_defaults_for_template_and_augment(tmp_path: Path, write_yaml) -> None:
    top = write_yaml(
        tmp_path / "t.yaml",
        "targets:\n  - {name: t, data: x}\n  - {name: u, data: x, mode: summary}\nsources:\n  - {name: s, data: y, ratio: 0.5}\n  - {name: c, data: y, ratio: 0.5, mode: chat, augment: true}\n",
    )
    cfg = load_fusion_config(top, check_paths=False)
    got = [(cfg.template_of(d, e), cfg.augment_of(d, e)) for d, e in cfg.entries()]
    # the defaults are neutral: no domain prompt, no <DOMAIN=...> header
    assert got == [("grounding", True), ("counting", True), ("source_dense", False), ("chat", True)]
    assert cfg.seed == 0 and cfg.interleave == "shuffle" and cfg.eval_sources is False


def test_example_configs_load(tmp_path: Path) -> None:
    examples = sorted((ROOT / "configs" / "fusion").glob("*.yaml"))
    assert {p.name for p in examples} >= {"dense_bbu_rru.yaml", "summary.yaml", "grpo.yaml"}
    for path in examples:
        assert path.read_text(encoding="utf-8").startswith("#"), f"{path.name} must open with a comment"
        cfg = load_fusion_config(path, check_paths=False)
        assert cfg.targets
    grpo = load_fusion_config(ROOT / "configs" / "fusion" / "grpo.yaml", check_paths=False)
    ratios = {e.name: e.ratio for _, e in grpo.entries()}
    assert ratios == {"bbu_dense": 1.0, "rru_dense": 1.0, "lvis": 0.1, "chat": 0.0, "irrelevant": 0.0}


@pytest.mark.parametrize(
    ("text", "code", "needles"),
    [
        ("targets:\n  - {name: t, data: x, ratoi: 1}\n", "VD606", ["targets[0].ratoi", "unknown key"]),
        ("seeed: 1\ntargets:\n  - {name: t, data: x}\n", "VD606", ["seeed", "unknown key"]),
        ("targets:\n  - {name: t, data: x, ratio: -0.5}\n", "VD610", ["targets[0].ratio", "-0.5"]),
        ("targets:\n  - {name: t, data: x, ratio: .nan}\n", "VD610", ["targets[0].ratio"]),
        ("targets:\n  - {name: t, data: x, ratio: lots}\n", "VD610", ["targets[0].ratio", "lots"]),
        (
            "targets:\n  - {name: t, data: x}\nsources:\n  - {name: s, data: y}\n",
            "VD610",
            ["sources[0].ratio", "required"],
        ),
        ("targets:\n  - {name: t, data: x, mode: caption}\n", "VD610", ["targets[0].mode", "caption"]),
        ("targets:\n  - {name: t, data: x, max_objects: 0}\n", "VD610", ["targets[0].max_objects"]),
        ("targets:\n  - {name: 'bad name/x', data: x}\n", "VD610", ["targets[0].name"]),
        (
            "interleave: round_robin\ntargets:\n  - {name: t, data: x}\n",
            "VD610",
            ["interleave", "round_robin"],
        ),
        ("targets:\n  - {name: t}\n", "VD610", ["targets[0].data", "required"]),
        ("seed: 1\n", "VD612", ["targets", "no targets"]),
        (
            "targets:\n  - {name: t, data: x}\nsources:\n  - {name: t, data: y, ratio: 1}\n",
            "VD611",
            ["sources[0].name", "'t'"],
        ),
        ("targets:\n  - {name: t, data: x, template: nope}\n", "VD614", ["targets[0].template", "nope"]),
        (
            "targets:\n  - {name: t, data: x, mode: summary, template: target_dense_bbu}\n",
            "VD614",
            ["targets[0].template", "summary"],
        ),
        (
            "targets:\n  - {name: t, data: x}\n  - {name: t, data: y}\n",
            "VD604",
            ["targets[1].name", "duplicate"],
        ),
        ("targets:\n  - {data: x}\n", "VD604", ["targets[0]"]),
        ("targets: {name: t}\n", "VD605", ["targets", "list"]),
        ("targets:\n  - {name: t, data: x\n", "VD600", ["bad.yaml:"]),
    ],
)
def test_config_errors_name_file_and_key_path(
    tmp_path: Path, write_yaml, text: str, code: str, needles: list[str]
) -> None:
    path = write_yaml(tmp_path / "bad.yaml", text)
    message = _error(path, check_paths=False)
    assert code in message, message
    assert str(path) in message, message
    for needle in needles:
        assert needle in message, (needle, message)


def test_error_names_the_base_file_that_set_the_bad_key(tmp_path: Path, write_yaml) -> None:
    base = write_yaml(tmp_path / "base.yaml", "targets:\n  - {name: t, data: x, ratio: -1}\n")
    top = write_yaml(tmp_path / "top.yaml", "extends: base.yaml\nseed: 3\n")
    message = _error(top, check_paths=False)
    assert f"{base}: targets[0].ratio" in message


def test_empty_val_path_is_refused_at_load(tmp_path: Path, write_yaml) -> None:
    path = write_yaml(tmp_path / "bad.yaml", 'targets:\n  - {name: t, data: x, val: ""}\n')
    message = _error(path, check_paths=False)
    assert f"{path}: targets[0].val" in message, message


def test_all_problems_reported_at_once(tmp_path: Path, write_yaml) -> None:
    path = write_yaml(
        tmp_path / "bad.yaml",
        "targets:\n  - {name: t, data: x, ratio: -1, colour: red}\n  - {name: u, data: y, mode: nope}\n",
    )
    message = _error(path, check_paths=False)
    assert "3 problem(s)" in message
    for key in ("targets[0].ratio", "targets[0].colour", "targets[1].mode"):
        assert key in message


def test_missing_data_path_names_file_and_key(tmp_path: Path, write_yaml, make_dataset) -> None:
    make_dataset(tmp_path / "d" / "ok", 3)
    base = write_yaml(tmp_path / "base.yaml", "targets:\n  - {name: t, data: d/ok, val: d/missing_val}\n")
    top = write_yaml(
        tmp_path / "sub" / "top.yaml",
        "extends: ../base.yaml\nsources:\n  - {name: s, data: nowhere, ratio: 0.1}\n",
    )
    message = _error(top)
    assert "VD613" in message
    assert f"{base}: targets[0].val" in message and "d/missing_val" in message
    assert f"{top}: sources[0].data" in message and str(tmp_path / "sub" / "nowhere") in message
    assert "targets[0].data" not in message


def test_cycle_and_missing_base(tmp_path: Path, write_yaml) -> None:
    a = write_yaml(tmp_path / "a.yaml", "extends: b.yaml\ntargets:\n  - {name: t, data: x}\n")
    write_yaml(tmp_path / "b.yaml", "extends: a.yaml\n")
    message = _error(a, check_paths=False)
    assert "VD601" in message and "extends" in message and "b.yaml" in message
    c = write_yaml(tmp_path / "c.yaml", "extends: gone.yaml\n")
    message = _error(c, check_paths=False)
    assert "VD602" in message and str(c) in message
