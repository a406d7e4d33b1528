"""The vocabulary: one token ↔ id mapping, built once from training text, frozen.

Conventions (shared by every model in seqlm, see DESIGN.md):

* ``<unk>`` has id 0 and ``<eos>`` id 1. Every line of text ends with ``<eos>``,
  which is predicted and counted. PTB's literal ``<unk>`` token *is* this
  ``<unk>``.
* Other tokens follow by descending training frequency, ties broken by first
  occurrence, so ids are deterministic and frequency-sorted (what an adaptive
  softmax wants).
* Word level splits lines on whitespace; character level makes every character
  of a line (spaces included) a token, and the line end becomes ``<eos>``.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from seqlm.errors import SeqlmError
from seqlm.io import write_json

UNK = "<unk>"
EOS = "<eos>"
SPECIALS = (UNK, EOS)
# Their ids, the same in every vocabulary (DESIGN.md): models and evaluation may
# rely on them without a Vocabulary at hand (e.g. <eos> as start-of-sentence padding).
UNK_ID, EOS_ID = 0, 1
LEVELS = ("word", "char")
SCHEMA_VERSION = 1


def tokenize_line(line: str, level: str) -> list[str]:
    """Tokens of one line *without* its ``<eos>``."""
    line = line.rstrip("\r\n")
    if level == "word":
        return line.split()
    if level == "char":
        return list(line)
    raise SeqlmError(f"unknown tokenisation level {level!r} (choose from {', '.join(LEVELS)})")


class Vocabulary:
    """A frozen token ↔ id mapping. Build with :meth:`build`, persist with :meth:`save`."""

    def __init__(self, tokens: Sequence[str], level: str = "word",
                 counts: Sequence[int] | None = None):
        if level not in LEVELS:
            raise SeqlmError(f"unknown vocabulary level {level!r} (choose from {', '.join(LEVELS)})")
        if tuple(tokens[:2]) != SPECIALS:
            raise SeqlmError(f"a vocabulary must start with {SPECIALS}, got {tuple(tokens[:2])}")
        self._itos: tuple[str, ...] = tuple(tokens)
        self._stoi: dict[str, int] = {t: i for i, t in enumerate(self._itos)}
        if len(self._stoi) != len(self._itos):
            raise SeqlmError("vocabulary has duplicate tokens")
        self.level = level
        self.counts: tuple[int, ...] | None = tuple(int(c) for c in counts) if counts is not None else None

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, lines: Iterable[str], level: str = "word", min_freq: int = 1,
              max_size: int | None = None) -> "Vocabulary":
        """Build from training lines: keep tokens seen ``min_freq`` times or more,
        the ``max_size`` most frequent (specials included in the size)."""
        if min_freq < 1:
            raise SeqlmError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < len(SPECIALS):
            raise SeqlmError(f"max_size must be >= {len(SPECIALS)}, got {max_size}")
        counter: Counter[str] = Counter()
        n_lines = 0
        for line in lines:
            counter.update(tokenize_line(line, level))
            n_lines += 1
        counter[EOS] += n_lines
        return cls.from_counts(counter, level, min_freq, max_size)

    @classmethod
    def from_counts(cls, counter: "Counter[str]", level: str = "word", min_freq: int = 1,
                    max_size: int | None = None) -> "Vocabulary":
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
        return cls(tokens, level, counts)

    # ---------------------------------------------------------------- lookups
    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: str) -> bool:
        return token in self._stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._itos == other._itos and self.level == other.level

    def __hash__(self) -> int:
        return hash((self._itos, self.level))

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)}, level={self.level!r})"

    @property
    def unk_id(self) -> int:
        return UNK_ID

    @property
    def eos_id(self) -> int:
        return EOS_ID

    @property
    def tokens(self) -> tuple[str, ...]:
        return self._itos

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
        level = self.level

        def gen():
            for line in lines:
                for t in tokenize_line(line, level):
                    yield get(t, 0)
                yield eos
        return np.fromiter(gen(), dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> list[str]:
        itos = self._itos
        return [itos[int(i)] for i in ids]

    def detokenize(self, ids: Iterable[int]) -> str:
        """Ids → readable text: ``<eos>`` becomes a newline."""
        toks = self.decode(ids)
        sep = " " if self.level == "word" else ""
        out, line = [], []
        for t in toks:
            if t == EOS:
                out.append(sep.join(line) + "\n")
                line = []
            else:
                line.append(t)
        if line:
            out.append(sep.join(line))
        return "".join(out)

    # ------------------------------------------------------------ comparison
    def diff(self, other: "Vocabulary") -> str | None:
        """``None`` if equal, else one line that says how they differ."""
        if self == other:
            return None
        if self.level != other.level:
            return f"levels differ ({self.level} vs {other.level})"
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
             "tokens": list(self._itos)}
        if self.counts is not None:
            d["counts"] = list(self.counts)
        return d

    @classmethod
    def from_dict(cls, d: dict, where: str = "vocabulary") -> "Vocabulary":
        if not isinstance(d, dict) or d.get("kind") != "seqlm.vocabulary":
            raise SeqlmError(f"{where}: not a seqlm vocabulary file")
        v = d.get("schema_version")
        if v != SCHEMA_VERSION:
            raise SeqlmError(f"{where}: vocabulary schema version {v!r} is not supported "
                             f"(this seqlm reads version {SCHEMA_VERSION})")
        try:
            return cls(d["tokens"], d["level"], d.get("counts"))
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
