"""The code registry: ranges, retired codes, positions of unexpected errors."""

from __future__ import annotations

import pytest

from vlmdata import errors
from vlmdata.errors import CODES, RETIRED, at, define, position_of, retire


@pytest.fixture
def registry(monkeypatch):
    # import every codes module first: one first imported under the patch would register into the copy only
    errors.load_all_codes()
    monkeypatch.setattr(errors, "CODES", dict(CODES))
    monkeypatch.setattr(errors, "RETIRED", dict(RETIRED))
    return errors


def test_retired_codes_are_documented_and_never_reused(registry) -> None:
    registry.retire("VD098", "An old guard", "the guarded module always ships with vlmdata.")
    with pytest.raises(ValueError, match="retired"):
        registry.define("VD098", "Something new", "Do this.")
    page = registry.render_errors_markdown()
    assert "| `VD098` | retired | ~~An old guard~~ | No longer raised: the guarded module" in page
    assert registry.retire("VD098", "An old guard", "the guarded module always ships with vlmdata.")
    with pytest.raises(ValueError):
        registry.retire("VD098", "Another meaning", "x")
    with pytest.raises(ValueError, match="defined"):
        registry.retire("VD000", "usage", "x")


def test_code_format_and_ranges() -> None:
    for bad in ("VD8xx", "VD800", "XX001", "VD01"):
        with pytest.raises(ValueError):
            define(bad, "t", "f")
    with pytest.raises(ValueError):
        retire("VD900", "t", "f")
    assert CODES["VD000"].title  # the generic usage code is documented like every other code


def test_at_marks_unexpected_errors_with_the_innermost_position() -> None:
    with pytest.raises(KeyError) as err, at(file="a.jsonl"), at(line=7, record_id="r1"):
        raise KeyError("x")
    where = position_of(err.value)
    assert where is not None and str(where) == "a.jsonl:7 id=r1"
    with pytest.raises(errors.VlmdataError) as known, at(file="a.jsonl"):
        raise errors.VlmdataError("VD101", "bad")
    assert position_of(known.value) is None  # a VlmdataError carries its own location
