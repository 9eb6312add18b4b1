"""Exact token counts of text, fast: memoised pieces split at digits, verified against the tokenizer.

Qwen's pre-tokeniser regex gives every digit (`\\p{N}`) its own pre-token, no other alternative of the regex can
consume a digit, the regex has no look-behind, and BPE never merges across pre-tokens. So for a string
`A d B` (d an ASCII digit): tokens = tokens(A as followed by a digit) + 1 + tokens(B). "A as followed by a
digit" matters only for a trailing whitespace run (the `\\s+(?!\\S)` look-ahead), and equals
`count(A + "0") - 1`. Dense targets are mostly digits, JSON scaffolding and a few distinct descriptions, so
after splitting at digit runs almost every piece is a cache hit and no byte goes through the tokenizer.

The fast path is used only when it is provably the same: the tokenizer uses Qwen's pre-tokeniser (checked on
load), no piece starts with a combining mark (NFC could join it to the digit before), and no added token
contains a digit. Otherwise, or with `exact=True`, the tokenizer counts the whole string. `verify()` checks
both paths agree on any list of strings (the agreement test and the benchmark run it).
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

QWEN_PRETOKENIZE_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
_DIGITS = re.compile(r"[0-9]+")
# characters the memos may hold in total (at most ~128 MB of str); past that they stop growing
_MEMO_CHARS = 32_000_000
_MAX_KEY = 4096  # longer strings (unique chat turns) are counted, not remembered


def _uses_qwen_pretokenizer(spec: dict[str, Any]) -> bool:
    pre = spec.get("pre_tokenizer") or {}
    items = pre.get("pretokenizers") if pre.get("type") == "Sequence" else [pre]
    if not items:
        return False
    split = items[0]
    pattern = (split.get("pattern") or {}).get("Regex")
    if (
        split.get("type") != "Split"
        or pattern != QWEN_PRETOKENIZE_REGEX
        or split.get("behavior") != "Isolated"
    ):
        return False
    rest = items[1:]
    if len(rest) != 1 or rest[0].get("type") != "ByteLevel" or rest[0].get("use_regex", True):
        return False
    model = spec.get("model") or {}
    return model.get("type") == "BPE" and not model.get("dropout")


class TokenCounter:
    """Counts tokens of strings exactly as the model's fast tokenizer would (`add_special_tokens=False`)."""

    def __init__(self, tokenizer: Any, fast: bool) -> None:
        self.tokenizer = tokenizer
        self.fast = fast
        self._whole: dict[str, int] = {}
        self._before_digit: dict[str, int] = {}
        self._memo_chars = 0
        self.calls = 0  # strings the tokenizer actually ran on (for the benchmark)
        self.dense: Any = None  # the DenseCounter built on first use (vlmdata.audit.length)

    @classmethod
    def from_model_dir(cls, model_dir: str | Path) -> TokenCounter:
        from tokenizers import Tokenizer

        from vlmdata.audit import codes
        from vlmdata.errors import Location, VlmdataError

        path = Path(model_dir) / "tokenizer.json"
        if not path.is_file():
            raise VlmdataError(
                codes.NO_TOKENIZER,
                "no tokenizer.json in the model folder",
                where=Location(file=str(model_dir)),
            )
        tokenizer = Tokenizer.from_file(str(path))
        spec = json.loads(path.read_text(encoding="utf-8"))
        added_digit = any(
            any(ch.isdigit() for ch in t.get("content", "")) for t in spec.get("added_tokens", [])
        )
        fast = _uses_qwen_pretokenizer(spec) and not added_digit
        return cls(tokenizer, fast)

    def exact(self, text: str) -> int:
        self.calls += 1
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def cached(self, text: str) -> int:
        """Exact count of a string that repeats (prompts, scaffolding), memoised whole."""
        n = self._whole.get(text)
        if n is None:
            n = self.exact(text)
            if len(text) <= _MAX_KEY and self._memo_chars < _MEMO_CHARS:
                self._whole[text] = n
                self._memo_chars += len(text)
        return n

    def count_before_digit(self, piece: str) -> int:
        """Tokens of a digit-free `piece` when an ASCII digit follows it."""
        n = self._before_digit.get(piece)
        if n is None:
            n = self.exact(piece + "0") - 1
            if len(piece) <= _MAX_KEY and self._memo_chars < _MEMO_CHARS:
                self._before_digit[piece] = n
                self._memo_chars += len(piece)
        return n

    def count(self, text: str) -> int:
        """Exact count; through memoised digit-split pieces when that is provably equal."""
        if not self.fast:
            return self.cached(text)
        pieces = _DIGITS.split(text)
        if len(pieces) == 1:
            return self.cached(text)
        total = len(text) - sum(map(len, pieces))  # one token per ASCII digit
        last = len(pieces) - 1
        for i, piece in enumerate(pieces):
            if not piece:
                continue
            if i and unicodedata.combining(piece[0]):
                return self.exact(text)
            total += self.cached(piece) if i == last else self.count_before_digit(piece)
        return total

    def verify(self, texts: list[str]) -> list[str]:
        """Strings on which the fast count and the tokenizer disagree (empty when all agree)."""
        return [t for t in texts if self.count(t) != self.exact(t)]
