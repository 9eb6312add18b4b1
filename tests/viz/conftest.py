"""A validated dataset with planted defects, hostile descs and an audit report: the report page's input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

HOSTILE = [
    "</script><script>alert('desc')</script>",
    "<img src=x onerror=alert(1)>",
    '类别=标签,内容="引号"&<b>粗</b>',
    "类别=螺丝,状态=已拧紧 😀",
]


@pytest.fixture(scope="session")
def report_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from PIL import Image

    from vlmdata.audit.audit import audit_dataset
    from vlmdata.models.tokenizer import build_backend_tokenizer
    from vlmdata.synth import generate
    from vlmdata.validate import ValidateOptions, validate_files

    root = tmp_path_factory.mktemp("report")
    generate(root / "synth", 40, seed=5, corrupt=1, min_size=64, max_size=160, max_objects=5)
    # hostile records beside the synthetic ones: markup in descs, a source name with quotes, a tall image
    (root / "hostile").mkdir()
    Image.new("RGB", (30, 400), (90, 160, 90)).save(root / "hostile" / "tall.png")
    lines = [
        {
            "id": f"hostile-{i}",
            "images": ["tall.png"],
            "width": 30,
            "height": 400,
            "objects": [
                {"desc": desc, "bbox_2d": [2, 10 + 60 * i, 28, 60 + 60 * i]},
                {"desc": desc, "line": [1, 5, 29, 395, 29, 395]},
            ],
            "metadata": {"_source": 'src "q" <x>'},
        }
        for i, desc in enumerate(HOSTILE)
    ]
    (root / "hostile" / "data.jsonl").write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8"
    )
    validate_files([root / "synth" / "data.jsonl"], root / "validated", ValidateOptions())
    validate_files([root / "hostile" / "data.jsonl"], root / "hostile_v", ValidateOptions())
    model = root / "tok"
    model.mkdir()
    build_backend_tokenizer().save(str(model / "tokenizer.json"))
    cfg = root / "run.yaml"
    cfg.write_text(f"model: {{path: {model}}}\ndata: {{train: [x]}}\ntemplate: {{name: target_dense_bbu}}\n")
    audit = root / "audit.json"
    audit.write_text(json.dumps(audit_dataset([str(root / "validated")], cfg).to_dict()), encoding="utf-8")
    return {"validated": root / "validated", "hostile": root / "hostile_v", "audit": audit, "root": root}
