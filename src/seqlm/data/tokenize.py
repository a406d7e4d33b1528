"""Tokenisers: how a line of text becomes tokens (before ``<eos>`` is appended).

One :class:`Tokenizer` is saved inside every vocabulary file, so a model and
the text it scores are always cut the same way, whichever model it is (n-gram
or neural).

============  =========================================================================
``whitespace``  split on whitespace only (the default): right for pre-tokenised corpora
                such as PTB and WikiText, where ``said ,`` is already two tokens
``words``       Unicode-aware: runs of letters/digits (``\\w``, any script) are words,
                numbers keep their decimal point or thousands separator (``3.14``,
                ``1,000``), apostrophes and hyphens inside a word keep it whole
                (``don't``, ``well-known``), every other non-space character is a token
                of its own (``said,`` → ``said`` ``,``)
``chars``       character level: every character of the line, spaces included
============  =========================================================================

``lowercase`` folds case (``str.lower``) before splitting. A stray ``\\r`` of a
CRLF line end is never part of a token.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from seqlm.errors import SeqlmError

WORD_TOKENIZERS = ("whitespace", "words")

# A number (digits with inner "." or "," groups), or a word (letters/digits/underscore
# with inner apostrophes or hyphens), or any single character that is neither a word
# character nor a space. \w is Unicode-aware in Python 3 str patterns.
_WORDS = re.compile(r"\d+(?:[.,]\d+)*(?!\w)|\w+(?:['’\-]\w+)*|[^\w\s]")

# Detokenisation of the `words` tokenizer's output: no space before these, none after the
# opening ones (quotes are left spaced: whether a quote opens or closes is not in the token).
_NO_SPACE_BEFORE = set(".,;:!?%)]}…")
_NO_SPACE_AFTER = set("([{¿¡")


@dataclass(frozen=True)
class Tokenizer:
    """``kind`` is ``whitespace``, ``words`` (word level) or ``chars`` (character level)."""

    kind: str = "whitespace"
    lowercase: bool = False

    def __post_init__(self) -> None:
        if self.kind not in (*WORD_TOKENIZERS, "chars"):
            raise SeqlmError(f"unknown tokenizer {self.kind!r} (choose from "
                             f"{', '.join(WORD_TOKENIZERS)}; character level is --level char)")

    @classmethod
    def for_level(cls, level: str, kind: str | None = None, lowercase: bool = False) -> "Tokenizer":
        """The tokenizer of a vocabulary level; ``kind`` None is the level's default."""
        if level == "char":
            if kind not in (None, "chars"):
                raise SeqlmError(f"--tokenizer {kind} applies to word level, not --level char")
            return cls("chars", lowercase)
        if level != "word":
            raise SeqlmError(f"unknown tokenisation level {level!r} (choose from word, char)")
        return cls(kind or "whitespace", lowercase)

    @property
    def level(self) -> str:
        return "char" if self.kind == "chars" else "word"

    def __call__(self, line: str) -> list[str]:
        """Tokens of one line, without its ``<eos>``."""
        line = line.rstrip("\r\n")
        if self.lowercase:
            line = line.lower()
        if self.kind == "whitespace":
            return line.split()
        if self.kind == "words":
            return _WORDS.findall(line)
        return list(line)

    def join(self, tokens: list[str]) -> str:
        """Tokens of one line back to readable text (exact for ``chars`` and ``whitespace``
        up to spacing; ``words`` re-attaches punctuation)."""
        if self.kind == "chars":
            return "".join(tokens)
        if self.kind == "whitespace":
            return " ".join(tokens)
        out: list[str] = []
        for t in tokens:
            if out and t not in _NO_SPACE_BEFORE and out[-1] not in _NO_SPACE_AFTER:
                out.append(" ")
            out.append(t)
        return "".join(out)

    def describe(self) -> str:
        what = {"whitespace": "whitespace-split words", "words": "words and punctuation (Unicode)",
                "chars": "characters"}[self.kind]
        return what + (", lowercased" if self.lowercase else "")
