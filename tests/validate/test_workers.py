"""`validate` on several workers writes the same bytes as on one: dataset, rejects, warnings, report.

The corpus is built so that shard boundaries cut through everything that couples lines: duplicate ids (given
and derived) whose first occurrence sits in an earlier shard, a first occurrence that is itself rejected (so
the later one is kept), duplicate images, train/val overlap, oversized lines crossing a boundary, broken
UTF-8, CRLF, blank lines, a byte-order mark and a last line without a newline, with image checks on.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from vlmdata.io.engine import EngineOptions
from vlmdata.io.output import MARKER
from vlmdata.validate import ValidateOptions, validate_files

from .conftest import make_image

BLOCK = 2048  # small blocks and shards: dozens of shards from a few hundred lines


def _object(rng: random.Random, w: int, h: int) -> dict[str, Any]:
    x, y = rng.uniform(0, w - 30), rng.uniform(0, h - 30)
    kind = rng.random()
    if kind < 0.5:
        return {
            "desc": f"类别=螺丝,编号={rng.randint(0, 99)}",
            "bbox_2d": [round(x, 1), round(y, 1), round(x + 9, 1), round(y + 7, 1)],
        }
    if kind < 0.8:
        return {"desc": "类别=光纤", "poly": [round(x, 2), round(y, 2), x + 12, y, x + 6, y + 11]}
    return {"desc": "类别=电源线", "line": [round(x), round(y), round(x) + 20, round(y) + 3]}


def corpus(root: Path, n: int = 400, seed: int = 7) -> tuple[list[bytes], list[bytes]]:
    """(train lines, val lines) referring to images under `root`."""
    rng = random.Random(seed)
    for i in range(12):
        make_image(root / f"img{i}.jpg", (64 + i, 48))
    make_image(root / "rotated.jpg", (64, 48), orientation=6)

    def rec(i: int) -> dict[str, Any]:
        k = rng.randrange(12)
        r: dict[str, Any] = {
            "id": f"r{i}",
            "images": [f"img{k}.jpg"],
            "width": 64 + k,
            "height": 48,
            "objects": [_object(rng, 64 + k, 48) for _ in range(rng.randint(1, 6))],
        }
        if i % 5 == 0:
            del r["id"]  # derived id
        return r

    train: list[bytes] = []
    for i in range(n):
        r = rec(i)
        roll = rng.random()
        if roll < 0.04:
            r["id"] = f"r{rng.randrange(max(1, i))}"  # a duplicate id of an earlier line
        elif roll < 0.06:
            r["objects"][0]["bbox_2d"] = [30, 30, 1, 1]  # inverted box
            r["objects"][0].pop("poly", None)
            r["objects"][0].pop("line", None)
        elif roll < 0.08:
            r["images"] = ["missing.jpg"]  # image check fails
        elif roll < 0.10:
            r["width"] += 5  # size mismatch with the file
        elif roll < 0.11:
            r["images"] = ["rotated.jpg"]
            r["width"], r["height"] = 64, 48  # EXIF mismatch
        elif roll < 0.13:
            r["objects"][0]["colour"] = "red"  # unknown key: the models explain
        elif roll < 0.14:
            r["objects"][0]["bbox_2d" if "bbox_2d" in r["objects"][0] else next(iter(r["objects"][0]))] = [
                1,
                1,
                r["width"] + 0.3,
                5,
            ]  # just outside: a warning
        line = json.dumps(r, ensure_ascii=False).encode()
        if i % 71 == 5:
            line = line[:-9]  # truncated JSON
        elif i % 53 == 7:
            line = b"\xff" + line  # not UTF-8
        elif i % 67 == 3:
            line = b'{"pad": "' + b"x" * 3000 + b'"}'  # oversized (limit below)
        train.append(line)
        if i % 37 == 0:
            train.append(b"   ")
        if i % 41 == 0:
            train.append(train[-2] if len(train) > 1 else line)  # an exact repeat: same (derived) id
    # the first occurrence of "dup-late" is rejected (missing image), so its second occurrence is kept
    late = {"id": "dup-late", "images": ["missing.jpg"], "width": 64, "height": 48, "summary": "无关图片"}
    train.insert(3, json.dumps(late).encode())
    late.update(images=["img0.jpg"])
    train.append(json.dumps(late).encode())
    val = [json.dumps(rec(n + i), ensure_ascii=False).encode() for i in range(60)]
    val[4] = json.dumps({**json.loads(val[4]), "id": "r10"}).encode()  # duplicate of a train id
    return train, val


def write(path: Path, lines: list[bytes], bom: bool = False, crlf_every: int = 0) -> Path:
    parts = []
    for i, line in enumerate(lines):
        parts.append(line + (b"\r" if crlf_every and i % crlf_every == 0 else b""))
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"\n".join(parts))  # no final newline
    return path


def tree(folder: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.name == "report.json":
                report = json.loads(data)
                report.pop("seconds")
                report.pop("out_dir")
                data = json.dumps(report, sort_keys=True).encode()
            elif p.name == MARKER:  # the `--out` marker: when it was written differs, what it lists must not
                marker = json.loads(data)
                marker.pop("time")
                data = json.dumps(marker, sort_keys=True).encode()
            out[str(p.relative_to(folder))] = data
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path, Path]:
    root = tmp_path_factory.mktemp("workers")
    train, val = corpus(root)
    half = len(train) // 2
    a = write(root / "a.jsonl", train[:half], bom=True, crlf_every=7)
    b = write(root / "b.jsonl", train[half:])
    v = write(root / "val.jsonl", val)
    return [a, b], v, root


def run(
    inputs: tuple[list[Path], Path, Path], out: Path, engine: EngineOptions, **kw: Any
) -> dict[str, bytes]:
    files, val, root = inputs
    options = ValidateOptions(
        val=[val], block_bytes=BLOCK, shard_bytes=2 * BLOCK, max_line_bytes=2500, engine=engine, **kw
    )
    report = validate_files(files, out, options)
    assert report.invariant_holds
    return tree(out)


def test_the_corpus_exercises_every_cross_shard_rule(inputs, tmp_path: Path) -> None:
    got = run(inputs, tmp_path / "one", EngineOptions(workers=1))
    rejects = [json.loads(x) for x in got["rejects.jsonl"].splitlines()]
    codes = {i["code"] for r in rejects for i in r["issues"]}
    warned = {json.loads(x)["code"] for x in got["warnings.jsonl"].splitlines()}
    assert {"VD500", "VD502"} <= codes and "VD501" in warned  # duplicate ids, overlap; duplicate images
    assert {"VD101", "VD300", "VD304", "VD305"} <= codes  # JSON, missing image, size and EXIF mismatch
    assert any(r.get("raw_sha256") for r in rejects)  # an oversized line
    assert any("raw_base64" in r for r in rejects)  # broken UTF-8
    assert sum(len(r["issues"]) for r in rejects) > len(rejects)  # some rejects carry several issues
    report = json.loads(got["report.json"])
    assert report["files"][str(inputs[0][0])]["notes"]  # BOM and CRLF notes
    assert report["blank"] > 0
    ids = [json.loads(x).get("id") for x in got["rejects.jsonl"].splitlines()]
    assert "dup-late" not in ids or ids.count("dup-late") == 1
    import datasets

    kept = datasets.load_from_disk(str(tmp_path / "one" / "data"))["id"]
    assert kept.count("dup-late") == 1 and len(kept) == len(set(kept))
    sizes = [p.stat().st_size for p in inputs[0]]
    assert min(sizes) > 10 * BLOCK  # many shards per file


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_write_the_same_bytes_as_one(inputs, tmp_path: Path, workers: int) -> None:
    one = run(inputs, tmp_path / "one", EngineOptions(workers=1))
    many = run(inputs, tmp_path / f"w{workers}", EngineOptions(workers=workers))
    assert many.keys() == one.keys()
    for name in one:
        assert many[name] == one[name], name
    assert not any(".shards" in name for name in many)


def test_image_checks_off_and_allow_extra_also_match(inputs, tmp_path: Path) -> None:
    one = run(inputs, tmp_path / "one", EngineOptions(workers=1), image_check=False, allow_extra=True)
    two = run(inputs, tmp_path / "two", EngineOptions(workers=2), image_check=False, allow_extra=True)
    assert one == two


def test_default_sharding_gives_the_same_output(inputs, tmp_path: Path, monkeypatch) -> None:
    """Without an explicit shard size the plan depends on the worker count; the output does not."""
    import vlmdata.validate.run as run_module

    monkeypatch.setattr(run_module, "PARALLEL_MIN_BYTES", 0)  # parallel even for this small input
    files, val, _ = inputs
    trees = []
    for workers in (1, 2):
        options = ValidateOptions(val=[val], block_bytes=BLOCK, engine=EngineOptions(workers=workers))
        validate_files(files, tmp_path / f"w{workers}", options)
        trees.append(tree(tmp_path / f"w{workers}"))
    assert trees[0] == trees[1]


_KILLED_RUN = """
import sys
from vlmdata.io.engine import EngineOptions
from vlmdata.validate import ValidateOptions, validate_files
if __name__ == "__main__":
    validate_files(sys.argv[2:], sys.argv[1], ValidateOptions(
        image_check=False, block_bytes=4096, shard_bytes=8192, engine=EngineOptions(workers=2)))
