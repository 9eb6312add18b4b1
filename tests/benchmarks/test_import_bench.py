"""`benchmarks/import.py`: a tiny smoke run of the real script (not a timing): the generated COCO file is what
pycocotools reads, the peer and vlmdata produce identical records in both probing modes, and every figure
line is printed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.benchmarks.conftest import run_benchmark

ROOT = Path(__file__).resolve().parents[2]


def test_import_benchmark_smoke(tmp_path: Path) -> None:
    lines = run_benchmark("import.py", ["--images", "40", "--annotations", "300", "--repeats", "1"], tmp_path)
    figures = [line["figure"] for line in lines]
    assert figures[0] == "generated"
    timed = [line for line in lines if line["figure"].startswith("coco import")]
    assert len(timed) == 2 and all(t["identical_records"] and t["annotations"] == 300 for t in timed)
    assert all(t["records"] > 0 and t["ratio"] > 0 for t in timed)
    memory = [line for line in lines if line["figure"].startswith("peak RSS")]
    assert [m["figure"] for m in memory] == [
        "peak RSS, vlmdata coco (no-probe)",
        "peak RSS, peer coco (no-probe)",
        "peak RSS, vlmdata odvg (probe)",
    ]
    assert all(m["full_mib"] > 0 and m["tenth_mib"] > 0 for m in memory)
    assert all(line["machine"] for line in lines)


def test_generated_file_is_what_pycocotools_reads(tmp_path: Path) -> None:
    import importlib.util

    from pycocotools.coco import COCO

    spec = importlib.util.spec_from_file_location("import_bench", ROOT / "benchmarks" / "import.py")
    bench = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(bench)
    coco, odvg = bench.generate(tmp_path, 20, 200)
    api = COCO(str(coco))
    assert len(api.imgs) == 20 and len(api.anns) == 200
    for ann in api.anns.values():
        if ann["segmentation"]:
            assert api.annToMask(ann).sum() > 0
    assert (
        sum(len(json.loads(line)["detection"]["instances"]) for line in odvg.read_text().splitlines()) == 200
    )
