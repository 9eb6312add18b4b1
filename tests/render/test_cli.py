"""`vlmdata prompts list|show` print the templates and the exact prompt strings the library sends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vlmdata.cli import main
from vlmdata.render import TEMPLATES, get_template

ROOT = Path(__file__).resolve().parents[2]


def test_prompts_list_json(capsys: pytest.CaptureFixture) -> None:
    assert main(["prompts", "list", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == sorted(TEMPLATES)
    by_name = {r["name"]: r for r in rows}
    assert by_name["target_dense_rru"]["header"] == "<DOMAIN=RRU>, <TASK=DETECTION>"
    assert by_name["source_dense"]["header"] == "-" and by_name["chat"]["mode"] == "chat"


@pytest.mark.parametrize("images", [1, 3])
def test_prompts_show_prints_the_exact_prompt(images: int, capsys: pytest.CaptureFixture) -> None:
    assert main(["prompts", "show", "summary_rru", "--images", str(images), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    t = get_template("summary_rru")
    assert data["user_prompt"] == t.prompt(images) and data["system"] == t.system
    assert main(["prompts", "show", "target_dense_bbu"]) == 0
    text = capsys.readouterr().out
    assert (
        get_template("target_dense_bbu").prompt(1) in text and get_template("target_dense_bbu").system in text
    )


def test_prompts_show_unknown_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    assert main(["prompts", "show", "target_dense_xyz"]) == 2
    assert "target_dense_bbu" in capsys.readouterr().err


def test_targets_do_not_depend_on_the_hash_seed() -> None:
    code = (
        "import json; from vlmdata.render import render_target, build_messages\n"
        "o=[{'desc': d, 'kind': 'bbox_2d', 'points': [1, 2, 3, 4], 'image_index': 0} for d in ('b', 'a', '类别=x')]\n"
        "r={'id': 'h', 'images': ['/a'], 'width': 10, 'height': 10, 'objects': o, 'metadata': '{}'}\n"
        "print(json.dumps(build_messages(r, 'target_dense_bbu'), ensure_ascii=False))"
    )
    outs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=ROOT
            ).stdout
        )
    assert len(outs) == 1


def test_prompts_list_and_show_user_templates(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "site.yaml").write_text(
        "name: site\nuser: 'Parts of {domain}. {format}'\nheader: '<SITE={domain}>'\n", encoding="utf-8"
    )
    (tpl / "coco.yaml").write_text("name: coco\nuser: 'Find. {format}'\ntarget: qwen\n", encoding="utf-8")
    run = tmp_path / "cfg" / "run.yaml"
    run.parent.mkdir()
    run.write_text("templates: [../tpl]\nmodel: {path: nowhere}\n", encoding="utf-8")
    assert main(["prompts", "list", "--config", str(run), "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(TEMPLATES) | {"site", "coco"}
    assert rows["coco"]["format"] == "qwen" and rows["coco"]["source"] == str((tpl / "coco.yaml").resolve())
    assert rows["site"]["domain"] == "per record" and rows["site"]["header"] == "<SITE=X>"
    assert rows["grounding"]["source"] == "built-in" and rows["grounding"]["header"] == "-"
    # show takes a template file directly; a domain template needs the domain to print its prompt
    assert main(["prompts", "show", str(tpl / "site.yaml")]) == 2
    assert "--domain" in capsys.readouterr().err
    assert main(["prompts", "show", str(tpl / "site.yaml"), "--domain", "north", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["user_prompt"].startswith(
        "Parts of north. Answer in two lines. Line 1 is exactly <SITE=north>."
    )
    assert main(["prompts", "show", "coco", "--config", str(tpl), "--images", "2"]) == 0
    assert '"image": k' in capsys.readouterr().out
    (tpl / "broken.yaml").write_text("name: b\nuser: '{oops}'\n", encoding="utf-8")
    assert main(["prompts", "list", "--config", str(tpl)]) == 1
    err = capsys.readouterr().err
    assert "VD621" in err and "broken.yaml" in err and "{oops}" in err
