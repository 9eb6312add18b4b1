"""Templates written in YAML: loading, fields, every problem at once with file and key path, the registry,
and how run and fusion configs name them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlmdata.errors import VlmdataError
from vlmdata.render import (
    build_messages,
    get_template,
    known_templates,
    load_template_file,
    render_target,
    resolve_template_ref,
    use_templates,
)
from vlmdata.render.templates import Template, register_template

QWEN_FILE = """\
name: coco_qwen
description: COCO objects answered in Qwen3-VL's own format
system: You label photos. There are {n_images} picture(s).
user: |
  Find every object. {format}
target: {format: qwen}
"""

MAP_FILE = """\
name: site_map
system: You inspect {domain} sites.
user: "Locate each {domain} part in the {n_images} image(s). {format}"
user_multi_image: "Locate each {domain} part in these {n_images} pictures. {format}"
header: "<SITE={domain}>"
domains: [north, south]
target: object_map
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def rec(objects: list[dict] | None = None, images: int = 1, **meta: object) -> dict:
    return {
        "id": "r1",
        "images": [f"/i/{k}.jpg" for k in range(images)],
        "width": 1000,
        "height": 500,
        "objects": objects
        if objects is not None
        else [
            {"desc": "person", "kind": "bbox_2d", "points": [100, 50, 300, 200], "image_index": 0},
            {
                "desc": "kite",
                "kind": "poly",
                "points": [500, 100, 600, 100, 600, 200],
                "image_index": images - 1,
            },
        ],
        "summary": None,
        "messages": None,
        "metadata": json.dumps(meta),
        "source_file": "t.jsonl",
        "source_line": 4,
    }


def test_qwen_template_renders_fields_and_the_native_list(tmp_path: Path) -> None:
    t = load_template_file(write(tmp_path / "q.yaml", QWEN_FILE))
    assert (t.name, t.mode, t.format, t.fence, t.user_defined) == ("coco_qwen", "dense", "qwen", True, True)
    register_template(t)
    msgs = build_messages(rec(images=2), "coco_qwen")
    assert msgs[0] == {"role": "system", "content": "You label photos. There are 2 picture(s)."}
    prompt = msgs[1]["content"][-1]["text"]
    # {format} is the built-in description of the format, with the several-pictures sentence for 2 images;
    # the trailing newline of the YAML block scalar is gone
    assert prompt == "Find every object. " + t.format_rules(2) and not prompt.endswith("\n")
    assert '"image": k' in prompt and "```json" in prompt
    assert msgs[2]["content"] == (
        "```json\n[\n"
        '\t{"bbox_2d": [100, 100, 300, 400], "label": "person", "image": 1},\n'
        '\t{"polygon": [[500, 200], [600, 200], [600, 400]], "label": "kite", "image": 2}\n'
        "]\n```"
    )
    single = build_messages(rec(), "coco_qwen")
    assert "image" not in single[2]["content"] and "picture(s)" in single[0]["content"]


def test_domain_fields_fill_per_record_and_a_missing_domain_is_an_error(tmp_path: Path) -> None:
    register_template(load_template_file(write(tmp_path / "m.yaml", MAP_FILE)))
    t = get_template("site_map")
    assert t.needs_domain and t.prompt_needs_domain and t.header_needs_domain
    msgs = build_messages(rec(domain="north"), "site_map")
    assert msgs[0]["content"] == "You inspect north sites."
    assert msgs[1]["content"][-1]["text"].startswith(
        "Locate each north part in the 1 image(s). Answer in two"
    )
    assert "Line 1 is exactly <SITE=north>." in msgs[1]["content"][-1]["text"]
    target = msgs[2]["content"]
    assert target.split("\n")[0] == "<SITE=north>"
    assert json.loads(target.split("\n")[1])["object_1"] == {
        "desc": "person",
        "bbox_2d": [100, 100, 300, 400],
    }
    two = build_messages(rec(images=2, domain="south"), "site_map")
    assert two[1]["content"][-1]["text"].startswith("Locate each south part in these 2 pictures.")
    for meta in ({}, {"domain": ""}, {"domain": "east"}, {"domain": 3}):
        with pytest.raises(VlmdataError) as err:
            build_messages(rec(**meta), "site_map")
        assert err.value.code_str == "VD411" and err.value.where.record_id == "r1"
        # the target alone (e.g. the rewards' reference) needs it too
        with pytest.raises(VlmdataError):
            render_target(rec(**meta), "site_map")


