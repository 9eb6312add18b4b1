"""`vlmdata fuse` output, manifest, reproducibility, and the FusionStream that trainers read."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vlmdata.cli import main
from vlmdata.errors import VlmdataError
from vlmdata.fuse import FusionStream, eval_sets, fuse_epoch, load_fusion_config
from vlmdata.fuse.inputs import fingerprint_dir
from vlmdata.io.dataset import load_dataset
from vlmdata.io.output import MARKER

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mix(tmp_path: Path, make_dataset, write_yaml) -> Path:
    make_dataset(tmp_path / "data" / "bbu", 40, objects=4)
    make_dataset(tmp_path / "data" / "bbu_val", 5)
    make_dataset(tmp_path / "data" / "rru", 12, objects=2)
    make_dataset(tmp_path / "data" / "lvis", 9, objects=25)
    make_dataset(tmp_path / "data" / "lvis_val", 10, objects=25)
    make_dataset(tmp_path / "data" / "chat", 6, objects=0)
    return write_yaml(
        tmp_path / "cfg" / "fusion.yaml",
        "seed: 17\n"
        "targets:\n"
        "  - {name: bbu, data: ../data/bbu, val: ../data/bbu_val, template: target_dense_bbu, ratio: 0.75}\n"
        "  - {name: rru, data: ../data/rru, template: target_dense_rru, ratio: 2.5}\n"
        "sources:\n"
        "  - {name: lvis, data: ../data/lvis, val: ../data/lvis_val, ratio: 0.3, max_objects: 6}\n"
        "  - {name: chat, data: ../data/chat, mode: chat, ratio: 0.1}\n",
    )


def _tree_digest(folder: Path) -> dict[str, str]:
    """Every file's digest; the output marker only by its command (it records the time of the run)."""
    digests = {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MARKER
    }
    digests[MARKER] = json.loads((folder / MARKER).read_text())["command"]
    return digests


def test_fuse_writes_exact_counts_tags_and_manifest(mix: Path, tmp_path: Path) -> None:
    cfg = load_fusion_config(mix)
    result = fuse_epoch(cfg, tmp_path / "out", epoch=1)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    quotas = {"bbu": 30, "rru": 30, "lvis": 18, "chat": 6}  # 0.75*40, 2.5*12, round(0.3*60), round(0.1*60)
    assert {e["name"]: e["quota"] for e in manifest["entries"]} == quotas
    assert all(e["realised"] == e["quota"] for e in manifest["entries"])
    assert manifest["seed"] == 17 and manifest["epoch"] == 1 and manifest["total"] == 84
    assert manifest["vlmdata_version"] and manifest["plan_digest"] == "sha256:" + result.plan.digest()
    assert manifest["config"]["targets"][0]["template"] == "target_dense_bbu"
    assert (
        manifest["config"]["sources"][0]["template"] == "source_dense"
    )  # defaults are recorded, not implied
    assert manifest["inputs"]["lvis"]["fingerprint"] == fingerprint_dir(tmp_path / "data" / "lvis")
    assert manifest["inputs"]["lvis"]["records"] == 9
    assert str(tmp_path / "out") not in json.dumps(manifest)  # the output path never leaks into the bytes

    ds = load_dataset(tmp_path / "out" / "data")
    assert len(ds) == 84
    lvis_in = list(load_dataset(tmp_path / "data" / "lvis"))
    capped = 0
    metas = [json.loads(m) for m in ds["metadata"]]
    realised = {name: sum(m["_source"] == name for m in metas) for name in quotas}
    assert realised == quotas
    for record, meta in zip(ds, metas, strict=True):
        src = meta["_source"]
        assert record["id"].startswith(src + "-")
        assert meta["_domain"] == ("target" if src in ("bbu", "rru") else "source")
        assert meta["_mode"] == ("chat" if src == "chat" else "dense")
        assert (
            meta["_template"]
            == {"bbu": "target_dense_bbu", "rru": "target_dense_rru", "lvis": "source_dense", "chat": "chat"}[
                src
            ]
        )
        assert meta["_augment"] is (src in ("bbu", "rru"))
        if src == "lvis":
            original = lvis_in[int(record["id"].split("-")[1])]["objects"]
            assert len(record["objects"]) == min(6, len(original))
            it = iter(original)
            assert all(any(o == x for x in it) for o in record["objects"])  # a subsequence: order kept
            capped += len(original) > 6
    assert capped > 0
    # the source records' own metadata is kept
    assert any(m.get("row") is not None for m in metas)


