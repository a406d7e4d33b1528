"""Corpora: a frozen vocabulary plus train/valid/test id streams.

``load_corpus(source)`` accepts a directory (PTB or WikiText layout), a
single UTF-8 text file (split contiguously), a registry name (``ptb``,
``wikitext-2``, ``tiny-shakespeare``) or ``synthetic`` (the built-in corpus
with a known oracle perplexity). The vocabulary is built from the training
split only; valid/test tokens outside it become ``<unk>`` and are counted as
OOV.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqlm.data.vocab import Vocabulary, tokenize_line
from seqlm.errors import SeqlmError

SPLITS = ("train", "valid", "test")

# File names per split, in the order they are tried.
LAYOUTS = {
    "ptb": {s: f"ptb.{s}.txt" for s in SPLITS},
    "plain": {s: f"{s}.txt" for s in SPLITS},
    "wikitext": {s: f"wiki.{s}.tokens" for s in SPLITS},
}


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
        lp = np.asarray(self.oracle_logprobs[split], dtype=np.float64)
        return float(np.exp(-lp.mean()))

    def info(self) -> dict:
        """The statistics ``seqlm data info`` prints."""
        d = {"name": self.name, "level": self.level, "vocab_size": len(self.vocab)}
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
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SeqlmError(f"{path}: not UTF-8 text (invalid byte 0x{data[e.start]:02x} at byte offset "
                         f"{e.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise SeqlmError(f"{path}: file is empty")
    return text.splitlines()


def _count_oov(lines: list[str], vocab: Vocabulary) -> int:
    return sum(1 for line in lines for t in tokenize_line(line, vocab.level) if t not in vocab)


def corpus_from_lines(split_lines: dict[str, list[str]], name: str, level: str = "word",
                      min_freq: int = 1, max_size: int | None = None) -> Corpus:
    """Build the vocabulary from ``train`` and encode all three splits."""
    vocab = Vocabulary.build(split_lines["train"], level, min_freq=min_freq, max_size=max_size)
    arrays = {s: vocab.encode_lines(split_lines[s]) for s in SPLITS}
    chars = {s: sum(len(line) + 1 for line in split_lines[s]) for s in SPLITS}
    oov = {s: _count_oov(split_lines[s], vocab) for s in SPLITS}
    return Corpus(vocab, arrays["train"], arrays["valid"], arrays["test"], name=name,
                  chars=chars, oov=oov)


def find_split_files(directory: str | Path) -> dict[str, Path]:
    directory = Path(directory)
    if not directory.is_dir():
        raise SeqlmError(f"{directory}: directory not found")
    for layout in LAYOUTS.values():
        files = {s: directory / f for s, f in layout.items()}
        if files["train"].exists():
            missing = [str(p) for p in files.values() if not p.exists()]
            if missing:
                raise SeqlmError(f"{directory}: missing split file {missing[0]}")
            return files
    names = ", ".join(layout["train"] for layout in LAYOUTS.values())
    raise SeqlmError(f"{directory}: no training file found (looked for {names})")


def corpus_from_directory(directory: str | Path, level: str = "word", min_freq: int = 1,
                          max_size: int | None = None) -> Corpus:
    """A directory in PTB (``ptb.train.txt``), plain (``train.txt``) or WikiText
    (``wiki.train.tokens``) layout."""
    files = find_split_files(directory)
    lines = {s: read_lines(p) for s, p in files.items()}
    return corpus_from_lines(lines, Path(directory).name or str(directory), level, min_freq, max_size)
