"""Maximum likelihood and add-k (Laplace at k = 1) n-gram models.

With ``h`` the last ``N-1`` tokens (fewer at the start of a sentence, where
the context is ``<s> w_1 … w_{i-1}``) and ``c(h •) = Σ_v c(h v)``:

    MLE:    p(w | h) = c(h w) / c(h •)
    add-k:  p(w | h) = (c(h w) + k) / (c(h •) + k V)

MLE gives probability zero to every unseen n-gram (and to every word after an
unseen context); those tokens are counted, and the perplexity is ``inf`` with
a message saying how many there were (see :class:`seqlm.metrics.Evaluation`).
Add-k gives an unseen context the uniform distribution 1/V.
"""
from __future__ import annotations

import numpy as np

from seqlm.errors import SeqlmError
from seqlm.ngram.base import NGramModel
from seqlm.ngram.counts import NGramCounts, Padded, chain_ids, gather, group


class AddK(NGramModel):
    """Add-k smoothing of the order-N relative frequencies (no backoff)."""

    name = "addk"

    def __init__(self, order: int = 3, k: float = 1.0):
        super().__init__(order)
        k = float(k)
        if not k > 0 or not np.isfinite(k):
            raise SeqlmError(f"add-k needs k > 0, got {k} (use MLE for k = 0)")
        self.k = k

    def _estimate(self, counts: NGramCounts) -> None:
        N, B = self.order, self.V + 1
        self.keys = {m: counts.orders[m].keys for m in range(2, N + 1)}
        self.counts = {1: counts.unigram}
        self.context_total = {1: np.array([counts.unigram[: self.V].sum()])}
        for m in range(2, N + 1):
            o = counts.orders[m]
            self.counts[m] = o.counts
            ctx, starts, _ = group(o.keys // B)
            tot = np.zeros(counts.size(m - 1), dtype=np.int64)
            tot[ctx] = np.add.reduceat(o.counts, starts)
            self.context_total[m] = tot

    def _score_padded(self, padded: Padded) -> np.ndarray:
        N = self.order
        ids = chain_ids(self.keys, padded, N, self.V + 1)
        use = np.minimum(padded.pos + 1, N)          # the order of the n-gram that predicts t
        c = np.zeros(padded.ids.size, dtype=np.float64)
        tot = np.zeros(padded.ids.size, dtype=np.float64)
        sel = np.flatnonzero((use == 1) & padded.target)
        c[sel] = self.counts[1][padded.ids[sel]]
        tot[sel] = self.context_total[1][0]
        for m in range(2, N + 1):
            sel = np.flatnonzero(use == m)
            c[sel] = gather(self.counts[m], ids[m][sel])
            tot[sel] = gather(self.context_total[m], ids[m - 1][sel - 1])
        return self._logp(c, tot)

    def _logp(self, c: np.ndarray, tot: np.ndarray) -> np.ndarray:
        return np.log(c + self.k) - np.log(tot + self.k * self.V)

    def num_parameters(self) -> int:
        return int(np.count_nonzero(self.counts[1])) + sum(
            self.counts[m].size for m in range(2, self.order + 1))


class MLE(AddK):
    """Maximum likelihood estimate: relative frequencies, zero for unseen events."""

    name = "mle"

    def __init__(self, order: int = 3):
        NGramModel.__init__(self, order)
        self.k = 0.0

    def _logp(self, c: np.ndarray, tot: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            lp = np.log(c) - np.log(tot)
        lp[c == 0] = -np.inf                          # unseen n-gram or unseen context
        return lp
