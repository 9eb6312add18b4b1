"""`vlmdata audit` end to end, the report's figures, the errors it collects, and the fast token counter."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from vlmdata.audit.audit import AuditReport, DatasetLengths, audit_config, audit_dataset
from vlmdata.audit.tokens import TokenCounter


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model's tokenizer alone: the audit reads nothing else from the model folder."""
    from vlmdata.models.tokenizer import build_backend_tokenizer

    out = tmp_path_factory.mktemp("tok")
    build_backend_tokenizer().save(str(out / "tokenizer.json"))
    return out


def _box(desc: str, x: float, y: float) -> dict:
    return {
        "desc": desc,
        "kind": "bbox_2d",
        "points": [x, y, x + 40.0, y + 30.0],
        "image_index": 0,
        "attributes": None,
        "metadata": None,
    }


def _rec(rid: str, n_objects: int, size: tuple[int, int] = (1024, 768), **extra: object) -> dict:
    rng = random.Random(rid)
    objs = [
        _box(
            rng.choice(["类别=BBU设备,品牌=华为", "类别=螺丝", "类别=标签,可见性=部分"]),
            rng.uniform(0, 900),
            rng.uniform(0, 700),
        )
        for _ in range(n_objects)
    ]
    rec = {
        "id": rid,
        "images": [f"/nowhere/{rid}.jpg"],
        "width": size[0],
        "height": size[1],
        "objects": objs,
        "summary": None,
        "messages": None,
        "metadata": "{}",
        "source_file": "data.jsonl",
        "source_line": 3,
    }
    rec.update(extra)
    return rec


def _config(tmp: Path, model_dir: Path, limit: int, name: str = "run.yaml") -> Path:
    rel = Path("..") / model_dir.name if model_dir.parent == tmp.parent else model_dir
    path = tmp / name
    path.write_text(
        f"model: {{path: {rel}}}\ntemplate: {{name: target_dense_bbu, max_pixels: 1048576, min_pixels: 3136}}\n"
        f"global_max_length: {limit}\ndata: {{train: [x]}}\n",
        encoding="utf-8",
    )
    return path