def test_fuse_twice_is_byte_identical_across_hash_seeds(mix: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    digests = []
    for i, seed in enumerate(("0", "4242")):
        out = tmp_path / f"run{i}"
        subprocess.run(
            [sys.executable, "-m", "vlmdata", "fuse", str(mix), "--out", str(out), "--epoch", "2"],
            check=True,
            capture_output=True,
            env={**env, "PYTHONHASHSEED": seed},
            cwd=tmp_path,
        )
        digests.append(_tree_digest(out))
    in_process = tmp_path / "run2"
    fuse_epoch(load_fusion_config(mix), in_process, epoch=2)
    digests.append(_tree_digest(in_process))
    assert digests[0] == digests[1] == digests[2]
    assert {
        "manifest.json",
        "data/state.json",
        "data/dataset_info.json",
        "data/data-00000-of-00001.arrow",
    } <= set(digests[0])
    other_epoch = tmp_path / "run3"
    fuse_epoch(load_fusion_config(mix), other_epoch, epoch=3)
    assert (
        _tree_digest(other_epoch)["data/data-00000-of-00001.arrow"]
        != digests[0]["data/data-00000-of-00001.arrow"]
    )


def test_stream_equals_fused_output_and_resumes(mix: Path, tmp_path: Path) -> None:
    fuse_epoch(load_fusion_config(mix), tmp_path / "out", epoch=4)
    written = list(load_dataset(tmp_path / "out" / "data"))
    stream = FusionStream(mix, epoch=4)
    assert len(stream) == len(written)
    full = list(stream)
    assert full == written
    for k in (0, 1, 37, len(stream) - 1):
        assert list(stream.iter_from(k)) == full[k:]
        assert stream[k] == full[k]
    assert list(stream.iter_from(len(stream))) == []
    assert stream[-1] == full[-1]
    with pytest.raises(IndexError):
        stream[len(stream)]
    # a fresh process-like copy (what a dataloader worker gets) resumes with no state but the recipe
    clone = pickle.loads(pickle.dumps(stream))
    assert clone._plan is None and clone._datasets is None
    assert list(clone.iter_from(50)) == full[50:]
    assert len(pickle.dumps(stream)) < 20_000


def test_stream_in_worker_processes_matches(mix: Path) -> None:
    code = (
        "import sys, json;from vlmdata.fuse import FusionStream;"
        "s = FusionStream(sys.argv[1], epoch=int(sys.argv[2]));"
        "print(json.dumps([s.source_at(p) for p in range(len(s))]))"
    )
    outs = [
        subprocess.run(
            [sys.executable, "-c", code, str(mix), "3"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": s},
        ).stdout
        for s in ("1", "2")
    ]
    here = FusionStream(mix, epoch=3)
    assert outs[0] == outs[1] and json.loads(outs[0]) == [list(here.source_at(p)) for p in range(len(here))]


def test_stream_with_given_datasets_and_set_epoch(mix: Path, tmp_path: Path) -> None:
    cfg = load_fusion_config(mix)
    datasets = {e.name: load_dataset(e.data) for _, e in cfg.entries()}
    a = FusionStream(cfg, epoch=0, datasets=datasets)
    b = FusionStream(cfg, epoch=0)
    assert [a.source_at(p) for p in range(len(a))] == [b.source_at(p) for p in range(len(b))]
    first = a.plan.digest()
    a.set_epoch(1)
    assert a.plan.digest() != first and len(a) == len(b)
    a.set_epoch(0)
    assert a.plan.digest() == first


def test_eval_sets_order_and_eval_sources(mix: Path, write_yaml) -> None:
    cfg = load_fusion_config(mix)
    sets = eval_sets(cfg)
    assert [s.name for s in sets] == ["bbu"]
    records = list(sets[0].records())
    assert len(records) == 5
    meta = json.loads(records[0]["metadata"])
    assert meta["_source"] == "bbu" and meta["_augment"] is False and meta["_template"] == "target_dense_bbu"
    with_sources = write_yaml(mix.parent / "eval.yaml", "extends: fusion.yaml\neval_sources: true\n")
    sets = eval_sets(load_fusion_config(with_sources))
    assert [(s.name, s.domain) for s in sets] == [("bbu", "target"), ("lvis", "source")]
    lvis = list(sets[1].records())
    assert [len(r["objects"]) for r in lvis] == list(range(1, 11))  # no max_objects (6) cap on evaluation


def test_plan_flag_prints_counts_and_writes_nothing(mix: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "never"
    assert main(["fuse", str(mix), "--plan", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {e["name"]: e["realised"] for e in shown["entries"]} == {
        "bbu": 30,
        "rru": 30,
        "lvis": 18,
        "chat": 6,
    }
    assert not out.exists()
    assert main(["fuse", "--config", str(mix), "--plan"]) == 0
    text = capsys.readouterr().out
    assert "lvis" in text and "source_dense" in text and "84" in text


def test_cli_usage_and_config_errors(mix: Path, tmp_path: Path, write_yaml, capsys) -> None:
    assert main(["fuse", str(mix)]) == 2  # --out missing
    assert main(["fuse", str(tmp_path / "nope.yaml"), "--plan"]) == 2
    bad = write_yaml(tmp_path / "bad.yaml", "targets:\n  - {name: t, data: ../nowhere}\n")
    assert main(["fuse", str(bad), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "VD613" in err and "targets[0].data" in err and str(bad) in err
    assert not (tmp_path / "o").exists()


def test_failed_fuse_keeps_previous_output(mix: Path, tmp_path: Path, make_dataset) -> None:
    out = tmp_path / "out"
    fuse_epoch(load_fusion_config(mix), out, epoch=0)
    before = _tree_digest(out)
    cfg = load_fusion_config(mix)
    (tmp_path / "data" / "chat" / "state.json").unlink()  # input damaged after the config was loaded
    with pytest.raises(VlmdataError) as err:
        fuse_epoch(cfg, out, epoch=1)
    assert err.value.code_str == "VD520"
    assert _tree_digest(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-out")]


def test_input_change_changes_fingerprint(tmp_path: Path, make_dataset) -> None:
    make_dataset(tmp_path / "a", 10)
    make_dataset(tmp_path / "b", 10, prefix="a")
    assert fingerprint_dir(tmp_path / "a") == fingerprint_dir(tmp_path / "b")  # same content, other folder
    make_dataset(tmp_path / "b", 11, prefix="a")
    assert fingerprint_dir(tmp_path / "a") != fingerprint_dir(tmp_path / "b")


def test_existing_tags_and_bad_metadata(tmp_path: Path, write_yaml) -> None:
    from vlmdata.fuse.records import EntryTags, tag_metadata

    tags = EntryTags("lvis", "source", "dense", "source_dense", False, None)
    assert json.loads(tag_metadata('{"_source": "old", "a": 1}', tags)) == {
        "_source": "lvis",
        "a": 1,
        "_domain": "source",
        "_mode": "dense",
        "_template": "source_dense",
        "_augment": False,
    }
    assert tag_metadata('{"a": 1}', tags).startswith('{"a": 1, "_source": "lvis"')
    with pytest.raises(VlmdataError) as err:
        tag_metadata("[1, 2]", tags, record_id="r9")
    assert err.value.code_str == "VD525" and "id=r9" in str(err.value)


def test_many_chunks_and_shards_match_stream(mix: Path, tmp_path: Path, monkeypatch) -> None:
    import vlmdata.fuse.writer as writer
    import vlmdata.io.writer as shards

    monkeypatch.setattr(writer, "CHUNK", 7)
    monkeypatch.setattr(shards, "SHARD_BYTES", 2000)
    fuse_epoch(load_fusion_config(mix), tmp_path / "small", epoch=5)
    files = sorted(p.name for p in (tmp_path / "small" / "data").glob("*.arrow"))
    assert len(files) > 1 and files[0] == f"data-00000-of-{len(files):05d}.arrow"
    written = list(load_dataset(tmp_path / "small" / "data"))
    assert written == list(FusionStream(mix, epoch=5))
    ids = np.array([r["id"] for r in written])
    assert len(ids) == 84


def test_stream_from_manifest_verifies_inputs(mix: Path, tmp_path: Path, make_dataset) -> None:
    fuse_epoch(load_fusion_config(mix), tmp_path / "out", epoch=6)
    stream = FusionStream.from_manifest(tmp_path / "out" / "manifest.json")
    assert stream.epoch == 6
    assert list(stream.iter_from(70)) == list(load_dataset(tmp_path / "out" / "data"))[70:]
    make_dataset(tmp_path / "data" / "rru", 12, prefix="changed", objects=2)
    with pytest.raises(VlmdataError) as err:
        FusionStream.from_manifest(tmp_path / "out" / "manifest.json")
    assert err.value.code_str == "VD526" and "inputs.rru" in str(err.value)
    assert len(FusionStream.from_manifest(tmp_path / "out" / "manifest.json", verify=False)) == 84


def test_jsonl_inputs_are_validated_on_the_fly(tmp_path: Path, write_yaml, monkeypatch) -> None:
    from vlmdata.synth import generate

    monkeypatch.setenv("VLMDATA_CACHE", str(tmp_path / "cache"))
    generate(tmp_path / "clean", 6, seed=1, domain="bbu")
    generate(tmp_path / "dirty", 3, seed=1, corrupt=1)
    good = write_yaml(
        tmp_path / "good.yaml",
        "targets:\n  - {name: t, data: clean/data.jsonl, template: target_dense_bbu}\n",
    )
    result = fuse_epoch(load_fusion_config(good), tmp_path / "out")
    assert result.total == 6
    entry = result.manifest["inputs"]["t"]
    assert entry["data"].endswith("data.jsonl") and entry["dataset"].startswith(str(tmp_path / "cache"))
    assert list(FusionStream(good)) == list(load_dataset(tmp_path / "out" / "data"))
    bad = write_yaml(tmp_path / "bad.yaml", "targets:\n  - {name: t, data: dirty/data.jsonl}\n")
    for _ in range(2):  # a rejected file is never cached as if it were clean
        with pytest.raises(VlmdataError) as err:
            fuse_epoch(load_fusion_config(bad), tmp_path / "out2")
        assert err.value.code_str == "VD522" and "dirty/data.jsonl" in str(err.value)


@pytest.mark.train
def test_torch_dataloader_workers_read_the_same_stream(mix: Path) -> None:
    import torch.utils.data as tud

    class Positions(tud.Dataset):
        def __init__(self, stream: FusionStream) -> None:
            self.stream = stream

        def __len__(self) -> int:
            return len(self.stream)

        def __getitem__(self, p: int) -> str:
            return self.stream[p]["id"]

    stream = FusionStream(mix, epoch=2)
    expected = [r["id"] for r in stream]
    loader = tud.DataLoader(
        Positions(FusionStream(mix, epoch=2)), batch_size=8, num_workers=2, collate_fn=list
    )
    got = [rid for batch in loader for rid in batch]
    assert got == expected
    resumed = tud.DataLoader(
        tud.Subset(Positions(FusionStream(mix, epoch=2)), range(40, len(stream))),
        batch_size=8,
        num_workers=2,
        collate_fn=list,
    )
    assert [rid for batch in resumed for rid in batch] == expected[40:]


def test_empty_epoch_writes_an_empty_dataset(tmp_path: Path, make_dataset, write_yaml) -> None:
    make_dataset(tmp_path / "t", 5)
    cfg = write_yaml(
        tmp_path / "f.yaml",
        "targets:\n  - {name: t, data: t, ratio: 0}\nsources:\n  - {name: s, data: t, ratio: 0.5}\n",
    )
    result = fuse_epoch(load_fusion_config(cfg), tmp_path / "out")
    assert result.total == 0 and [e["realised"] for e in result.manifest["entries"]] == [0, 0]
    ds = load_dataset(tmp_path / "out" / "data")
    assert len(ds) == 0 and "objects" in ds.column_names
    assert len(FusionStream(cfg)) == 0 and list(FusionStream(cfg)) == []


def test_cli_json_and_bad_epoch(mix: Path, tmp_path: Path, capsys) -> None:
    assert main(["fuse", str(mix), "--out", str(tmp_path / "o"), "--epoch", "1", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["total"] == 84 and shown["out"] == str(tmp_path / "o") and shown["epoch"] == 1
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["epoch"] == 1
    assert main(["fuse", str(mix), "--plan", "--epoch", "-1"]) == 2
    assert main(["fuse", str(mix), "--plan", "--format", "yaml"]) == 2
    assert main(["fuse", str(mix), "--config", str(mix), "--plan"]) == 2


def test_sigkill_mid_write_keeps_previous_output(mix: Path, tmp_path: Path) -> None:
    import signal

    out = tmp_path / "out"
    fuse_epoch(load_fusion_config(mix), out, epoch=0)
    before = _tree_digest(out)
    driver = (
        "import sys, time\n"
        "import vlmdata.fuse.writer as w\n"
        "from vlmdata.fuse import load_fusion_config\n"
        "w.CHUNK = 5\n"
        "def progress(done, total):\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
        "w.fuse_epoch(load_fusion_config(sys.argv[1]), sys.argv[2], epoch=1, progress=progress)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", driver, str(mix), str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        assert [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-out.")]  # really mid-write
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _tree_digest(out) == before
    assert len(load_dataset(out / "data")) == 84
    fuse_epoch(load_fusion_config(mix), out, epoch=1)  # the next run cleans the stale temporary folder
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-out")]


def test_the_plan_is_mapped_while_writing_and_leaves_no_scratch(mix: Path, tmp_path: Path) -> None:
    """The epoch's arrays are built in a scratch folder of the output's temporary folder: the result's plan
    equals the in-memory plan, and neither the output nor its parent keeps the scratch."""
    from vlmdata.fuse import plan_epoch
    from vlmdata.fuse.writer import input_sizes

    cfg = load_fusion_config(mix)
    result = fuse_epoch(cfg, tmp_path / "out", epoch=2)
    expected = plan_epoch(cfg, input_sizes(cfg)[0], 2)
    assert np.array_equal(result.plan.entry, expected.entry) and np.array_equal(
        result.plan.index, expected.index
    )
    assert not list(tmp_path.rglob(".plan")) and not list(tmp_path.glob(".tmp-*"))
    assert json.loads((tmp_path / "out" / MARKER).read_text())["entries"] == ["data", "manifest.json"]
