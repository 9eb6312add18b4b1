"""`vlmdata import swift`: ms-swift grounding JSONL (placeholders resolved) and plain chat JSONL."""

from __future__ import annotations

import json
from pathlib import Path

from tests.importers.conftest import make_image, read_jsonl, validate_jsonl
from vlmdata.importers import ImportOptions, import_source


def _write(path: Path, lines: list[object]) -> Path:
    path.write_bytes(
        b"".join(
            (x if isinstance(x, bytes) else json.dumps(x, ensure_ascii=False).encode()) + b"\n" for x in lines
        )
    )
    return path


SYSTEM = {"role": "system", "content": "You are a helpful assistant."}


def grounding_lines() -> list[dict]:
    """ms-swift's documented grounding examples, with real, norm1 and norm1000 boxes."""
    return [
        {
            "messages": [
                SYSTEM,
                {"role": "user", "content": "<image>Describe the image."},
                {
                    "role": "assistant",
                    "content": "<ref-object><bbox> and <ref-object><bbox> are playing on the beach",
                },
            ],
            "images": ["beach.jpg"],
            "objects": {
                "ref": ["a dog", "a woman"],
                "bbox": [[331.5, 761.4, 853.5, 1594.8], [676.5, 685.8, 1099.5, 1427.4]],
            },
        },
        {
            "messages": [
                SYSTEM,
                {"role": "user", "content": "<image>Find the <ref-object> in the image"},
                {"role": "assistant", "content": "<bbox><bbox>"},
            ],
            "images": ["beach.jpg"],
            "objects": {"ref": ["sheep"], "bbox": [[90.9, 160.8, 135, 212.8], [360.9, 480.8, 495, 532.8]]},
        },
        {
            "messages": [
                SYSTEM,
                {"role": "user", "content": "<image>Help me open Google Chrome"},
                {"role": "assistant", "content": "Action: click(start_box='<bbox>')"},
            ],
            "images": ["beach.jpg"],
            "objects": {"ref": [], "bbox": [[615, 226]]},
        },
        {
            "messages": [
                {"role": "user", "content": "<image>Where is the <ref-object>?"},
                {"role": "assistant", "content": "<bbox>"},
            ],
            "images": ["beach.jpg"],
            "objects": {"ref": ["cat"], "bbox": [[100, 200, 500, 800]], "bbox_type": "norm1000"},
        },
        {
            "messages": [
                {"role": "user", "content": "<image>Where is the <ref-object>?"},
                {"role": "assistant", "content": "<bbox>"},
            ],
            "images": ["beach.jpg"],
            "objects": json.dumps({"ref": ["cat"], "bbox": [[0.1, 0.2, 0.5, 0.8]], "bbox_type": "norm1"}),
        },
    ]


def test_grounding_placeholders_become_grid_text(tmp_path: Path) -> None:
    make_image(tmp_path / "beach.jpg", (1500, 2000))  # width 1500, height 2000
    src = _write(tmp_path / "g.jsonl", grounding_lines())
    out = tmp_path / "o.jsonl"
    report = import_source("swift", src, out, ImportOptions())
    d = report.as_dict()
    assert (
        d["totals"]["annotations"] == {"total": 12, "imported": 12, "skipped": {}} and report.exit_code == 0
    )
    r = read_jsonl(out)
    # hand-computed: x / 1500 · 1000, y / 2000 · 1000, half-up
    assert (
        r[0]["messages"][2]["content"]
        == "a dog[221, 381, 569, 797] and a woman[451, 343, 733, 714] are playing on the beach"
    )
    assert r[1]["messages"][1]["content"] == "<image>Find the sheep in the image"
    assert r[1]["messages"][2]["content"] == "[61, 80, 90, 106][241, 240, 330, 266]"
    assert r[2]["messages"][2]["content"] == "Action: click(start_box='[410, 113]')"
    assert r[3]["messages"][0]["content"] == "<image>Where is the cat?"
    assert r[3]["messages"][1]["content"] == "[100, 200, 500, 800]"
    assert r[4]["messages"][1]["content"] == "[100, 200, 500, 800]"
    assert r[0]["images"] == ["beach.jpg"] and (r[0]["width"], r[0]["height"]) == (1500, 2000)
    assert r[0]["id"] == "g:1" and r[0]["metadata"]["swift"]["objects"]["ref"] == ["a dog", "a woman"]
    text = out.read_text()
    assert "<ref-object>" not in text.replace('"ref"', "") and "<bbox>" not in text
    assert validate_jsonl(out, tmp_path, tmp_path.with_name(tmp_path.name + "-v")).total("rejected") == 0


