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
from seqlm.metrics import summarize

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
    # Provenance (e.g. the synthetic generator's seed and config).
    meta: dict = field(default_factory=dict)

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
        raise SeqlmError(f"{path}: file is empty (no tokens)")
    # Only "\n" ends a line (as in PTB/WikiText readers); str.splitlines would
    # also split on U+2028, form feeds etc. and change the token counts.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the trailing newline ends the last line, it does not start a new one
    return [line[:-1] if line.endswith("\r") else line for line in lines]


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


def corpus_from_file(path: str | Path, level: str = "word", split=(0.9, 0.05, 0.05),
                     min_freq: int = 1, max_size: int | None = None, name: str | None = None
                     ) -> Corpus:
    """One raw UTF-8 text file, split contiguously by lines (90/5/5 by default)."""
    lines = read_lines(path)
    parts = split_contiguous(lines, split, str(path))
    return corpus_from_lines(parts, name or Path(path).stem, level, min_freq, max_size)


def load_corpus(source: str | Path, level: str | None = None, seed: int = 0,
                split=(0.9, 0.05, 0.05), min_freq: int = 1, max_size: int | None = None,
                root: str | Path | None = None, **synthetic_kwargs) -> Corpus:
    """A corpus from a directory, a text file, a registry name or ``"synthetic"``.

    ``level`` is ``"word"`` or ``"char"``; ``None`` means the source's default
    (word, except ``tiny-shakespeare``: char). ``seed`` and ``synthetic_kwargs``
    (fields of :class:`~seqlm.data.synthetic.SyntheticConfig`) apply to the
    synthetic corpus only; ``split`` to single files; ``root`` overrides
    ``$SEQLM_DATA`` for registry names.
    """
    from seqlm.data import registry

    source = str(source)
    if synthetic_kwargs and source != "synthetic":
        raise SeqlmError(f"options {sorted(synthetic_kwargs)} apply only to the synthetic corpus")
    if source == "synthetic":
        if level not in (None, "word"):
            raise SeqlmError("the synthetic corpus is word level (its oracle is over words)")
        from seqlm.data.synthetic import synthetic_corpus
        return synthetic_corpus(seed, **synthetic_kwargs)
    path = Path(source).expanduser()
    if path.is_dir():
        return corpus_from_directory(path, level or "word", min_freq, max_size)
    if path.is_file():
        return corpus_from_file(path, level or "word", split, min_freq, max_size)
    if source in registry.REGISTRY:
        ds = registry.get(source)
        directory = registry.locate(source, root)
        if ds.single_file:
            c = corpus_from_file(directory / ds.files[0], level or ds.level, split, min_freq,
                                 max_size, name=ds.name)
        else:
            c = corpus_from_directory(directory, level or ds.level, min_freq, max_size)
            c.name = ds.name
        return c
    if path.suffix or "/" in source or source.startswith("."):
        raise SeqlmError(f"{source}: no such file or directory")
    registry.get(source)  # raises: unknown dataset name, listing the known ones
    raise AssertionError("unreachable")  # pragma: no cover
