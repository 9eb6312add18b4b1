"""Closed-form image tokens against qwen_vl_utils' own resize, and the env handed to ms-swift."""

from __future__ import annotations

import random

import pytest

from vlmdata.models.qwen import (
    backend_image_env,
    effective_pixel_bounds,
    image_tokens,
    record_image_kwargs,
    record_pixel_bounds,
    smart_resize,
)


def test_hand_computed_cases() -> None:
    # 2048x1536 at 1024 tokens: sqrt(3) downscale, floored to the 32 px grid -> 864 x 1152
    assert smart_resize(1536, 2048, 3072, 1048576) == (864, 1152)
    assert image_tokens(1536, 2048, 3072, 1048576) == 27 * 36
    # within bounds: round each side to the nearest multiple of 32 (half to even: 48/32 = 1.5 -> 2)
    assert smart_resize(200, 300, 3072, 1048576) == (192, 288)
    assert smart_resize(48, 48, 1024, 1048576) == (64, 64)
    # tiny image below min_pixels: scaled up, sides ceiled
    assert smart_resize(10, 20, 4096, 1048576) == (64, 96)
    assert image_tokens(10, 20, 4096, 1048576) == 6
    # symmetric in height and width (EXIF rotation cannot change the count)
    assert image_tokens(1080, 1920, 3072, 1048576) == image_tokens(1920, 1080, 3072, 1048576)
    with pytest.raises(ValueError):
        smart_resize(10, 2500, 3072, 1048576)


def test_bounds_are_whole_tokens_as_ms_swift_applies_them() -> None:
    cfg = {"min_pixels": 3136, "max_pixels": 1048576}
    assert effective_pixel_bounds(cfg) == (3072, 1048576)
    env = backend_image_env(cfg)
    assert env["IMAGE_MIN_TOKEN_NUM"] == "3" and env["IMAGE_MAX_TOKEN_NUM"] == "1024"
    assert effective_pixel_bounds({"min_pixels": None, "max_pixels": None}) == (4 * 1024, 16384 * 1024)

    class Section:  # attribute-style config sections (the pydantic TemplateConfig) work too
        min_pixels = 65536
        max_pixels = 2_000_000

    assert backend_image_env(Section())["IMAGE_MAX_TOKEN_NUM"] == str(2_000_000 // 1024)


def test_record_overrides() -> None:
    rec = {"metadata": '{"max_pixels": 200000, "_source": "x"}'}
    assert record_image_kwargs(rec) == {"max_pixels": 200000}
    assert record_pixel_bounds(rec, (3072, 1048576)) == (3072, 200000)
    assert record_pixel_bounds({"metadata": "{}"}, (3072, 1048576)) == (3072, 1048576)
    for bad in ('{"max_pixels": -5}', '{"max_pixels": "big"}', '{"min_pixels": 5000, "max_pixels": 4000}'):
        with pytest.raises(ValueError):
            record_pixel_bounds({"metadata": bad}, (3072, 1048576))


@pytest.mark.train
def test_equals_qwen_vl_utils_resize() -> None:
    from qwen_vl_utils import vision_process

    rng = random.Random(7)
    sizes = [(rng.randint(1, 4096), rng.randint(1, 4096)) for _ in range(3000)]
    sizes += [
        (32 * k + 16, 32 * j + 16) for k in range(0, 40, 3) for j in range(0, 40, 5)
    ]  # .5 rounding ties
    bounds = [(3072, 1048576), (4096, 16384 * 1024), (65536, 262144), (1024, 1024 * 50)]
    for h, w in sizes:
        if max(h, w) / min(h, w) > 200:
            continue
        for lo, hi in bounds:
            assert smart_resize(h, w, lo, hi) == vision_process.smart_resize(h, w, 32, lo, hi), (h, w, lo, hi)


def test_over_length_is_length_at_or_over_the_limit() -> None:
    import numpy as np

    from vlmdata.models.qwen import over_length

    table = [(0, 1, False), (4095, 4096, False), (4096, 4096, True), (4097, 4096, True), (1, 1, True)]
    for length, limit, expected in table:
        assert over_length(length, limit) is expected, (length, limit)
    lengths = np.array([0, 4095, 4096, 9000, -1])
    assert over_length(lengths, 4096).tolist() == [False, False, True, True, False]


def test_metadata_helpers_read_every_stored_form() -> None:
    from vlmdata.models.qwen import metadata_dict, metadata_source, record_metadata, record_source

    stored = '{"_source": "bbu", "max_pixels": 65536}'
    assert metadata_dict(stored) == {"_source": "bbu", "max_pixels": 65536}
    for empty in (None, "", "{}", "not json", "[1, 2]", "3", {}):
        assert metadata_dict(empty) == {}, empty
    in_memory = {"_source": "rru"}
    copy = metadata_dict(in_memory)
    copy["x"] = 1
    assert in_memory == {"_source": "rru"}  # a new dict, never the record's own
    assert record_metadata({"metadata": stored})["max_pixels"] == 65536
    assert record_metadata({}) == {}
    assert record_source({"metadata": stored}, "folder") == "bbu"
    assert record_source({"metadata": in_memory}, "folder") == "rru"
    for no_tag in ('{"_source": ""}', '{"_source": 7}', '{"_sources": "x"}', "{}", None, "{bad"):
        assert metadata_source(no_tag, "folder") == "folder", no_tag


def _defined_functions(names: set[str]) -> dict[str, list[str]]:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found: dict[str, list[str]] = {}
    for folder in ("vlmdata", "plugins"):
        for path in (root / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
                    found.setdefault(node.name, []).append(str(path.relative_to(root)))
    return found


def test_qwen_rules_are_defined_once() -> None:
    """Each rule has one definition: the resize in the contract layer (validation needs it), everything built on
    it in `vlmdata.models.qwen`."""
    homes = {
        "smart_resize": "vlmdata/contract/imagesize.py",
        "checked_resize": "vlmdata/contract/imagesize.py",
        "image_tokens": "vlmdata/models/qwen.py",
        "bound_tokens": "vlmdata/models/qwen.py",
        "effective_pixel_bounds": "vlmdata/models/qwen.py",
        "backend_image_env": "vlmdata/models/qwen.py",
        "over_length": "vlmdata/models/qwen.py",
        "metadata_dict": "vlmdata/models/qwen.py",
        "record_metadata": "vlmdata/models/qwen.py",
        "metadata_source": "vlmdata/models/qwen.py",
        "record_source": "vlmdata/models/qwen.py",
        "record_image_kwargs": "vlmdata/models/qwen.py",
        "record_pixel_bounds": "vlmdata/models/qwen.py",
    }
    found = _defined_functions(set(homes))
    assert {name: paths for name, paths in found.items() if paths != [homes[name]]} == {}
    assert set(found) == set(homes)


def test_the_length_limit_is_compared_in_one_place() -> None:
    """Every `x >= global_max_length` goes through `over_length` (a second copy would drift silently)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]

    def limit(node: ast.AST) -> bool:
        return (isinstance(node, ast.Name) and node.id == "global_max_length") or (
            isinstance(node, ast.Attribute) and node.attr == "global_max_length"
        )

    copies = []
    for folder in ("vlmdata", "plugins"):
        for path in (root / folder).rglob("*.py"):
            if path == root / "vlmdata" / "models" / "qwen.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Compare) and any(map(limit, [node.left, *node.comparators])):
                    copies.append(f"{path.relative_to(root)}:{node.lineno}")
    assert copies == []
