"""Benchmark: `vlmdata audit` against ms-swift's full qwen3_vl template encode of the same records.

    python benchmarks/audit.py [--quick] [--records N] [--peer N] [--model DIR]

Records follow the validate benchmark's mix (5–60 objects each: 60% boxes, 25% polygons, 15% lines, BBU-style
descs) on real-size JPEG images of 1024–2048 px. In the same run it measures:
- `vlmdata_audit`: `audit_dataset` over N records from an Arrow dataset on disk, cold caches (a fresh token
  counter per round);
- `ms_swift_encode`: `template.encode` of the first `--peer` records (image decode + resize + processor +
  tokenizer), the way training encodes them — interleaved with the audit rounds, since the box is shared;
- `vlmdata_audit_tokenizer_only`: render + tokenizer on every target (no memo, no dense fast path) on up to
  1000 records, against the fast path on the same records;
and asserts that the audited length equals `len(input_ids)` of ms-swift's encode on every peer record, and that
the fast counter equals the tokenizer on every target. One JSON line per figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

CATS = ["BBU设备", "RRU设备", "挡风板", "螺丝", "光纤", "电源线", "标签", "接地线"]
BRANDS = ["华为", "中兴", "爱立信", "诺基亚"]
SIZES = [(1024, 768), (1280, 1024), (1920, 1080), (2048, 1536), (1536, 2048)]
TEMPLATE = {"name": "target_dense_bbu", "min_pixels": 3136, "max_pixels": 1048576}


def emit(**fields: object) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def _obj(rng: random.Random, w: int, h: int) -> dict:
    desc = f"类别={rng.choice(CATS)},品牌={rng.choice(BRANDS)},可见性={rng.choice(['完整', '部分'])}"
    x, y = rng.uniform(0, w - 120), rng.uniform(0, h - 120)
    r = rng.random()
    if r < 0.6:
        kind, pts = "bbox_2d", [x, y, x + rng.uniform(5, 110), y + rng.uniform(5, 110)]
    elif r < 0.85:
        kind, pts = (
            "poly",
            [v for _ in range(rng.randint(3, 8)) for v in (x + rng.uniform(0, 110), y + rng.uniform(0, 110))],
        )
    else:
        kind, pts = (
            "line",
            [v for _ in range(rng.randint(2, 6)) for v in (x + rng.uniform(0, 110), y + rng.uniform(0, 110))],
        )
    return {
        "desc": desc,
        "kind": kind,
        "points": [round(v, 1) for v in pts],
        "image_index": 0,
        "attributes": None,
        "metadata": None,
    }


def make_images(folder: Path, per_size: int = 2) -> dict[tuple[int, int], list[str]]:
    from PIL import Image

    out: dict[tuple[int, int], list[str]] = {}
    for w, h in SIZES:
        for k in range(per_size):
            noise = Image.effect_noise((w // 4, h // 4), 40 + 10 * k).convert("RGB").resize((w, h))
            path = folder / f"img_{w}x{h}_{k}.jpg"
            noise.save(path, quality=90)
            out.setdefault((w, h), []).append(str(path))
    return out


def make_records(n: int, images: dict[tuple[int, int], list[str]], seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    recs = []
    for i in range(n):
        w, h = rng.choice(SIZES)
        recs.append(
            {
                "id": f"r{i:07d}",
                "images": [rng.choice(images[(w, h)])],
                "width": w,
                "height": h,
                "objects": [_obj(rng, w, h) for _ in range(rng.randint(5, 60))],
                "summary": None,
                "messages": None,
                "metadata": "{}",
                "source_file": "bench.jsonl",
                "source_line": i + 1,
            }
        )
    return recs


def swift_template(model_dir: Path):
    from qwen_vl_utils import vision_process
    from swift import get_processor, get_template
    from swift.model.models.qwen import patch_qwen_vl_utils

    from vlmdata.models.qwen import backend_image_env

    os.environ.update(backend_image_env(TEMPLATE))
    processor = get_processor(str(model_dir), model_type="qwen3_vl", check_model=False)
    if hasattr(vision_process, "_patch"):
        del vision_process._patch
    patch_qwen_vl_utils(vision_process)
    template = get_template(processor, template_type="qwen3_vl")
    template.set_mode("train")
    return template


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer records (CI smoke run)")
    ap.add_argument("--records", type=int, default=None)
    ap.add_argument("--peer", type=int, default=None, help="records encoded by ms-swift")
    ap.add_argument("--model", type=Path, default=None, help="model folder (default: build the tiny model)")
    args = ap.parse_args(argv)
    n = args.records or (1000 if args.quick else 5000)
    n_peer = args.peer or (40 if args.quick else 300)

    from vlmdata.audit.audit import audit_dataset
    from vlmdata.audit.tokens import TokenCounter
    from vlmdata.io.dataset import save_records
    from vlmdata.render import build_messages

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model_dir = args.model
        if model_dir is None:
            from vlmdata.models.tiny import build_tiny_model

            model_dir = build_tiny_model(tmp / "model")
        images = make_images(tmp)
        records = make_records(n, images)
        save_records(records, tmp / "ds")
        config = {"model": {"path": str(model_dir)}, "template": TEMPLATE, "global_max_length": 10**6}

        template = swift_template(model_dir)
        peer = records[:n_peer]
        msgs = [build_messages(r, "target_dense_bbu") for r in peer]
        # warm-up both sides (lazy imports, first-call costs)
        audit_dataset([records[:20]], config, counter=TokenCounter.from_model_dir(model_dir))
        template.encode({"messages": msgs[0]})

        # Interleaved rounds: the box is shared, so load swings hit both sides alike. Each round audits every
        # record with a fresh counter (caches start empty) and encodes the next slice of the peer sample.
        rounds = 2 if args.quick else 4
        chunk = -(-n_peer // rounds)
        t_audit = t_peer = 0.0
        n_audit = 0
        encoded = []
        for r in range(rounds):
            counter = TokenCounter.from_model_dir(model_dir)
            t0 = time.perf_counter()
            report = audit_dataset(tmp / "ds", config, counter=counter)
            t_audit += time.perf_counter() - t0
            n_audit += n
            t0 = time.perf_counter()
            encoded += [template.encode({"messages": m}) for m in msgs[r * chunk : (r + 1) * chunk]]
            t_peer += time.perf_counter() - t0
        assert report.ok and report.count == n
        lengths = report.datasets[0].lengths
        tokens = int(lengths.sum())
        emit(
            figure="vlmdata_audit",
            records=n,
            rounds=rounds,
            seconds_per_round=round(t_audit / rounds, 3),
            records_per_s=round(n_audit / t_audit),
            tokens_per_s=round(tokens * rounds / t_audit),
            mean_length=round(tokens / n),
            tokenizer_calls=counter.calls,
        )
        mismatches = [
            r["id"]
            for r, e, L in zip(peer, encoded, lengths[:n_peer], strict=True)
            if len(e["input_ids"]) != L
        ]
        assert not mismatches, f"audit != ms-swift encode on {mismatches[:5]}"
        emit(
            figure="ms_swift_encode",
            records=n_peer,
            seconds=round(t_peer, 3),
            records_per_s=round(n_peer / t_peer, 2),
            agreement=f"{n_peer}/{n_peer} equal lengths",
        )
        ratio = (n_audit / t_audit) / (n_peer / t_peer)
        emit(
            figure="audit_vs_ms_swift",
            ratio=round(ratio),
            bar=100,
            goal=500,
            machine="2-core CPU dev box, shared with other work",
        )

        # what the memo buys: the same records through render + tokenizer only (a subset, same process)
        subset = records[: min(n, 1000)]
        plain = TokenCounter.from_model_dir(model_dir)
        plain.fast = False
        plain._whole = _NoCache()
        t0 = time.perf_counter()
        report_plain = audit_dataset([subset], config, counter=plain)
        dt_plain = time.perf_counter() - t0
        t0 = time.perf_counter()
        report_fast = audit_dataset([subset], config, counter=TokenCounter.from_model_dir(model_dir))
        dt_fast = time.perf_counter() - t0
        assert (report_plain.datasets[0].lengths == report_fast.datasets[0].lengths).all()
        assert (report_fast.datasets[0].lengths == lengths[: len(subset)]).all()
        emit(
            figure="vlmdata_audit_tokenizer_only",
            records=len(subset),
            records_per_s=round(len(subset) / dt_plain),
            fast_records_per_s=round(len(subset) / dt_fast),
            memo_speedup=round(dt_plain / dt_fast, 2),
        )

        # the fast counter equals the tokenizer on every target of the peer sample
        targets = [m[-1]["content"] for m in msgs]
        assert counter.verify(targets) == []
    return 0


class _NoCache(dict):
    """A memo that never remembers (the tokenizer-only variant)."""

    def __setitem__(self, key: object, value: object) -> None:
        return None


if __name__ == "__main__":
    sys.exit(main())
