"""The numpy batch path gives exactly the per-record lengths, and leaves every unusual record to that path."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from vlmdata.audit.audit import audit_dataset
from vlmdata.audit.tokens import TokenCounter


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vlmdata.models.tokenizer import build_backend_tokenizer

    out = tmp_path_factory.mktemp("tok-batch")
    build_backend_tokenizer().save(str(out / "tokenizer.json"))
    return out


def _records(n: int, seed: int) -> list[dict]:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_dense import _record  # the random + adversarial dense records

    rng = random.Random(seed)
    out = []
    for i in range(n):
        rec = _record(rng, n_images=1 if i % 7 else 2)
        rec["id"] = f"r{i}"
        rec["source_file"], rec["source_line"] = "x.jsonl", i + 1
        roll = i % 11
        if roll == 1:
            rec["metadata"] = json.dumps({"max_pixels": 100000, "_source": "capped"})
        elif roll == 2:
            rec["messages"] = json.dumps(
                [{"role": "user", "content": "<image>hi 12"}, {"role": "assistant", "content": "ok 7"}]
            )
        elif roll == 3:
            rec["metadata"] = json.dumps({"_template": "source_dense"})
        elif roll == 4 and rec["objects"]:
            rec["objects"][0]["image_index"] = 3  # out of range: the renderer refuses it
        elif roll == 5 and rec["objects"]:
            rec["objects"][0]["desc"] = "类别=5G标签"  # a digit in a desc
        elif roll == 6:
            rec["width"], rec["height"] = 4000, 15  # aspect ratio beyond 200 for the resize
        out.append(rec)
    return out


USER_TEMPLATES = {  # template files of every shape the batch path must take or leave alone
    "user_map": "name: user_map\nsystem: Annotator.\nuser: 'Objects, please. {format}'\nheader: '<OBJECTS>'\n",
    "user_qwen": "name: user_qwen\nuser: 'Objects in {n_images} image(s). {format}'\ntarget: qwen\n",
    "user_domain": "name: user_domain\nuser: 'Parts of {domain}. {format}'\n",
}
BATCH_ENABLED = {"target_dense_bbu": True, "source_dense": True, "grounding": True, "user_map": True}


@pytest.mark.parametrize(
    "template", ["target_dense_bbu", "source_dense", "grounding", "grounding_qwen", *USER_TEMPLATES]
)
def test_batch_equals_per_record(tokenizer_dir: Path, tmp_path: Path, template: str) -> None:
    from vlmdata.audit.batch import BatchSizer
    from vlmdata.io.dataset import save_records
    from vlmdata.render import get_template, use_templates

    if template in USER_TEMPLATES:
        (tmp_path / "t.yaml").write_text(USER_TEMPLATES[template], encoding="utf-8")
        use_templates([tmp_path / "t.yaml"])
    counter = TokenCounter.from_model_dir(tokenizer_dir)
    sizer = BatchSizer(counter, get_template(template), None, (3072, 1048576))
    # the batch path takes object-map templates whose header and prompts are the same for every record
    assert sizer.enabled is BATCH_ENABLED.get(template, False)
    save_records(_records(200, seed=len(template)), tmp_path / "ds")
    cfg = {"model": {"path": str(tokenizer_dir)}, "template": {"name": template}, "global_max_length": 1200}
    fast = audit_dataset(tmp_path / "ds", cfg, counter=TokenCounter.from_model_dir(tokenizer_dir))
    ref = audit_dataset(tmp_path / "ds", cfg, counter=TokenCounter.from_model_dir(tokenizer_dir), batch=False)
    a, b = fast.datasets[0], ref.datasets[0]
    assert a.ids == b.ids and a.sources == b.sources
    assert np.array_equal(a.lengths, b.lengths) and np.array_equal(a.image_tokens, b.image_tokens)
    assert sorted(e["id"] for e in fast.errors) == sorted(e["id"] for e in ref.errors)
    assert {e["code"] for e in fast.errors} >= {"VD431"}
    assert fast.to_dict()["over_limit"] == ref.to_dict()["over_limit"]


def test_batch_takes_ordinary_records(tokenizer_dir: Path, tmp_path: Path) -> None:
    from vlmdata.audit.batch import BatchSizer
    from vlmdata.io.dataset import load_dataset, save_records
    from vlmdata.render import get_template

    recs = _records(80, seed=9)
    ordinary = [r for i, r in enumerate(recs) if i % 7 and i % 11 in (0, 7, 8, 9, 10)]
    save_records(ordinary, tmp_path / "ds")
    table = load_dataset(tmp_path / "ds").data.table
    counter = TokenCounter.from_model_dir(tokenizer_dir)
    sizer = BatchSizer(counter, get_template("target_dense_bbu"), None, (3072, 1048576))
    got, _ = sizer.size(table)
    # adversarial polygons (closing vertex, collinear, collapsing) are left to the per-record path, the rest not
    assert (got > 0).sum() >= len(ordinary) // 3
    assert (got < 0).sum() >= 1
