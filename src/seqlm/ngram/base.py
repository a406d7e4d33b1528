"""The interface every n-gram model shares, and the backoff-table scorer.

Every model answers one question — the natural-log probability of each token
of an id stream — through :meth:`NGramModel.score`; perplexity comes from
:func:`seqlm.metrics.summarize`, never from here.

What is counted (identical to the neural models, see docs/ngram.md):
every line ends with ``<eos>``, which is predicted and counted; sentence-start
``<s>`` is context only; ``<unk>`` is an ordinary word. In ``sentence`` mode
the context resets to ``<s>`` after every ``<eos>``; in ``stream`` mode it
runs across sentence boundaries. The first token of a split is predicted from
``<s>`` in both modes.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from seqlm.data.vocab import Vocabulary
from seqlm.errors import SeqlmError
from seqlm.metrics import MODES, Evaluation, summarize
from seqlm.ngram.counts import NGramCounts, Padded, chain_ids, pad


def _check_ids(ids, V: int, what: str) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1:
        ids = ids.ravel()
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise SeqlmError(f"{what}: token ids must be integers, got dtype {ids.dtype}")
    ids = ids.astype(np.int64, copy=False)
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        bad = int(ids[(ids < 0) | (ids >= V)][0])
        raise SeqlmError(f"{what}: token id {bad} is outside the vocabulary (size {V})")
    return ids


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise SeqlmError(f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
    return mode


class NGramModel:
    """Base class: fit on an id stream, score id streams. Subclasses implement
    :meth:`_estimate` (from counts) and :meth:`_score_padded`."""

    name = "ngram"

    def __init__(self, order: int = 3):
        if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 1:
            raise SeqlmError(f"n-gram order must be an integer >= 1, got {order!r}")
        self.order = int(order)
        self.vocab: Vocabulary | None = None
        self.fit_mode = "sentence"

    # ----------------------------------------------------------------- fitting
    @property
    def V(self) -> int:
        return len(self.vocab)

    @property
    def bos(self) -> int:
        """The sentence-start id (one past the vocabulary); context only."""
        return self.V

    def fit(self, train_ids, vocab: Vocabulary, mode: str = "sentence") -> "NGramModel":
        """Count n-grams of ``train_ids`` and estimate the model; returns ``self``.

        ``mode="sentence"`` (the default, as KenLM) counts n-grams inside
        sentences only; ``mode="stream"`` counts across ``<eos>`` (the whole
        split is one sentence), the match for stateful neural evaluation.
        """
        self.vocab = vocab
        self.fit_mode = _check_mode(mode)
        ids = _check_ids(train_ids, len(vocab), "training data")
        if ids.size == 0:
            raise SeqlmError("cannot fit an n-gram model on an empty training split")
        counts = NGramCounts(pad(ids, self.bos, vocab.eos_id, mode), self.order, self.V)
        self._estimate(counts)
        return self

    def _estimate(self, counts: NGramCounts) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _require_fitted(self) -> None:
        if self.vocab is None:
            raise SeqlmError(f"{type(self).__name__} is not fitted yet (call .fit first)")

    # ----------------------------------------------------------------- scoring
    def score(self, ids, mode: str | None = None) -> np.ndarray:
        """Natural-log probability of every token of ``ids`` (float64, same length).

        ``mode`` defaults to the mode the model was fitted in; scoring in the
        other mode works but warns (its contexts were never counted).
        """
        return self._score(ids, mode)

    def perplexity(self, ids, mode: str | None = None) -> Evaluation:
        """:class:`seqlm.metrics.Evaluation` of ``ids`` (perplexity, zero-probability count)."""
        mode = _check_mode(mode or self.fit_mode)
        return summarize(self._score(ids, mode), mode)

    def _score(self, ids, mode: str | None) -> np.ndarray:
        self._require_fitted()
        mode = _check_mode(mode or self.fit_mode)
        if mode != self.fit_mode:
            warnings.warn(f"scoring in {mode} mode a model fitted in {self.fit_mode} mode: its "
                          f"counts never saw the contexts this mode asks about; fit with "
                          f"mode={mode!r} to compare like with like", stacklevel=3)
        ids = _check_ids(ids, self.V, "scored data")
        if ids.size == 0:
            return np.zeros(0, dtype=np.float64)
        padded = pad(ids, self.bos, self.vocab.eos_id, mode)
        return self._score_padded(padded)[padded.target]

    def _score_padded(self, padded: Padded) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _padded_queries(self, contexts: np.ndarray, words: np.ndarray) -> tuple[Padded, np.ndarray]:
        """One padded mini-sentence ``<s> context… word`` per query (context rows
        of equal length ``k``); returns it and the positions of the words."""
        n, k = contexts.shape
        P = np.empty((n, k + 2), dtype=np.int64)
        P[:, 0] = self.bos
        P[:, 1:k + 1] = contexts
        P[:, k + 1] = words
        pos = np.broadcast_to(np.arange(k + 2, dtype=np.int64), (n, k + 2)).ravel().copy()
        target = pos > 0
        return Padded(P.ravel(), pos, target), np.arange(n) * (k + 2) + k + 1

    def _context(self, context: Sequence[int]) -> np.ndarray:
        ctx = _check_ids(np.asarray(list(context), dtype=np.int64), self.V, "context")
        return ctx[max(0, ctx.size - (self.order - 1)):]

    def logprob(self, context: Sequence[int], word: int) -> float:
        """ln p(word | context). ``context`` is the preceding ids, most recent last;
        a context shorter than ``order - 1`` is the start of a sentence."""
        return float(self.distribution(context, words=[word])[0])

    def distribution(self, context: Sequence[int], words=None) -> np.ndarray:
        """ln p(w | context) for every ``w`` in the vocabulary (or in ``words``)."""
        self._require_fitted()
        ctx = self._context(context)
        w = np.arange(self.V, dtype=np.int64) if words is None else _check_ids(words, self.V, "word")
        padded, at = self._padded_queries(np.broadcast_to(ctx, (w.size, ctx.size)), w)
        return self._score_padded(padded)[at]

    # -------------------------------------------------------------- reporting
    def num_parameters(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        fitted = f", vocab={len(self.vocab)}" if self.vocab is not None else ", unfitted"
        return f"{type(self).__name__}(order={self.order}{fitted})"


class BackoffModel(NGramModel):
    """A model stored in backoff form, as an ARPA file holds it.

    ``logp[m]`` is ln p(w | h) for every stored m-gram ``h w`` and
    ``logbow[m]`` the ln backoff weight of every stored m-gram as a context
    (0 where it is none). Then, with ``h'`` the context minus its oldest word,

        p(w | h) = p*(h w)                  if ``h w`` is stored,
                 = bow(h) · p(w | h')       otherwise (bow = 1 if ``h`` is not stored).

    Interpolated models (Kneser-Ney, Witten-Bell) are exactly representable
    this way: the stored probability is the interpolated one, bow(h) is the
    interpolation weight γ(h). Loaded ARPA files use the same tables.
    """

    # For a loaded ARPA file: vocabulary ids absent from the file -> <unk> (else None).
    _remap: np.ndarray | None = None

    def _set_tables(self, keys: dict, logp: dict, logbow: dict) -> None:
        # keys[m] (m >= 2) sorted int64; logp[1], logbow[1] dense over V + 1 ids (<s> = V).
        self.keys, self.logp, self.logbow = keys, logp, logbow

    def _score_padded(self, padded: Padded) -> np.ndarray:
        N, B = self.order, self.V + 1
        if self._remap is not None:   # words absent from a loaded ARPA file read as <unk>
            padded = Padded(self._remap[padded.ids], padded.pos, padded.target)
        ids = chain_ids(self.keys, padded, N, B)
        L = padded.ids.size
        # n*: the longest stored n-gram ending at t. Lookups chain through prefixes, so a
        # stored m-gram has all its prefixes stored; a file may lack some suffixes, where
        # KenLM inserts blanks and still finds the longer n-gram, as this does.
        nstar = np.ones(L, dtype=np.int64)
        for m in range(2, N + 1):
            nstar[ids[m] >= 0] = m
        out = np.empty(L, dtype=np.float64)
        for m in range(1, N + 1):
            sel = nstar == m
            out[sel] = self.logp[m][ids[m][sel]]
        # Backoff weights of the stored contexts h_k (k = n* … N-1) that end at t - 1.
        for k in range(1, N):
            use = np.flatnonzero(nstar[1:] <= k) + 1
            h = ids[k][use - 1]
            use, h = use[h >= 0], h[h >= 0]
            out[use] += self.logbow[k][h]
        return out

    def num_parameters(self) -> int:
        V = self.V
        if self._remap is None:
            n = int(np.isfinite(self.logp[1][:V]).sum())
        else:
            n = int((self._remap[:V] == np.arange(V)).sum())   # words present in the file
        n += sum(self.logp[m].size for m in range(2, self.order + 1))
        return n + sum(int(np.count_nonzero(self.logbow[m])) for m in range(1, self.order))
