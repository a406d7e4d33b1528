"""The vocabulary: one token ↔ id mapping, built once from training text, frozen.

Conventions (shared by every model in seqlm, see DESIGN.md):

* ``<unk>`` has id 0 and ``<eos>`` id 1. Every line of text ends with ``<eos>``,
  which is predicted and counted. PTB's literal ``<unk>`` token *is* this
  ``<unk>``.
* Other tokens follow by descending training frequency, ties broken by first
  occurrence, so ids are deterministic and frequency-sorted (what an adaptive
  softmax wants).
* Word level splits lines with the vocabulary's tokenizer (``whitespace``, the
  default, or ``words``; see :mod:`seqlm.data.tokenize`); character level makes
  every character of a line (spaces included) a token, and the line end becomes
  ``<eos>``. The tokenizer (and case folding) is saved with the vocabulary, so
  whatever reads text through a vocabulary cuts it the way training did.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from seqlm.data.tokenize import Tokenizer
from seqlm.errors import SeqlmError
from seqlm.schema import check_json
from seqlm.io import write_json

UNK = "<unk>"
EOS = "<eos>"
SPECIALS = (UNK, EOS)
# Their ids, the same in every vocabulary (DESIGN.md): models and evaluation may
# rely on them without a Vocabulary at hand (e.g. <eos> as start-of-sentence padding).
UNK_ID, EOS_ID = 0, 1
LEVELS = ("word", "char")
# 2: the tokenizer, case folding and the build settings (min_freq, max_size) are saved.
# Version 1 files (no tokenizer) read as whitespace/chars, not lowercased.
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
# What vocab.json may hold: checked before anything is built from it.
JSON_SCHEMA = {
    "type": "object", "required": ["kind", "schema_version", "level", "tokens"],
    "properties": {
        "kind": {"const": "seqlm.vocabulary"}, "schema_version": {"enum": list(READABLE_VERSIONS)},
        "level": {"enum": list(LEVELS)}, "tokenizer": {"type": ["string", "null"]},
        "lowercase": {"type": "boolean"}, "min_freq": {"type": "integer", "minimum": 1},
        "max_size": {"type": ["integer", "null"], "minimum": 3},
        "tokens": {"type": "array", "minItems": 2, "items": {"type": "string"}},
        "counts": {"type": "array", "items": {"type": "integer", "minimum": 0}},
    },
}


def tokenize_line(line: str, level: str) -> list[str]:
    """Tokens of one line *without* its ``<eos>``, with the level's default tokenizer."""
    return Tokenizer.for_level(level)(line)