def test_cli_lists_planted_over_length_record_and_writes_lengths(
    tokenizer_dir: Path, tmp_path: Path, capsys
) -> None:
    from vlmdata.cli import main
    from vlmdata.io.dataset import load_dataset, save_records

    records = [_rec(f"r{i}", 5 + i) for i in range(8)] + [_rec("planted-long", 400)]
    records[0]["metadata"] = json.dumps({"_source": "bbu_a"})
    save_records(records, tmp_path / "ds")
    cfg = _config(tmp_path, tokenizer_dir, 2000)
    report_path = tmp_path / "out" / "report.json"
    rc = main(
        ["audit", str(tmp_path / "ds"), "--config", str(cfg), "--out", str(report_path), "--write-lengths"]
    )
    out = capsys.readouterr()
    assert rc == 1, out.err
    rep = json.loads(report_path.read_text())
    assert rep["count"] == 9 and rep["sized"] == 9 and not rep["ok"]
    over = rep["over_limit"]
    assert [r["id"] for r in over] == ["planted-long"]
    assert over[0]["length"] >= 2000 and over[0]["length"] == over[0]["image_tokens"] + over[0]["text_tokens"]
    assert "planted-long" in out.out and str(over[0]["length"]) in out.out and "VD530" in out.err
    assert (tmp_path / "out" / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(rep["stats"]) == {"all", "ds", "bbu_a"} and rep["stats"]["bbu_a"]["count"] == 1
    # 1024x768 at 1024 tokens max: rounds to 1024x768 exactly = 32 * 24 tokens per record
    assert all(r["image_tokens"] == 768 for r in over)
    assert rep["smallest_global_max_length"]["all"] == over[0]["length"] + 1
    ds = load_dataset(tmp_path / "ds")
    assert str(ds.features["length"].dtype) == "int32"
    assert max(ds["length"]) == over[0]["length"] and len(ds) == 9
    # with the limit the report suggests, the same dataset passes
    cfg_ok = _config(tmp_path, tokenizer_dir, rep["smallest_global_max_length"]["all"], "ok.yaml")
    assert main(["audit", str(tmp_path / "ds"), "--config", str(cfg_ok), "--write-lengths"]) == 0
    again = load_dataset(tmp_path / "ds")  # the existing column is replaced, not duplicated
    assert again.column_names.count("length") == 1 and again["length"] == ds["length"]


def test_lengths_grow_exactly_with_content(tokenizer_dir: Path) -> None:
    cfg = {
        "model": {"path": str(tokenizer_dir)},
        "template": {"name": "target_dense_bbu"},
        "global_max_length": 10**6,
    }
    base = _rec("a", 3)
    one_more = dict(base, objects=base["objects"] + [_box("类别=螺丝", 100.0, 100.0)])
    capped = dict(base, metadata=json.dumps({"max_pixels": 200000}))  # same target, fewer image tokens
    rep = audit_dataset([[base, one_more, capped]], cfg)
    a, b, c = rep.datasets[0].lengths.tolist()
    # 1024x768 fits 1024 tokens as is (32 x 24); at 200000 px: sqrt(786432/200000) downscale -> 384 x 512
    assert rep.datasets[0].image_tokens.tolist() == [768, 768, 12 * 16]
    assert b > a and c - a == 12 * 16 - 768


def test_unsizable_records_are_collected_with_codes(tokenizer_dir: Path, tmp_path: Path) -> None:
    from vlmdata.audit.audit import write_lengths
    from vlmdata.errors import VlmdataError
    from vlmdata.io.dataset import save_records

    tool_chat = json.dumps(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "call"},
            {"role": "tool", "content": "{}"},
            {"role": "assistant", "content": "done"},
        ]
    )
    records = [
        _rec("ok", 3),
        _rec("thin", 1, size=(3000, 10)),
        _rec("bad-override", 1, metadata=json.dumps({"max_pixels": -1})),
        dict(_rec("tool", 0), messages=tool_chat, images=[], width=None, height=None),
    ]
    save_records(records, tmp_path / "ds")
    cfg = {
        "model": {"path": str(tokenizer_dir)},
        "template": {"name": "target_dense_bbu"},
        "global_max_length": 4096,
    }
    rep = audit_dataset(tmp_path / "ds", cfg)
    codes = {e["id"]: e["code"] for e in rep.errors}
    assert codes == {"thin": "VD431", "bad-override": "VD433", "tool": "VD430"}
    assert rep.datasets[0].lengths[0] > 0 and (rep.datasets[0].lengths[1:] == -1).all()
    assert not rep.ok and rep.to_dict()["sized"] == 1
    with pytest.raises(VlmdataError) as err:
        write_lengths(rep)
    assert err.value.code_str == "VD532"


def test_sizes_training_cannot_encode_are_refused_with_the_budget_that_works(tokenizer_dir: Path) -> None:
    """Under `max_pixels: 65536` a 32×3000 image resizes to a side of 0 px (ms-swift fails mid-run); a record's
    own max_pixels below one token per side does the same. Both are VD434, with the value that fits."""
    cfg = {
        "model": {"path": str(tokenizer_dir)},
        "template": {"name": "target_dense_bbu", "max_pixels": 65536, "min_pixels": 3136},
        "global_max_length": 10**6,
    }
    thin = _rec("thin", 0, size=(3000, 32), summary="无关图片")
    squat = _rec(
        "squat",
        0,
        size=(100, 80),
        summary="无关图片",
        metadata=json.dumps({"min_pixels": 256, "max_pixels": 1000}),
    )
    fine = _rec("fine", 0, size=(3000, 48), summary="无关图片")  # 48 px high needs 64000: it fits
    rep = audit_dataset([[thin, squat, fine]], cfg)
    errors = {e["id"]: e for e in rep.errors}
    assert set(errors) == {"thin", "squat"} and {e["code"] for e in errors.values()} == {"VD434"}
    assert "needs max_pixels ≥ 96000" in errors["thin"]["message"]
    assert "needs max_pixels ≥ 1280" in errors["squat"]["message"]
    assert rep.datasets[0].lengths.tolist()[:2] == [-1, -1] and rep.datasets[0].image_tokens[2] > 0
    # the hint names the knob: the run's budget in whole tokens, the record's own value exactly
    from vlmdata.audit.length import size_record
    from vlmdata.errors import VlmdataError
    from vlmdata.models.qwen import effective_pixel_bounds

    counter = TokenCounter.from_model_dir(tokenizer_dir)
    bounds = effective_pixel_bounds(cfg["template"])
    for record, text in (
        (thin, "template.max_pixels to at least 96256"),
        (squat, "metadata.max_pixels to at least 1280"),
    ):
        with pytest.raises(VlmdataError) as err:
            size_record(record, "target_dense_bbu", counter, bounds)
        assert text in str(err.value)