"""


def test_a_killed_parallel_run_leaves_the_previous_output(inputs, tmp_path: Path) -> None:
    """SIGKILL of the driver mid-run: the previous output stays byte for byte, the workers go away, and the
    next run cleans the dead run's temporary folder (spill included)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    files, _, root = inputs
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"\n".join(files[0].read_bytes().splitlines()[1:] * 40))
    script = tmp_path / "run.py"
    script.write_text(_KILLED_RUN)
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(script), str(out), str(files[1])], env=env, check=True)
    before = tree(out)
    proc = subprocess.Popen([sys.executable, str(script), str(out), str(big)], env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(tmp_path.glob(".tmp-out.*/.shards/shard-*")):
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed; make the input larger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert tree(out) == before
    subprocess.run([sys.executable, str(script), str(out), str(files[1])], env=env, check=True)
    assert tree(out) == before and not list(tmp_path.glob(".tmp-out.*"))


def test_an_interrupted_parallel_run_stops_its_workers(inputs, tmp_path: Path) -> None:
    files, val, _ = inputs
    out = tmp_path / "out"
    options = ValidateOptions(
        val=[val], block_bytes=BLOCK, shard_bytes=2 * BLOCK, engine=EngineOptions(workers=2)
    )
    validate_files(files[:1], out, options)
    before = tree(out)
    calls: list[int] = []

    def interrupt(nbytes: int) -> None:
        calls.append(nbytes)
        if len(calls) == 3:
            raise KeyboardInterrupt

    options.progress = interrupt
    with pytest.raises(KeyboardInterrupt):
        validate_files(files, out, options)
    assert tree(out) == before and not list(tmp_path.glob(".tmp-out.*"))


def test_an_unexpected_error_names_its_absolute_line(inputs, tmp_path: Path, monkeypatch) -> None:
    """A shard counts lines from its own start; the error's position is made absolute for the user: the
    same line whether the file is one shard or many."""
    import vlmdata.validate.shard as shard_module
    from vlmdata.errors import position_of

    files, _, _ = inputs
    original = shard_module._Shard.batch

    def failing(shard_bytes: int | None, out: Path) -> tuple[Any, int]:
        firsts: list[int] = []

        def fails_on_the_fifth_batch(self, batch):  # type: ignore[no-untyped-def]
            firsts.append(batch.numbers[0])
            if len(firsts) == 5:
                raise RuntimeError("boom")
            return original(self, batch)

        monkeypatch.setattr(shard_module._Shard, "batch", fails_on_the_fifth_batch)
        options = ValidateOptions(
            block_bytes=BLOCK, shard_bytes=shard_bytes, engine=EngineOptions(workers=1), image_check=False
        )
        with pytest.raises(RuntimeError) as err:
            validate_files(files[:1], out, options)
        return position_of(err.value), firsts[4]

    whole, line = failing(None, tmp_path / "one")  # one shard: the batch's own numbers are absolute
    sharded, relative = failing(2 * BLOCK, tmp_path / "many")
    assert whole is not None and sharded is not None
    assert (whole.file, whole.line) == (str(files[0]), line)
    assert relative < line  # the fifth batch starts a later shard, which counts from its own start
    assert (sharded.file, sharded.line) == (str(files[0]), line)
    assert not (tmp_path / "one").exists() and not (tmp_path / "many").exists()