def test_plain_chat_and_typed_content(tmp_path: Path) -> None:
    make_image(tmp_path / "img" / "a.png", (64, 48), fmt="PNG")
    make_image(tmp_path / "img" / "b.png", (64, 48), fmt="PNG")
    lines = [
        {
            "id": "q1",
            "messages": [
                {"role": "user", "content": "<image><image>What is different?"},
                {"role": "assistant", "content": "Nothing.", "loss": True},
            ],
            "images": ["img/a.png", "img/b.png"],
            "rejected_response": "Everything.",
        },
        {"messages": [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi"}]},
        {
            "messages": [
                {"role": "user", "content": "What is this?"},
                {"role": "assistant", "content": "A box."},
            ],
            "images": ["img/a.png"],
        },  # no <image> tag: ms-swift puts it first in the first user turn
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "image": "img/a.png"},
                        {"type": "text", "text": "Describe."},
                    ],
                },
                {"role": "assistant", "content": "Grey."},
            ]
        },
        {
            "system": "Be brief.",
            "messages": [{"role": "user", "content": "<image>Hi"}, {"role": "assistant", "content": "Hi"}],
            "images": "img/a.png",
        },
    ]
    out = tmp_path / "o.jsonl"
    report = import_source("swift", _write(tmp_path / "c.jsonl", lines), out, ImportOptions())
    assert report.as_dict()["totals"]["records"] == {"total": 5, "imported": 5, "skipped": {}}
    assert report.as_dict()["files"][0]["notes"] == {"image_tags_added": 1}
    q1, text_only, untagged, typed, system = read_jsonl(out)
    assert q1["id"] == "q1" and q1["metadata"]["swift"] == {
        "rejected_response": "Everything.",
        "turn_keys": {"1": {"loss": True}},
    }
    assert "images" not in text_only and "width" not in text_only
    assert untagged["messages"][0]["content"] == "<image>What is this?"
    assert typed["images"] == ["img/a.png"] and typed["messages"][0]["content"][0]["type"] == "image"
    assert system["messages"][0] == {"role": "system", "content": "Be brief."}
    assert validate_jsonl(out, tmp_path, tmp_path.with_name(tmp_path.name + "-v")).total("rejected") == 0


def test_defects(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg", (100, 100))
    make_image(tmp_path / "b.jpg", (50, 100))
    user = {"role": "user", "content": "<image>Find the <ref-object>"}
    lines = [
        {
            "messages": [user, {"role": "assistant", "content": "<bbox>"}],
            "images": ["a.jpg"],
            "objects": {"ref": ["x"], "bbox": []},
        },  # unresolved <bbox>
        {
            "messages": [user, {"role": "assistant", "content": "<bbox>"}],
            "images": ["a.jpg"],
            "objects": {"ref": ["x", "y"], "bbox": [[1, 2, 3, 4], [5, 6, 7, 8]]},
        },  # two unused entries
        {
            "messages": [user, {"role": "assistant", "content": "<bbox>"}],
            "images": ["a.jpg"],
            "objects": {"ref": ["x"], "bbox": [[1, 2, 300, 4]]},
        },  # beyond the image
        {
            "messages": [
                {"role": "user", "content": "<image>Where?"},
                {"role": "assistant", "content": "<|box_start|>(1,2),(3,4)<|box_end|>"},
            ],
            "images": ["a.jpg"],
        },
        {
            "messages": [
                {"role": "user", "content": "<image><image>x"},
                {"role": "assistant", "content": "y"},
            ],
            "images": ["a.jpg", "b.jpg"],
        },  # sizes differ
        {
            "messages": [
                {"role": "user", "content": "<image><image>x"},
                {"role": "assistant", "content": "y"},
            ],
            "images": ["a.jpg"],
        },  # two tags, one image
        {"messages": [{"role": "user", "content": "x"}, {"role": "tool_call", "content": "{}"}]},
        {
            "messages": [{"role": "user", "content": "<video>x"}, {"role": "assistant", "content": "y"}],
            "videos": ["v.mp4"],
        },
        {"query": "old format", "response": "no"},
        {
            "messages": [user, {"role": "assistant", "content": "<bbox>"}],
            "images": ["a.jpg"],
            "objects": {"ref": ["x"], "bbox": [[1, 2, 3, 4]], "bbox_type": "norm7"},
        },
        {"messages": [{"role": "user", "content": "Hi<|im_end|>"}, {"role": "assistant", "content": "y"}]},
        {"messages": [{"role": "user", "content": "a prompt without its answer"}]},
        {
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "system", "content": "late"},
                {"role": "assistant", "content": "y"},
            ]
        },
    ]
    out = tmp_path / "o.jsonl"
    report = import_source("swift", _write(tmp_path / "d.jsonl", lines), out, ImportOptions())
    d = report.as_dict()
    assert d["balanced"] and report.exit_code == 1
    assert d["totals"]["records"]["skipped"] == {
        "unresolved_placeholder": 1,
        "out_of_bounds": 1,
        "model_tokens": 2,
        "bad_conversation": 2,
        "mixed_image_sizes": 1,
        "placeholder_count": 1,
        "unsupported_turn": 2,
        "missing_field": 1,
        "wrong_type": 1,
    }
    assert d["totals"]["annotations"]["skipped"]["unused_object"] == 2
    ex = d["files"][0]["examples"]
    assert ex["unresolved_placeholder"][0]["field"] == "messages[1].content"
    assert [e["code"] for e in ex["model_tokens"]] == ["VD404", "VD403"]
    assert {e["code"] for e in ex["bad_conversation"]} == {"VD402"}
    assert len(read_jsonl(out)) == 1