def test_reasoning_and_merged_turns_are_sized_and_rewritten_text_refused(tokenizer_dir: Path) -> None:
    cfg = {"model": {"path": str(tokenizer_dir)}, "template": {"name": "chat"}, "global_max_length": 10**6}

    def chat(rid: str, turns: list[tuple[str, str]], images: int = 0) -> dict:
        msgs = json.dumps([{"role": r, "content": c} for r, c in turns])
        size = (64, 48) if images else (None, None)
        return dict(
            _rec(rid, 0),
            messages=msgs,
            images=[f"/i/{rid}{k}.png" for k in range(images)],
            width=size[0],
            height=size[1],
        )

    think = chat(
        "think", [("user", "A"), ("assistant", "<think>x</think>B"), ("user", "C"), ("assistant", "D")]
    )
    merged = chat("merged", [("user", "A"), ("user", "B"), ("assistant", "C"), ("assistant", "D")])
    plain = chat("plain", [("user", "AB"), ("assistant", "CD")])
    img_tag = chat("img-tag", [("user", "see <img>/etc/x.png</img>"), ("assistant", "ok")])
    pad = chat("pad", [("user", "<image>x<|image_pad|>"), ("assistant", "ok")], images=1)
    rep = audit_dataset([[think, merged, plain, img_tag, pad]], cfg)
    assert {e["id"]: e["code"] for e in rep.errors} == {"img-tag": "VD430", "pad": "VD430"}
    lengths = rep.datasets[0].lengths.tolist()
    assert lengths[0] > 0 and lengths[1] == lengths[2]  # merged turns cost what the concatenation costs


def test_control_tokens_in_a_desc_are_refused_on_every_path(tokenizer_dir: Path, tmp_path: Path) -> None:
    """`<|image_pad|>` in a desc was sized on the digit-free fast path; it becomes image slots in ms-swift."""
    from vlmdata.io.dataset import save_records

    cfg = {
        "model": {"path": str(tokenizer_dir)},
        "template": {"name": "target_dense_bbu"},
        "global_max_length": 10**6,
    }
    bad = _rec("pad", 0, objects=[_box("类别=螺丝<|image_pad|>", 10.0, 10.0)])
    ok = _rec("lt", 0, objects=[_box("类别=螺丝,尺寸<5", 10.0, 10.0)])
    ds = save_records([bad, ok], tmp_path / "ds")  # an Arrow dataset: the column-wise batch path runs
    for batch in (True, False):
        rep = audit_dataset(ds, cfg, batch=batch)
        assert {e["id"]: e["code"] for e in rep.errors} == {"pad": "VD430"}
        assert rep.datasets[0].lengths[1] > 0


def test_report_figures_by_hand() -> None:
    lengths = np.arange(1, 1001, dtype=np.int64)  # 1..1000
    images = np.full(1000, 1, dtype=np.int64)
    sources = ["a"] * 500 + ["b"] * 500
    d = DatasetLengths("ds", None, [str(i) for i in range(1000)], sources, lengths, images)
    rep = AuditReport("m", "t", 999, (3072, 1048576), [d])
    assert rep.smallest_limits() == {"all": 1001, "p99_9": 1000}
    st = rep.stats()
    assert st["all"]["p50"] == 500 and st["all"]["p90"] == 900 and st["all"]["p99"] == 990
    assert st["a"]["max"] == 500 and st["b"]["min"] == 501
    assert st["all"]["image_token_share"] == round(1000 / lengths.sum(), 4)
    assert [r["id"] for r in rep.over_limit()] == ["999", "998"]  # 1000 and 999 are >= 999, longest first
    hist = rep.histogram()
    assert sum(hist["counts"]) == 1000 and hist["edges"][-1] >= 1000


