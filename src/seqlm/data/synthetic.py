"""The built-in corpus with a known answer: sentences drawn from the grammar of
:mod:`seqlm.data.grammar`, with the oracle log-probability of every token.

The grammar's pushdown automaton knows the exact next-token distribution
``p(w_t | w_<t)`` at every position, so the generator records ``log p`` of every
token it emits: the *oracle*. Sentences are independent draws, so the oracle's
``stream`` and ``sentence`` perplexities coincide. The grammar's names
(``SyntheticConfig``, ``Grammar``, ``TOPICS``, ``agreement_distances`` ...) are
importable from here too.

See ``docs/synthetic.md`` for the entropy and the calibration against n-grams.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from seqlm.data.corpus import Corpus
from seqlm.data.grammar import (PL, PREPS, SG, THAT, THE, TOPICS, Grammar, SyntheticConfig,
                                agreement_distances)
from seqlm.data.vocab import EOS, UNK, Vocabulary
from seqlm.errors import SeqlmError
from seqlm.io import write_json, write_text
from seqlm.metrics import summarize

__all__ = ["GENERATOR_VERSION", "PL", "PREPS", "SG", "THAT", "THE", "TOPICS", "Grammar",
           "SyntheticConfig", "SyntheticCorpusData", "SyntheticSplit", "agreement_distances",
           "generate", "synthetic_corpus", "write_corpus"]

GENERATOR_VERSION = 1


@dataclass
class SyntheticSplit:
    ids: np.ndarray       # token ids (indices into Grammar.words), <eos> included
    logprobs: np.ndarray  # oracle natural-log probability of each token
    n_sentences: int


def _generate(grammar: Grammar, rng: np.random.Generator, n_tokens: int,
              states: list | None = None) -> SyntheticSplit:
    """Whole sentences until at least ``n_tokens`` tokens. ``states``, if given, gets
    the automaton state each token was drawn from (the draws are the same either way)."""
    index = {w: i for i, w in enumerate(grammar.words)}
    # Per state: (cdf list, word ids, log-probs, next states), built lazily.
    table: dict = {}
    ids: list[int] = []
    lps: list[float] = []
    n_sent = 0
    chunk = 1 << 16
    u = rng.random(chunk)
    k = 0
    while len(ids) < n_tokens:
        state = grammar.start
        while state is not None:
            entry = table.get(state)
            if entry is None:
                dist = grammar.next_distribution(state)
                words = list(dist)
                probs = [dist[w][0] for w in words]
                entry = (list(np.cumsum(probs)), [index[w] for w in words],
                         [math.log(p) for p in probs], [dist[w][1] for w in words])
                table[state] = entry
            if k == chunk:
                u, k = rng.random(chunk), 0
            cdf, wids, wlps, nexts = entry
            j = min(bisect.bisect_right(cdf, u[k]), len(cdf) - 1)
            k += 1
            if states is not None:
                states.append(state)
            ids.append(wids[j])
            lps.append(wlps[j])
            state = nexts[j]
        n_sent += 1
    return SyntheticSplit(np.array(ids, dtype=np.int64), np.array(lps, dtype=np.float64), n_sent)


@dataclass
class SyntheticCorpusData:
    """The raw output of :func:`generate`: words, per-split ids and oracle log-probs."""

    config: SyntheticConfig
    seed: int
    words: tuple[str, ...]
    splits: dict[str, SyntheticSplit] = field(default_factory=dict)

    def lines(self, split: str) -> list[str]:
        """The split as text lines (``<eos>`` becomes the line end)."""
        words = self.words
        out, cur = [], []
        for i in self.splits[split].ids.tolist():
            if i == 0:
                out.append(" ".join(cur))
                cur = []
            else:
                cur.append(words[i])
        return out


def generate(seed: int = 0, config: SyntheticConfig | None = None) -> SyntheticCorpusData:
    """Generate train/valid/test deterministically from ``seed``.

    Each split has its own stream ``SeedSequence([seed, k])`` so changing the
    training size leaves valid/test unchanged.
    """
    config = config or SyntheticConfig()
    grammar = Grammar(config)
    data = SyntheticCorpusData(config, int(seed), grammar.words)
    for k, split in enumerate(("train", "valid", "test")):
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), k]))
        data.splits[split] = _generate(grammar, rng, getattr(config, f"{split}_tokens"))
    return data


def synthetic_corpus(seed: int = 0, config: SyntheticConfig | None = None, **overrides):
    """The synthetic language as a :class:`~seqlm.data.corpus.Corpus` with oracle log-probs.

    ``overrides`` set :class:`SyntheticConfig` fields (e.g. ``train_tokens=20_000``).
    """

    if overrides:
        base = (config or SyntheticConfig()).to_dict()
        unknown = sorted(set(overrides) - set(base))
        if unknown:
            raise SeqlmError(f"synthetic corpus: unknown option {unknown[0]!r} "
                             f"(known: {', '.join(base)})")
        base.update(overrides)
        config = SyntheticConfig(**base)
    data = generate(seed, config)
    words = data.words  # index 0 is <eos>
    # Frozen vocabulary: <unk>, <eos>, then the language's words by training
    # frequency (ties in lexicon order); words absent from train still get an id.
    train_counts = np.bincount(data.splits["train"].ids, minlength=len(words))
    order = sorted(range(1, len(words)), key=lambda i: (-train_counts[i], i))
    tokens = [UNK, EOS] + [words[i] for i in order]
    counts = [0, int(train_counts[0])] + [int(train_counts[i]) for i in order]
    vocab = Vocabulary(tokens, "word", counts)
    remap = np.zeros(len(words), dtype=np.int64)
    remap[0] = vocab.eos_id
    for i in order:
        remap[i] = vocab.index(words[i])
    word_len = np.array([0] + [len(w) + 1 for w in words[1:]], dtype=np.int64)  # word + space/newline
    arrays, chars = {}, {}
    for s, sp in data.splits.items():
        arrays[s] = remap[sp.ids]
        # Each word is followed by a space or (the last one) the newline; <eos> adds nothing,
        # except an empty line would add its newline (never produced: every sentence has words).
        chars[s] = int(word_len[sp.ids].sum())
    corpus = Corpus(vocab, arrays["train"], arrays["valid"], arrays["test"], name="synthetic",
                    chars=chars, oov={s: 0 for s in arrays},
                    oracle_logprobs={s: sp.logprobs for s, sp in data.splits.items()})
    corpus.meta = {"generator": "seqlm.synthetic", "generator_version": GENERATOR_VERSION,
                   "seed": int(seed), "config": data.config.to_dict(),
                   "sentences": {s: sp.n_sentences for s, sp in data.splits.items()}}
    return corpus


def write_corpus(out_dir, seed: int = 0, config: SyntheticConfig | None = None):
    """Write ``train.txt``, ``valid.txt``, ``test.txt`` and ``oracle.json`` to ``out_dir``.

    ``oracle.json`` holds the per-split oracle perplexity (and mean
    nats/token), the generator version, seed and config. Each file is written
    atomically. ``seqlm.data.load_corpus(out_dir)`` reads the text back.
    """
    from pathlib import Path


    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SeqlmError(f"{out}: exists and is not a directory")
    data = generate(seed, config)
    oracle = {"kind": "seqlm.synthetic_oracle", "schema_version": 1,
              "generator_version": GENERATOR_VERSION, "seed": int(seed),
              "config": data.config.to_dict(), "splits": {}}
    for s, sp in data.splits.items():
        write_text(out / f"{s}.txt", "".join(line + "\n" for line in data.lines(s)))
        ev = summarize(sp.logprobs, "sentence")
        oracle["splits"][s] = {"tokens": ev.tokens, "sentences": sp.n_sentences,
                               "nll_nats": ev.nll, "mean_nll_nats": ev.mean_nll, "ppl": ev.ppl}
    write_json(out / "oracle.json", oracle)
    return out