class Vocabulary:
    """A frozen token ↔ id mapping. Build with :meth:`build`, persist with :meth:`save`."""

    def __init__(self, tokens: Sequence[str], level: str = "word",
                 counts: Sequence[int] | None = None, tokenizer: Tokenizer | None = None,
                 min_freq: int = 1, max_size: int | None = None):
        if level not in LEVELS:
            raise SeqlmError(f"unknown vocabulary level {level!r} (choose from {', '.join(LEVELS)})")
        tokenizer = tokenizer or Tokenizer.for_level(level)
        if tokenizer.level != level:
            raise SeqlmError(f"tokenizer {tokenizer.kind!r} does not cut {level}-level tokens")
        if tuple(tokens[:2]) != SPECIALS:
            raise SeqlmError(f"a vocabulary must start with {SPECIALS}, got {tuple(tokens[:2])}")
        self._itos: tuple[str, ...] = tuple(tokens)
        self._stoi: dict[str, int] = {t: i for i, t in enumerate(self._itos)}
        if len(self._stoi) != len(self._itos):
            raise SeqlmError("vocabulary has duplicate tokens")
        self.level = level
        self.tokenizer = tokenizer
        # How it was built (saved for the record; the tokens themselves are the vocabulary).
        self.min_freq, self.max_size = int(min_freq), max_size
        self.counts: tuple[int, ...] | None = tuple(int(c) for c in counts) if counts is not None else None

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, lines: Iterable[str], level: str = "word", min_freq: int = 1,
              max_size: int | None = None, tokenizer: Tokenizer | None = None) -> "Vocabulary":
        """Build from training lines: keep tokens seen ``min_freq`` times or more,
        the ``max_size`` most frequent (specials included in the size). ``tokenizer``
        defaults to the level's (whitespace words, or characters)."""
        tokenizer = tokenizer or Tokenizer.for_level(level)
        if min_freq < 1:
            raise SeqlmError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < len(SPECIALS):
            raise SeqlmError(f"max_size must be >= {len(SPECIALS)}, got {max_size}")
        counter: Counter[str] = Counter()
        n_lines = 0
        for line in lines:
            counter.update(tokenizer(line))
            n_lines += 1
        counter[EOS] += n_lines
        return cls.from_counts(counter, level, min_freq, max_size, tokenizer)

    @classmethod
    def from_counts(cls, counter: "Counter[str]", level: str = "word", min_freq: int = 1,
                    max_size: int | None = None, tokenizer: Tokenizer | None = None) -> "Vocabulary":
        # Counter preserves first-insertion order, and sorted() is stable, so ties
        # keep first-occurrence order.
        items = [(t, c) for t, c in counter.items() if t not in SPECIALS and c >= min_freq]
        items.sort(key=lambda tc: -tc[1])
        if max_size is not None:
            items = items[: max_size - len(SPECIALS)]
        kept = {t for t, _ in items}
        unk = counter.get(UNK, 0) + sum(c for t, c in counter.items() if t not in SPECIALS and t not in kept)
        tokens = list(SPECIALS) + [t for t, _ in items]
        counts = [unk, counter.get(EOS, 0)] + [c for _, c in items]
        return cls(tokens, level, counts, tokenizer, min_freq, max_size)

    # ---------------------------------------------------------------- lookups
    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: str) -> bool:
        return token in self._stoi

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Vocabulary) and self._itos == other._itos and self.level == other.level
                and self.tokenizer == other.tokenizer)

    def __hash__(self) -> int:
        return hash((self._itos, self.level, self.tokenizer))

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)}, level={self.level!r}, tokenizer={self.tokenizer.kind!r})"

    @property
    def unk_id(self) -> int:
        return UNK_ID

    @property
    def eos_id(self) -> int:
        return EOS_ID

    @property
    def tokens(self) -> tuple[str, ...]:
        return self._itos

    def tokenize(self, line: str) -> list[str]:
        """One line of text → its tokens (no ``<eos>``), cut as this vocabulary was built."""
        return self.tokenizer(line)

    def count_oov(self, lines: Iterable[str]) -> int:
        """Tokens of ``lines`` outside the vocabulary (they will be read as ``<unk>``)."""
        stoi, tok = self._stoi, self.tokenizer
        return sum(1 for line in lines for t in tok(line) if t not in stoi)

    def index(self, token: str) -> int:
        return self._stoi.get(token, 0)

    def token(self, idx: int) -> str:
        return self._itos[idx]

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Tokens → int64 ids; unknown tokens become ``<unk>``."""
        get = self._stoi.get
        return np.fromiter((get(t, 0) for t in tokens), dtype=np.int64)

    def encode_lines(self, lines: Iterable[str]) -> np.ndarray:
        """Lines of text → one id stream, each line followed by ``<eos>``."""
        get = self._stoi.get
        eos = self.eos_id
        tokenizer = self.tokenizer

        def gen():
            for line in lines:
                for t in tokenizer(line):
                    yield get(t, 0)
                yield eos
        return np.fromiter(gen(), dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> list[str]:
        itos = self._itos
        return [itos[int(i)] for i in ids]

    def detokenize(self, ids: Iterable[int]) -> str:
        """Ids → readable text: ``<eos>`` becomes a newline, tokens are joined as the
        tokenizer would have cut them (see :meth:`Tokenizer.join`)."""
        toks = self.decode(ids)
        join = self.tokenizer.join
        out, line = [], []
        for t in toks:
            if t == EOS:
                out.append(join(line) + "\n")
                line = []
            else:
                line.append(t)
        if line:
            out.append(join(line))
        return "".join(out)

    # ------------------------------------------------------------ comparison
    def diff(self, other: "Vocabulary") -> str | None:
        """``None`` if equal, else one line that says how they differ."""
        if self == other:
            return None
        if self.level != other.level:
            return f"levels differ ({self.level} vs {other.level})"
        if self.tokenizer != other.tokenizer:
            return f"tokenizers differ ({self.tokenizer.describe()} vs {other.tokenizer.describe()})"
        if len(self) != len(other):
            return f"sizes differ ({len(self)} vs {len(other)} tokens)"
        for i, (a, b) in enumerate(zip(self._itos, other._itos)):
            if a != b:
                return f"token {i} differs ({a!r} vs {b!r})"
        return "vocabularies differ"  # pragma: no cover

    def check_same(self, other: "Vocabulary", what: str = "model and corpus") -> None:
        d = self.diff(other)
        if d is not None:
            raise SeqlmError(f"vocabulary mismatch between {what}: {d}")

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        d = {"schema_version": SCHEMA_VERSION, "kind": "seqlm.vocabulary", "level": self.level,
             "tokenizer": self.tokenizer.kind, "lowercase": self.tokenizer.lowercase,
             "min_freq": self.min_freq, "max_size": self.max_size, "tokens": list(self._itos)}
        if self.counts is not None:
            d["counts"] = list(self.counts)
        return d

    @classmethod
    def from_dict(cls, d: dict, where: str = "vocabulary") -> "Vocabulary":
        if not isinstance(d, dict) or d.get("kind") != "seqlm.vocabulary":
            raise SeqlmError(f"{where}: not a seqlm vocabulary file")
        v = d.get("schema_version")
        if v not in READABLE_VERSIONS:
            raise SeqlmError(f"{where}: vocabulary schema version {v!r} is not supported "
                             f"(this seqlm reads versions {', '.join(map(str, READABLE_VERSIONS))})")
        check_json(d, JSON_SCHEMA, where)
        if "counts" in d and len(d["counts"]) != len(d["tokens"]):
            raise SeqlmError(f"{where}: counts has {len(d['counts'])} entries for {len(d['tokens'])} tokens")
        try:
            level = d["level"]
            tokenizer = Tokenizer.for_level(level, d.get("tokenizer"), bool(d.get("lowercase", False)))
            return cls(d["tokens"], level, d.get("counts"), tokenizer, d.get("min_freq", 1),
                       d.get("max_size"))
        except (KeyError, TypeError) as e:
            raise SeqlmError(f"{where}: malformed vocabulary ({e})") from None

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict(), indent=None)

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SeqlmError(f"{path}: vocabulary file not found") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise SeqlmError(f"{path}: not valid JSON ({e})") from None
        return cls.from_dict(d, str(path))
