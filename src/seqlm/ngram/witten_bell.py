"""Interpolated Witten-Bell smoothing (Witten & Bell 1991; Chen & Goodman 1998).

    p(w | h) = (c(h w) + N1+(h •) · p(w | h')) / (c(h •) + N1+(h •))

with raw counts at every order, ``N1+(h •)`` the number of distinct words seen
after ``h``, and the uniform distribution 1/V below the unigrams.
"""
from __future__ import annotations

import numpy as np

from seqlm.ngram.counts import NGramCounts
from seqlm.ngram.kneser_ney import InterpolatedModel


class WittenBell(InterpolatedModel):
    """Interpolated Witten-Bell: the weight of the lower order is the number of
    distinct words seen after the context."""

    name = "wb"

    def _counts_for(self, counts: NGramCounts, m: int) -> np.ndarray:
        return counts.unigram.copy() if m == 1 else counts.orders[m].counts

    def _weights(self, m, a, grp, starts):
        seen = (a > 0).astype(np.float64)
        n1p = np.add.reduceat(seen, starts)
        denom = np.add.reduceat(a, starts).astype(np.float64) + n1p
        return a / denom[grp], n1p / denom
