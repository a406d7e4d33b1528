"""Corpora: a frozen vocabulary plus train/valid/test id streams.

``seqlm.data.load_corpus(source)`` (defined in :mod:`seqlm.data.spec`, which builds on
this module) accepts a directory (``[PREFIX.]train.txt`` and its
siblings, PTB and WikiText names included: :mod:`seqlm.data.layout`), a
single UTF-8 text file (split contiguously), explicit ``train=``/``valid=``/
``test=`` files, a ``.toml`` corpus file, a registry name (``ptb``,
``wikitext-2``, ``tiny-shakespeare``) or ``synthetic`` (the built-in corpus
with a known oracle perplexity). The vocabulary is built from the training
split only, with the tokenizer and limits asked for (:mod:`seqlm.data.spec`);
valid/test tokens outside it become ``<unk>`` and are counted as OOV.
"""
from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqlm.data.layout import SPLITS, find_split_files
from seqlm.data.tokenize import Tokenizer
from seqlm.data.vocab import Vocabulary
from seqlm.errors import SeqlmError, SeqlmWarning
from seqlm.metrics import summarize

__all__ = ["Corpus", "SPLITS", "find_split_files", "read_lines", "corpus_from_lines",
           "split_contiguous", "fingerprint"]


@dataclass
class Corpus:
    """Vocabulary and the three id streams (int64 NumPy arrays, ``<eos>`` included)."""

    vocab: Vocabulary
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    name: str = "corpus"
    # Characters per split (each line's characters + 1 for its newline), for bits/char.
    chars: dict = field(default_factory=dict)
    # Tokens per split that were not in the training vocabulary (mapped to <unk>).
    oov: dict = field(default_factory=dict)
    # For corpora with a known answer: oracle natural-log probability of every token.
    oracle_logprobs: dict | None = None
    # Provenance (e.g. the synthetic generator's seed and config).
    meta: dict = field(default_factory=dict)
    # What it was loaded from and how it was cut (a seqlm.data.spec.CorpusSpec), when known.
    spec: object = None

    @property
    def level(self) -> str:
        return self.vocab.level

    def split(self, name: str) -> np.ndarray:
        if name not in SPLITS:
            raise SeqlmError(f"unknown split {name!r} (choose from {', '.join(SPLITS)})")
        return getattr(self, name)

    def oracle_ppl(self, split: str) -> float | None:
        if not self.oracle_logprobs or split not in self.oracle_logprobs:
            return None
        return summarize(self.oracle_logprobs[split], "sentence").ppl

    @property
    def fingerprint(self) -> str:
        """Vocabulary and id streams hashed (see :func:`fingerprint`)."""
        if "_fingerprint" not in self.__dict__:
            self.__dict__["_fingerprint"] = fingerprint(self)
        return self.__dict__["_fingerprint"]

    def record(self) -> dict:
        """The spec with what loading it gave (fingerprint, sizes): what a checkpoint
        stores to find, and check, its corpus again."""
        d = self.spec.to_dict() if self.spec is not None else {"source": self.name}
        d.update(fingerprint=self.fingerprint, vocab_size=len(self.vocab),
                 tokens={s: int(self.split(s).size) for s in SPLITS})
        return d

    def info(self) -> dict:
        """The statistics ``seqlm data info`` prints."""
        tok = self.vocab.tokenizer
        d = {"name": self.name, "level": self.level, "tokenizer": tok.kind, "lowercase": tok.lowercase,
             "min_freq": self.vocab.min_freq, "max_vocab": self.vocab.max_size,
             "vocab_size": len(self.vocab)}
        for s in SPLITS:
            n = int(self.split(s).size)
            d[f"{s}_tokens"] = n
            d[f"{s}_oov"] = int(self.oov.get(s, 0))
            d[f"{s}_oov_rate"] = (self.oov.get(s, 0) / n) if n else 0.0
            if s in self.chars:
                d[f"{s}_chars"] = int(self.chars[s])
            o = self.oracle_ppl(s)
            if o is not None:
                d[f"oracle_{s}_ppl"] = o
        return d


