"""End to end: `vlmdata validate` on a `vlmdata synth --corrupt` set rejects exactly the planted records.

Every planted error line is rejected with (at least) the manifest's code; every planted warning line is kept
with its warning; every clean line is kept without any issue; the Arrow output loads with
`datasets.load_from_disk` and holds exactly the kept records.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

validate = pytest.importorskip("vlmdata.validate")

ALSO_REPORTED = {"image_sizes_differ": ("VD304",)}


def _by_line(path: Path) -> dict[tuple[str, int], dict]:
    out: dict[tuple[str, int], dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        out.setdefault((Path(entry["file"]).name, entry["line"]), entry)
    return out


def test_validate_rejects_exactly_the_planted_records(
    corrupt_set: Path, oracle: ModuleType, tmp_path: Path
) -> None:
    from datasets import load_from_disk

    out = tmp_path / "validated"
    report = validate.validate_files(
        [corrupt_set / "data.jsonl"], out, validate.ValidateOptions(val=[corrupt_set / "val.jsonl"])
    )
    manifest = json.loads((corrupt_set / "corrupt_manifest.json").read_text(encoding="utf-8"))
    rejects = _by_line(out / "rejects.jsonl")
    warnings: dict[tuple[str, int], set[str]] = {}
    for line in (out / "warnings.jsonl").read_text(encoding="utf-8").splitlines():
        w = json.loads(line)
        warnings.setdefault((Path(w["file"]).name, w["line"]), set()).add(w["code"])

    planted = {("data.jsonl", e["line"]): e for e in manifest["entries"]}
    wrong = []
    for key, entry in planted.items():
        if entry["severity"] == "error":
            issues = rejects[key]["issues"] if key in rejects else None
            got = sorted({i["code"] for i in issues if i["severity"] == "error"}) if issues else None
            # each planter breaks exactly one thing: the manifest's code is the only error, except where the
            # contract itself implies a second one (a wider second image also mismatches width/height)
            if got != sorted({entry["code"], *ALSO_REPORTED.get(entry["kind"], ())}):
                wrong.append((entry["kind"], entry["code"], got))
        elif key in rejects or entry["code"] not in warnings.get(key, set()):
            wrong.append((entry["kind"], entry["code"], warnings.get(key), key in rejects))
    assert not wrong, f"planted lines handled differently than the manifest says: {wrong}"
    unexpected_rejects = sorted(set(rejects) - set(planted))
    assert not unexpected_rejects, [rejects[k]["issues"] for k in unexpected_rejects]
    unexpected_warnings = {k: v for k, v in warnings.items() if k not in planted}
    assert not unexpected_warnings

    n_data = len(oracle.read_lines(corrupt_set / "data.jsonl"))
    n_val = len(oracle.read_lines(corrupt_set / "val.jsonl"))
    kept_train = n_data - manifest["errors"]
    files = {Path(f.path).name: f for f in report.files}
    assert files["data.jsonl"].valid == kept_train and files["data.jsonl"].rejected == manifest["errors"]
    assert files["val.jsonl"].valid == n_val and files["val.jsonl"].rejected == 0

    train = load_from_disk(str(out / "data"))
    val = load_from_disk(str(out / "val"))
    assert len(train) == kept_train and len(val) == n_val
    error_lines = {e["line"] for e in manifest["entries"] if e["severity"] == "error"}
    assert sorted(train["source_line"]) == [n for n in range(1, n_data + 1) if n not in error_lines]
    clean = {r["id"]: r for r in oracle.clean_records(corrupt_set) if "id" in r}
    for row in train:
        rec = clean.get(row["id"])
        if rec is None:
            continue
        assert (row["width"], row["height"]) == (rec.get("width"), rec.get("height"))
        assert len(row["objects"]) == len(rec.get("objects", []))
        for got, want in zip(row["objects"], rec.get("objects", []), strict=True):
            assert got["desc"] == want["desc"] and got["points"] == want[got["kind"]]


def test_no_images_set_validates_without_image_checks(tmp_path: Path) -> None:
    from vlmdata.synth import generate

    generate(tmp_path / "s", 40, seed=9, corrupt=1, images=False, max_objects=20)
    out = tmp_path / "v"
    report = validate.validate_files(
        [tmp_path / "s/data.jsonl"], out, validate.ValidateOptions(image_check=False)
    )
    manifest = json.loads((tmp_path / "s/corrupt_manifest.json").read_text(encoding="utf-8"))
    rejects = _by_line(out / "rejects.jsonl")
    errors = {("data.jsonl", e["line"]): e["code"] for e in manifest["entries"] if e["severity"] == "error"}
    assert set(rejects) == set(errors)
    for key, code in errors.items():
        got = {i["code"] for i in rejects[key]["issues"] if i["severity"] == "error"}
        assert got == {code}, (key, code, rejects[key]["issues"])
    assert report.files[0].valid == 40 + manifest["warnings"]


@pytest.mark.slow
def test_clean_synthetic_data_validates_clean_at_a_size_that_used_to_collide(tmp_path: Path) -> None:
    """n = 20,000 (seed 0) once gave 7 duplicate derived ids: identical id-less text chats."""
    from vlmdata.synth import generate

    data = tmp_path / "synth"
    generate(data, 20_000, seed=0, images=False)
    report = validate.validate_files(
        [data / "data.jsonl"], tmp_path / "validated", validate.ValidateOptions(image_check=False)
    )
    assert report.total("lines") == 20_000
    rejects = (tmp_path / "validated" / "rejects.jsonl").read_text(encoding="utf-8")
    assert report.total("rejected") == 0, rejects[:2000]
    assert "VD500" not in (tmp_path / "validated" / "warnings.jsonl").read_text(encoding="utf-8")