def test_summary_template_and_fence_off(tmp_path: Path) -> None:
    write(tmp_path / "s.yaml", "name: tally\nuser: Count. {format}\ntarget: summary\n")
    write(tmp_path / "n.yaml", "name: bare\nuser: Find. {format}\ntarget: {format: qwen, fence: false}\n")
    assert use_templates([tmp_path]) == ["bare", "tally"]  # a folder: every *.yaml, sorted
    summary = '{"统计": [{"类别": "person", "pose": {"sit": 1}}]}'
    assert render_target({**rec([]), "summary": summary}, "tally") == summary  # no header line
    assert render_target({**rec([]), "summary": "无关图片"}, "tally") == "无关图片"
    with pytest.raises(VlmdataError) as err:  # the summary is validated at render time, as for built-ins
        render_target({**rec([]), "summary": '{"x": 1}'}, "tally")
    assert err.value.code_str == "VD414"
    assert render_target(rec(), "bare").startswith('[\n\t{"bbox_2d"')
    assert "```" not in get_template("bare").prompt(1)


BAD_FILE = """\
name: bad one
system: "{format} for {n_images}"
user: "Hi {who} {n_images!r} {domain:>4} <image> and <|box_start|>"
header: "{n_images}"
target: {format: object_map, fence: true}
colour: blue
"""