_NUL = "\x00"
# C0 controls but tab, newline and carriage return, and DEL: never words or characters of a text
_CONTROLS = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _control_characters(path: Path, text: str) -> str:
    """A NUL byte means a binary file: refused, naming the line. Other control characters
    (form feeds, escapes) are mapped to a space — said in one note — so that none becomes
    a vocabulary entry or reaches an ARPA file."""
    if _NUL in text:
        line = text.count("\n", 0, text.index(_NUL)) + 1
        raise SeqlmError(f"{path}:{line}: contains a NUL byte (U+0000): not a text file; seqlm reads "
                         "UTF-8 text")
    n = len(_CONTROLS.findall(text))
    if n:
        warnings.warn(f"{path}: {n} control character{'s' * (n > 1)} (U+0001–U+001F but tab/newline, U+007F) "
                      "mapped to spaces", SeqlmWarning, stacklevel=3)
        text = _CONTROLS.sub(" ", text)
    return text


def read_lines(path: str | Path) -> list[str]:
    """Read a UTF-8 text file as lines, with one-line errors that name the file.

    Raises on a missing file, a directory, non-UTF-8 bytes (with the byte
    offset) and a file with no tokens. A last line without a trailing newline
    is still a line (it gets its ``<eos>`` like every other).
    """
    path = Path(path)
    if not path.exists():
        raise SeqlmError(f"{path}: file not found")
    if path.is_dir():
        raise SeqlmError(f"{path}: is a directory, expected a text file")
    if path.is_char_device() or path.is_block_device():  # /dev/zero would never end
        raise SeqlmError(f"{path}: is a device, expected a text file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SeqlmError(f"{path}: not UTF-8 text (invalid byte 0x{data[e.start]:02x} at byte offset "
                         f"{e.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    text = _control_characters(path, text)
    if not text.strip():
        raise SeqlmError(f"{path}: file is empty (no tokens)")
    # Only "\n" ends a line (as in PTB/WikiText readers); str.splitlines would
    # also split on U+2028, form feeds etc. and change the token counts.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the trailing newline ends the last line, it does not start a new one
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def corpus_from_lines(split_lines: dict[str, list[str]], name: str, level: str = "word",
                      min_freq: int = 1, max_size: int | None = None, tokenizer: str | None = None,
                      lowercase: bool = False) -> Corpus:
    """Build the vocabulary from ``train`` and encode all three splits. ``tokenizer``
    is ``whitespace`` (None) or ``words`` at word level (see :mod:`seqlm.data.tokenize`)."""
    tok = Tokenizer.for_level(level, tokenizer, lowercase)
    vocab = Vocabulary.build(split_lines["train"], level, min_freq=min_freq, max_size=max_size,
                             tokenizer=tok)
    arrays = {s: vocab.encode_lines(split_lines[s]) for s in SPLITS}
    chars = {s: sum(len(line) + 1 for line in split_lines[s]) for s in SPLITS}
    oov = {s: vocab.count_oov(split_lines[s]) for s in SPLITS}
    return Corpus(vocab, arrays["train"], arrays["valid"], arrays["test"], name=name,
                  chars=chars, oov=oov)


def split_contiguous(lines: list[str], fractions=(0.9, 0.05, 0.05), where: str = "text"
                     ) -> dict[str, list[str]]:
    """Cut lines into train/valid/test, contiguously, in the given proportions."""
    fr = tuple(float(f) for f in fractions)
    if len(fr) != 3 or any(f <= 0 for f in fr) or abs(sum(fr) - 1.0) > 1e-6:
        raise SeqlmError(f"split fractions must be three positive numbers summing to 1, got {fractions}")
    n = len(lines)
    n_train, n_valid = int(n * fr[0]), int(n * fr[1])
    parts = {"train": lines[:n_train], "valid": lines[n_train:n_train + n_valid],
             "test": lines[n_train + n_valid:]}
    for s, part in parts.items():
        if not any(line.strip() for line in part):
            raise SeqlmError(f"{where}: {n} lines are too few for a "
                             f"{'/'.join(f'{f:g}' for f in fr)} split (the {s} split would be empty)")
    return parts


def fingerprint(corpus) -> str:
    """16 hex digits of SHA-256 over the vocabulary and the three id streams: equal
    fingerprints mean the same tokens, cut the same way, with the same ids."""
    h = hashlib.sha256()
    h.update("\n".join(corpus.vocab.tokens).encode("utf-8"))
    for split in (corpus.train, corpus.valid, corpus.test):
        h.update(split.astype("<i8").tobytes())
    return h.hexdigest()[:16]
