"""Fusion configs that name templates written in YAML, and domain templates checked before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlmdata.errors import VlmdataError
from vlmdata.fuse import fuse_epoch, load_fusion_config
from vlmdata.render import known_templates

TEMPLATE = "name: {name}\nuser: 'Find everything. {{format}}'\ntarget: qwen\n"
DOMAIN_TEMPLATE = "name: by_site\nuser: 'Parts of the {domain} site. {format}'\nheader: '<SITE={domain}>'\n"


def _with_meta(path: Path, metas: dict[int, dict], make_dataset) -> Path:
    """A dataset whose record i gets metadata metas[i] (others keep theirs)."""
    from datasets import load_from_disk

    from vlmdata.io.dataset import save_records

    make_dataset(path / "raw", 6, prefix=path.name)
    rows = load_from_disk(str(path / "raw")).to_list()
    for i, meta in metas.items():
        rows[i]["metadata"] = json.dumps(meta)
    for row in rows:
        row["metadata"] = json.loads(row["metadata"] or "{}")
    save_records(rows, path / "data")
    return path / "data"


def test_entry_templates_by_path_and_by_list(tmp_path: Path, make_dataset, write_yaml) -> None:
    make_dataset(tmp_path / "data" / "a", 5)
    make_dataset(tmp_path / "data" / "b", 4)
    write_yaml(tmp_path / "tpl" / "listed.yaml", TEMPLATE.format(name="listed"))
    write_yaml(
        tmp_path / "tpl2" / "by_path.yaml", TEMPLATE.format(name="by_path").replace("qwen", "object_map")
    )
    write_yaml(
        tmp_path / "cfg" / "base.yaml",
        "templates: [../tpl]\ntargets:\n  - {name: a, data: ../data/a, template: listed}\n",
    )
    top = write_yaml(
        tmp_path / "cfg" / "sub" / "mix.yaml",
        "extends: ../base.yaml\nsources:\n  - {name: b, data: ../../data/b, ratio: 1.0, template: ../../tpl2/by_path.yaml}\n",
    )
    cfg = load_fusion_config(top)
    # `templates` is relative to base.yaml, the entry's path to mix.yaml: each to the file that set it
    assert [cfg.template_of(d, e) for d, e in cfg.entries()] == ["listed", "by_path"]
    assert cfg.templates == [
        str((tmp_path / "tpl").resolve()),
        str((tmp_path / "tpl2" / "by_path.yaml").resolve()),
    ]
    assert {"listed", "by_path"} <= set(known_templates())
    out = tmp_path / "out"
    result = fuse_epoch(cfg, out)
    from datasets import load_from_disk

    rows = load_from_disk(str(out / "data")).to_list()
    tags = {json.loads(r["metadata"])["_source"]: json.loads(r["metadata"])["_template"] for r in rows}
    assert tags == {"a": "listed", "b": "by_path"}
    # the manifest carries the definitions the records were rendered with, not only their names
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    defs = manifest["config"]["template_definitions"]
    assert set(defs) == {"listed", "by_path"} and defs["listed"]["format"] == "qwen"
    assert defs["by_path"]["source"] == str((tmp_path / "tpl2" / "by_path.yaml").resolve())
    assert result.manifest == manifest


def test_template_problems_are_fusion_config_problems(tmp_path: Path, make_dataset, write_yaml) -> None:
    make_dataset(tmp_path / "a", 3)
    write_yaml(tmp_path / "bad.yaml", "name: b\nuser: '{nope}'\n")
    cfg = write_yaml(
        tmp_path / "mix.yaml",
        "templates: [missing_dir]\ntargets:\n  - {name: a, data: a, template: bad.yaml}\n"
        "  - {name: c, data: a, template: not_registered}\n",
    )
    with pytest.raises(VlmdataError) as err:
        load_fusion_config(cfg)
    text = "\n".join(err.value.details)
    assert "templates[0]" in text and "no such template file" in text
    assert "targets[0].template" in text and "{nope}" in text
    assert "targets[1].template" in text and "not_registered" in text and "VD614" in text


def test_a_domain_template_without_a_domain_stops_fuse_before_writing(
    tmp_path: Path, make_dataset, write_yaml
) -> None:
    data = _with_meta(tmp_path / "site", {0: {"domain": "north"}, 3: {"domain": "  "}}, make_dataset)
    write_yaml(tmp_path / "t.yaml", DOMAIN_TEMPLATE)
    cfg_path = write_yaml(
        tmp_path / "mix.yaml", f"targets:\n  - {{name: site, data: {data}, template: t.yaml}}\n"
    )
    cfg = load_fusion_config(cfg_path)
    out = tmp_path / "out"
    with pytest.raises(VlmdataError) as err:
        fuse_epoch(cfg, out)
    assert err.value.code_str == "VD411" and "5 record(s)" in err.value.message
    assert [d.split(":")[0] for d in err.value.details] == [f"id=site-{i}" for i in (1, 2, 3, 4, 5)]
    assert not out.exists()
    from vlmdata.fuse.writer import plan_only

    with pytest.raises(VlmdataError):  # `--plan` says so too
        plan_only(cfg)
    # the built-in generic target_dense is such a template as well (BBU/RRU from metadata.domain)
    cfg_path = write_yaml(
        tmp_path / "mix2.yaml", f"targets:\n  - {{name: site, data: {data}, template: target_dense}}\n"
    )
    with pytest.raises(VlmdataError) as err:
        fuse_epoch(load_fusion_config(cfg_path), out)
    assert err.value.code_str == "VD411" and "6 record(s)" in err.value.message  # 'north' is not BBU/RRU
    # with a domain on every record the same config fuses
    full = _with_meta(tmp_path / "ok", {i: {"domain": "south"} for i in range(6)}, make_dataset)
    cfg_path = write_yaml(
        tmp_path / "mix3.yaml", f"targets:\n  - {{name: site, data: {full}, template: t.yaml}}\n"
    )
    assert fuse_epoch(load_fusion_config(cfg_path), out).total == 6


def test_irrelevant_records_need_no_domain_under_a_summary_template(
    tmp_path: Path, make_dataset, write_yaml
) -> None:
    from datasets import load_from_disk

    from vlmdata.io.dataset import save_records

    make_dataset(tmp_path / "raw", 3)
    rows = load_from_disk(str(tmp_path / "raw")).to_list()
    for row in rows:
        row["summary"] = "无关图片"
        row["metadata"] = {}
    save_records(rows, tmp_path / "irr")
    cfg = write_yaml(
        tmp_path / "m.yaml",
        f"targets:\n  - {{name: irr, data: {tmp_path / 'irr'}, mode: summary, template: summary}}\n",
    )
    assert fuse_epoch(load_fusion_config(cfg), tmp_path / "out").total == 3