def test_every_problem_at_once_with_file_and_key_path(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", BAD_FILE)
    with pytest.raises(VlmdataError) as err:
        load_template_file(path)
    lines = err.value.details
    text = "\n".join(lines)
    # pydantic problems (name pattern, unknown key) are reported before the model exists ...
    assert any("VD606" in line and "colour" in line and str(path) in line for line in lines), text
    assert any("name" in line and str(path) in line for line in lines), text
    # ... and once the keys are right, the text checks report every field problem together
    write(path, BAD_FILE.replace("name: bad one", "name: bad_one").replace("colour: blue\n", ""))
    with pytest.raises(VlmdataError) as err:
        load_template_file(path)
    lines = err.value.details
    text = "\n".join(lines)
    assert all(str(path) in line for line in lines), text
    expect = [
        ("VD621", "system:", "{format}"),  # {format} cannot be filled in the system prompt
        ("VD621", "user:", "{who}"),
        ("VD621", "user:", "conversion"),
        ("VD623", "user:", "<image>"),
        ("VD623", "user:", "<|box_start|>"),  # every token problem, not the first one only
        ("VD621", "header:", "{n_images}"),
        ("VD620", "target.fence:", "qwen"),
    ]
    for code, key, needle in expect:
        assert any(code in line and key in line and needle in line for line in lines), (code, key, text)
    assert len(lines) == 8  # also: the format spec {domain:>4}


@pytest.mark.parametrize(
    ("text", "code", "needle"),
    [
        ("name: grounding\nuser: x\n", "VD622", "built-in"),
        ("name: a\nuser: 'x {'\n", "VD621", "Single '{'"),
        ("name: a\nuser: 'x }'\n", "VD621", "Single '}'"),
        ("name: a\nuser: x\nheader: ''\n", "VD620", "one non-empty line"),
        ("name: a\nuser: x\ndomains: [a]\n", "VD620", "no text uses {domain}"),
        ("name: a\nuser: '{domain}'\ndomains: [a, a]\n", "VD620", "distinct"),
        ("name: a\nuser: 'see <ref-object> here'\n", "VD623", "<ref-object>"),
        ("name: a\n", "VD620", "user"),
        ("name: a\nuser: x\ntarget: chat\n", "VD620", "target.format"),
        ("- just\n- a list\n", "VD603", "top level"),
    ],
)
def test_single_problems(tmp_path: Path, text: str, code: str, needle: str) -> None:
    with pytest.raises(VlmdataError) as err:
        load_template_file(write(tmp_path / "t.yaml", text))
    assert code in str(err.value) and needle in str(err.value), str(err.value)


def test_literal_braces_and_extends(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "name: base_t\nuser: 'Answer {{}} when empty. {format}'\ntarget: qwen\n")
    child = write(tmp_path / "sub" / "child.yaml", "extends: ../base.yaml\nname: child_t\n")
    t = load_template_file(child)
    assert t.format == "qwen" and t.prompt(1).startswith("Answer {} when empty. Answer with a JSON list")
    # a problem in the base names the base file
    write(tmp_path / "base.yaml", "name: base_t\nuser: '{nope}'\n")
    with pytest.raises(VlmdataError) as err:
        load_template_file(child)
    assert str(tmp_path / "base.yaml") in str(err.value) and "user" in str(err.value)


def test_registry_conflicts_and_lookups(tmp_path: Path) -> None:
    a = write(tmp_path / "a" / "t.yaml", "name: same\nuser: one\n")
    b = write(tmp_path / "b" / "t.yaml", "name: same\nuser: one\n")
    c = write(tmp_path / "c" / "t.yaml", "name: same\nuser: two\n")
    assert use_templates([a, b]) == ["same", "same"]  # one definition in two files: fine
    with pytest.raises(VlmdataError) as err:
        use_templates([c])
    assert err.value.code_str == "VD622" and str(a.resolve()) in str(err.value)
    assert resolve_template_ref(str(a)) == "same" and resolve_template_ref("grounding") == "grounding"
    assert "same" in known_templates() and get_template("same").source == str(a.resolve())
    with pytest.raises(VlmdataError) as err:
        register_template(Template(name="chat", mode="dense", user_prompt="x", user_defined=True))
    assert err.value.code_str == "VD622"
    with pytest.raises(VlmdataError) as err:
        get_template("not_there")
    assert err.value.code_str == "VD410" and "templates:" in (err.value.hint or "")


def test_run_config_lists_and_names_template_files(tmp_path: Path, tiny_model_dir: Path) -> None:
    from vlmdata.config import load_run_config

    write(tmp_path / "tpl" / "q.yaml", QWEN_FILE)
    write(tmp_path / "tpl" / "m.yaml", MAP_FILE)
    data = tmp_path / "cfg" / "data"
    data.mkdir(parents=True)
    run = write(
        tmp_path / "cfg" / "run.yaml",
        f"model: {{path: {tiny_model_dir}}}\ntemplates: [../tpl]\ntemplate: {{name: coco_qwen}}\n"
        "data: {train: [data]}\n",
    )
    cfg = load_run_config(run, check_paths=False)
    assert cfg.template.name == "coco_qwen" and cfg.templates == [str((tmp_path / "tpl").resolve())]
    assert {"coco_qwen", "site_map"} <= set(known_templates())
    # a path in template.name is registered, replaced by the name, and added to `templates`
    by_path = write(
        tmp_path / "cfg" / "run2.yaml",
        f"model: {{path: {tiny_model_dir}}}\ntemplate: {{name: ../tpl/q.yaml}}\ndata: {{train: [data]}}\n",
    )
    cfg = load_run_config(by_path, check_paths=False)
    assert cfg.template.name == "coco_qwen"
    assert cfg.templates == [str((tmp_path / "tpl" / "q.yaml").resolve())]
    # problems of a listed file, a missing file and an unknown name are all reported, with key paths
    write(tmp_path / "tpl2" / "bad.yaml", "name: b\nuser: '{x}'\n")
    broken = write(
        tmp_path / "cfg" / "run3.yaml",
        f"model: {{path: {tiny_model_dir}}}\ntemplates: [../tpl2, ../missing.yaml]\n"
        "template: {name: nowhere}\ndata: {train: [data]}\n",
    )
    with pytest.raises(VlmdataError) as err:
        load_run_config(broken, check_paths=False)
    text = "\n".join(err.value.details)
    assert "templates[0]" in text and "VD621" in text and "{x}" in text
    assert "templates[1]" in text and "no such template file" in text
    assert "template.name" in text and "nowhere" in text
