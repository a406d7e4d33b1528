"""What each tokenisation and vocabulary choice gives on a corpus: size and OOV rate.

``seqlm data info`` prints this beside the corpus statistics, so a user picks
``--tokenizer``, ``--lowercase``, ``--max-vocab`` and ``--min-freq`` from
numbers rather than guesses. Every cell builds the vocabulary exactly as
training would (:meth:`Vocabulary.from_counts` on the training counts) and
counts the validation tokens outside it; the rate is over all validation tokens,
``<eos>`` included, as everywhere in seqlm.
"""
from __future__ import annotations

from collections import Counter

from seqlm.data.spec import CorpusSpec, read_splits
from seqlm.data.tokenize import WORD_TOKENIZERS, Tokenizer
from seqlm.data.vocab import EOS, Vocabulary

DEFAULT_CAPS = (10_000, 30_000)


def _counts(lines: list[str], tok: Tokenizer) -> Counter:
    c: Counter = Counter()
    for line in lines:
        c.update(tok(line))
    c[EOS] += len(lines)
    return c


def vocabulary_choices(spec: CorpusSpec, root=None, caps=DEFAULT_CAPS, min_freqs=(2,)) -> list[dict]:
    """One row per (tokenizer, lowercase): ``{"tokenizer", "lowercase", "valid_tokens",
    "cells": [{"min_freq", "max_vocab", "vocab_size", "oov", "oov_rate"}, ...]}``; the
    first cell keeps every training token, then each ``min_freqs``, then each cap
    (with the spec's own min-freq and cap added when they are not among them)."""
    lines, _, resolved = read_splits(spec, root)
    kinds = ("chars",) if resolved.level == "char" else WORD_TOKENIZERS
    limits = [(1, None)] + [(k, None) for k in sorted({*min_freqs, resolved.min_freq} - {1})]
    limits += [(1, n) for n in sorted({*caps, *([resolved.max_vocab] if resolved.max_vocab else [])})]
    if resolved.min_freq != 1 and resolved.max_vocab:
        limits.append((resolved.min_freq, resolved.max_vocab))
    rows = []
    for kind in kinds:
        for lower in (False, True):
            tok = Tokenizer(kind, lower)
            train, valid = _counts(lines["train"], tok), _counts(lines["valid"], tok)
            n_valid = sum(valid.values())
            cells = []
            for min_freq, cap in limits:
                v = Vocabulary.from_counts(train, tok.level, min_freq, cap, tok)
                oov = sum(c for t, c in valid.items() if t not in v)
                cells.append({"min_freq": min_freq, "max_vocab": cap, "vocab_size": len(v),
                              "oov": oov, "oov_rate": oov / n_valid if n_valid else 0.0})
            rows.append({"tokenizer": kind, "lowercase": lower, "valid_tokens": n_valid,
                         "cells": cells,
                         "chosen": kind == (resolved.tokenizer or ("chars" if kind == "chars" else
                                                                   "whitespace"))
                         and lower == resolved.lowercase})
    return rows


def choices_table(rows: list[dict]) -> str:
    """The rows as an aligned text table (``*`` marks the chosen tokenizer and case)."""
    if not rows:
        return ""
    heads = []
    for c in rows[0]["cells"]:
        parts = []
        if c["min_freq"] != 1:
            parts.append(f"min-freq {c['min_freq']}")
        if c["max_vocab"]:
            parts.append(f"max-vocab {c['max_vocab']:,}")
        heads.append(", ".join(parts) or "every training token")
    table = [["  tokenizer", "lowercase", *heads]]
    for r in rows:
        table.append([("* " if r["chosen"] else "  ") + r["tokenizer"], "yes" if r["lowercase"] else "no",
                      *[f"{c['vocab_size']:,} / {100 * c['oov_rate']:.2f}%" for c in r["cells"]]])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    out = ["validation OOV rate by vocabulary choice (vocabulary size / OOV rate):"]
    for row in table:
        out.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(out)
