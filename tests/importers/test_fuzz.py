"""Hostile inputs: random mutations of well-formed sources never crash an importer, keep the accounting balanced,
and whatever is written still validates with 0 rejects. Corrupt RLE strings never reach pycocotools."""

from __future__ import annotations

import copy
import json
import random
import string
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from tests.importers.conftest import Coco, make_image, validate_jsonl
from tests.importers.test_coco import standard
from tests.importers.test_labelme import labelme_file, shape
from tests.importers.test_swift import grounding_lines
from vlmdata.errors import VlmdataError
from vlmdata.importers import ImportOptions, import_source
from vlmdata.importers.common import BadGeometry
from vlmdata.importers.masks import decode_rle

POOL: list[Any] = [
    None,
    True,
    False,
    -1,
    0,
    1e308,
    -3.5,
    7,
    "x",
    "",
    "<bbox>",
    [],
    {},
    [1, 2],
    [[1]],
    {"a": 1},
    [1, 2, 3, 4],
    [1e6] * 6,
    "<ref-object>",
    "../../etc/passwd",
]


def _nodes(tree: Any, path: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.append((*path, k))
            out += _nodes(v, (*path, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out.append((*path, i))
            out += _nodes(v, (*path, i))
    return out


def mutate(tree: Any, rng: random.Random, times: int = 2) -> Any:
    tree = copy.deepcopy(tree)
    for _ in range(times):
        nodes = _nodes(tree)
        if not nodes:
            return tree
        path = rng.choice(nodes)
        parent = tree
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and rng.random() < 0.2:
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(POOL))
    return tree


def _check(fmt: str, src: Path, out: Path, image_root: Path | None, tmp: Path) -> None:
    try:
        report = import_source(
            fmt, src, out, ImportOptions(image_root=str(image_root) if image_root else None)
        )
    except VlmdataError:
        return  # a source broken as a whole: a coded error, nothing written
    assert report.balanced()
    if out.read_bytes():
        root = Path(report.image_root)
        assert validate_jsonl(out, root, tmp.with_name(tmp.name + "-v")).total("rejected") == 0, (
            out.read_text()[:2000]
        )


@pytest.mark.parametrize("seed", range(12))
def test_mutated_coco(seed: int, tmp_path: Path) -> None:
    coco = Coco(tmp_path / "c")
    standard(coco)
    data = mutate(coco.data(), random.Random(seed), times=3)
    src = tmp_path / "c" / "annotations" / "m.json"
    src.write_text(json.dumps(data))
    _check("coco", src, tmp_path / "o.jsonl", coco.root / "images", tmp_path)


@pytest.mark.parametrize("seed", range(8))
def test_mutated_labelme(seed: int, tmp_path: Path) -> None:
    make_image(tmp_path / "lm" / "a.jpg", (64, 48))
    shapes = [
        shape("a", [[1, 1], [30, 20]], "rectangle"),
        shape("b", [[1, 1], [30, 1], [20, 30]], "polygon"),
        shape("c", [[1, 1], [30, 30]], "line"),
    ]
    good = tmp_path / "good.json"
    labelme_file(good, "a.jpg", (64, 48), shapes)
    data = mutate(json.loads(good.read_text()), random.Random(seed), times=3)
    (tmp_path / "lm" / "a.json").write_text(json.dumps(data))
    _check("labelme", tmp_path / "lm", tmp_path / "o.jsonl", None, tmp_path)


@pytest.mark.parametrize("fmt", ["swift", "qwen", "odvg"])
def test_mutated_jsonl_formats(fmt: str, tmp_path: Path) -> None:
    make_image(tmp_path / "beach.jpg", (1500, 2000))
    make_image(tmp_path / "a.jpg", (1500, 2000))
    if fmt == "swift":
        lines = grounding_lines()
    elif fmt == "qwen":
        answer = json.dumps([{"bbox_2d": [100, 200, 500, 800], "label": "cat"}])
        lines = [
            {
                "messages": [
                    {"role": "user", "content": "<image>Find"},
                    {"role": "assistant", "content": answer},
                ],
                "images": ["a.jpg"],
            }
        ] * 4
    else:
        lines = [
            {
                "filename": "a.jpg",
                "height": 2000,
                "width": 1500,
                "detection": {"instances": [{"bbox": [1, 2, 30, 40], "label": 0, "category": "dog"}]},
                "grounding": {"caption": "a dog", "regions": [{"bbox": [1, 2, 30, 40], "phrase": "a dog"}]},
            }
        ] * 4
    rng = random.Random(1)
    mutated = [mutate(line, rng, times=2) for line in lines for _ in range(6)]
    src = tmp_path / "m.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in mutated))
    _check(fmt, src, tmp_path / "o.jsonl", None, tmp_path)


def test_rle_decoding_matches_pycocotools_and_refuses_corrupt_strings() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        h, w = (int(v) for v in rng.integers(1, 30, 2))
        mask = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        enc = mask_utils.encode(np.asfortranarray(mask))
        assert np.array_equal(
            decode_rle({"counts": enc["counts"].decode(), "size": [h, w]}, h, w), mask_utils.decode(enc)
        )
    text_rng = random.Random(5)
    valid = mask_utils.encode(np.asfortranarray(np.eye(20, 30, dtype=np.uint8)))["counts"].decode()
    decoded_some = 0
    for _ in range(3000):
        if text_rng.random() < 0.5:
            s = "".join(text_rng.choice(string.printable[:94]) for _ in range(text_rng.randint(0, 30)))
        else:  # one character of a valid string changed, or the string cut
            k = text_rng.randrange(len(valid))
            s = (
                valid[:k] + text_rng.choice(string.printable[:94]) + valid[k + 1 :]
                if text_rng.random() < 0.7
                else valid[:k]
            )
        try:
            decode_rle({"counts": s, "size": [20, 30]}, 20, 30)
            decoded_some += 1
        except BadGeometry:
            pass
    assert decoded_some < 3000