def test_config_paths_and_problems(tokenizer_dir: Path, tmp_path: Path) -> None:
    from vlmdata.errors import VlmdataError

    sub = tmp_path / "cfg"
    sub.mkdir()
    (sub / "run.yaml").write_text(
        f"model: {{path: {Path('..') / '..' / tokenizer_dir.name}}}\n", encoding="utf-8"
    )
    assert (tmp_path.parent / tokenizer_dir.name).exists()
    cfg = audit_config(sub / "run.yaml")
    assert Path(cfg.model.path) == (tmp_path.parent / tokenizer_dir.name).resolve()
    assert cfg.global_max_length == 4096 and cfg.template.name == "grounding"  # the neutral default
    (sub / "bad.yaml").write_text("model: {path: x}\ntemplate: {max_pixels: -3}\nglobal_max_length: 0\n")
    with pytest.raises(VlmdataError) as err:
        audit_config(sub / "bad.yaml")
    text = str(err.value)
    assert "template.max_pixels" in text and "global_max_length" in text


def test_fast_counter_equals_tokenizer(tokenizer_dir: Path) -> None:
    counter = TokenCounter.from_model_dir(tokenizer_dir)
    assert counter.fast
    rng = random.Random(3)
    alphabet = list('0123456789  \n\t{}[]":,./=|-_abcXYZ类别华为设备') + ["\u0301", "é", "<|im_end|>", "١"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 50))) for _ in range(3000)]
    texts += [
        "a  1",
        "x \n 7 ",
        "9  ",
        "1\u0301",
        '{"object_1": {"desc": "螺丝", "bbox_2d": [1, 22, 333, 1000]}}',
    ]
    assert counter.verify(texts) == []
    exact_before = counter.calls
    counter.count('{"object_9": {"desc": "螺丝", "bbox_2d": [5, 66, 777, 8]}}')
    counter.count('{"object_7": {"desc": "螺丝", "bbox_2d": [9, 10, 11, 12]}}')
    assert counter.calls - exact_before <= 1  # the second one is all cache hits


def test_non_qwen_pretokenizer_falls_back(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    counter = TokenCounter.from_model_dir(tmp_path)
    assert not counter.fast
    assert counter.count("a 12 a") == counter.exact("a 12 a")


def test_cli_audits_several_datasets_together(tokenizer_dir: Path, tmp_path: Path) -> None:
    from vlmdata.cli import main
    from vlmdata.io.dataset import save_records

    save_records([_rec("a1", 3), _rec("a2", 4)], tmp_path / "bbu" / "data")  # a `validate --out` layout
    save_records([_rec("b1", 5)], tmp_path / "rru")
    cfg = _config(tmp_path, tokenizer_dir, 5000)
    out = tmp_path / "rep.json"
    assert (
        main(["audit", str(tmp_path / "bbu"), str(tmp_path / "rru"), "--config", str(cfg), "--out", str(out)])
        == 0
    )
    rep = json.loads(out.read_text())
    assert [(d["name"], d["count"]) for d in rep["datasets"]] == [("bbu", 2), ("rru", 1)]
    assert rep["stats"]["bbu"]["count"] == 2 and rep["stats"]["all"]["count"] == 3 and rep["ok"]
    assert main(["audit", str(tmp_path / "missing"), "--config", str(cfg)]) == 2


def test_model_without_tokenizer_is_a_clear_error(tmp_path: Path) -> None:
    from vlmdata.errors import VlmdataError

    (tmp_path / "model").mkdir()
    cfg = {"model": {"path": str(tmp_path / "model")}, "template": {"name": "target_dense_bbu"}}
    with pytest.raises(VlmdataError) as err:
        audit_dataset([[_rec("a", 2)]], cfg)
    assert err.value.code_str == "VD531" and str(tmp_path / "model") in str(err.value)
