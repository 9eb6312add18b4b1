"""The committed JSON Schema is the one the models generate; `vlmdata schema` prints it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from vlmdata.cli import main
from vlmdata.contract.schema import render_schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "contract.schema.json"


def test_committed_schema_is_current() -> None:
    current = render_schema()
    if os.environ.get("VLMDATA_UPDATE_GOLDEN") == "1":
        DOC.write_text(current, encoding="utf-8")
    assert DOC.read_text(encoding="utf-8") == current, (
        "docs/contract.schema.json is stale: run `vlmdata schema > docs/contract.schema.json`"
    )


def test_schema_command_prints_schema(capsys) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["title"] == "vlmdata record (contract v1)"
    assert set(printed["properties"]) == {
        "id",
        "images",
        "width",
        "height",
        "objects",
        "summary",
        "messages",
        "metadata",
    }
    assert printed["additionalProperties"] is False
    obj = printed["$defs"]["Object"]
    assert {"desc", "bbox_2d", "poly", "line", "image_index"} <= set(obj["properties"])
    assert obj["additionalProperties"] is False
