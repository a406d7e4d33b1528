"""Interpolated Kneser-Ney, with one discount per order or three (modified KN).

For an m-gram ``h w`` with (adjusted) count ``a(h w)``:

    p(w | h) = (a(h w) - D_m(a(h w))) / Σ_v a(h v)  +  γ(h) · p(w | h')
    γ(h)     = Σ_j D_m(j) · N_j(h •) / Σ_v a(h v)
    p(w)     = (a(w) - D_1(a(w))) / Σ_v a(v)  +  γ(ε) / V          (uniform below unigrams)

Adjusted counts (Kneser & Ney 1995; Chen & Goodman 1998, eq. 26): the highest
order uses raw counts; a lower-order m-gram uses its continuation count
N1+(• g), the number of distinct words seen before it (``<s>`` included),
except an m-gram that begins with ``<s>``: nothing can precede it, so it keeps
its raw count. Discounts come from the count-of-counts n_j of the adjusted
counts of each order:

    KN:   D = n1 / (n1 + 2 n2)
    MKN:  Y = n1 / (n1 + 2 n2),  D1 = 1 - 2Y n2/n1,  D2 = 2 - 3Y n3/n2,  D3+ = 3 - 4Y n4/n3

This is exactly what KenLM's ``lmplz`` builds (interpolated, unpruned, the
uniform distribution over the vocabulary — ``<unk>`` included, ``<s>``
excluded — below the unigrams).
"""
from __future__ import annotations

import warnings

import numpy as np

from seqlm.ngram.base import BackoffModel
from seqlm.ngram.counts import NGramCounts, group


def count_of_counts(a: np.ndarray) -> np.ndarray:
    """n_0 … n_4: how many entries have adjusted count j (j = 0 … 4)."""
    return np.bincount(np.minimum(a, 5), minlength=6)[:5]


class InterpolatedModel(BackoffModel):
    """Shared machinery for interpolated models: subclasses give, per order,
    the counts to use and the (undiscounted-part, γ) estimate per context."""

    def _counts_for(self, counts: NGramCounts, m: int) -> np.ndarray:
        raise NotImplementedError

    def _weights(self, m: int, a: np.ndarray, grp: np.ndarray, starts: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(p_uninterp per entry, γ per context) for order ``m`` given its counts."""
        raise NotImplementedError

    def _estimate(self, counts: NGramCounts) -> None:
        N, V, B = self.order, self.V, self.V + 1
        a = {m: self._counts_for(counts, m) for m in range(1, N + 1)}
        self._prepare(counts, a)
        keys, logp, logbow = {}, {}, {}
        # Order 1: one "context" (the empty one), interpolated with uniform 1/V.
        a1 = a[1].copy()
        a1[V] = 0
        one_context = np.zeros(V, dtype=np.int64), np.zeros(1, dtype=np.int64)
        pu, gamma0 = self._weights(1, a1[:V], *one_context)
        p1 = np.zeros(B)
        p1[:V] = pu + gamma0[0] / V
        with np.errstate(divide="ignore"):           # log 0 = -inf is meant (<s>, γ = 0)
            logp[1] = np.log(p1)                      # <s>: -inf, never predicted
            p_lower = p1
            for m in range(2, N + 1):
                o = counts.orders[m]
                ctx, starts, grp = group(o.keys // B)
                pu, gamma = self._weights(m, a[m], grp, starts)
                p = pu + gamma[grp] * p_lower[o.suffix]   # interpolate with the suffix's p
                keys[m], logp[m] = o.keys, np.log(p)
                bow = np.zeros(counts.size(m - 1))
                bow[ctx] = np.log(gamma)                   # backoff form: bow(h) = γ(h)
                logbow[m - 1] = bow
                p_lower = p
        self._set_tables(keys, logp, logbow)

    def _prepare(self, counts: NGramCounts, a: dict) -> None:
        """Hook run once before estimation (discounts from count-of-counts)."""


class KneserNey(InterpolatedModel):
    """Interpolated Kneser-Ney with one discount per order, D = n1 / (n1 + 2 n2)."""

    name = "kn"
    DEFAULT_DISCOUNT = 0.75   # used when n1 or n2 is 0 (tiny corpora); Ney et al. (1994)

    def _counts_for(self, counts: NGramCounts, m: int) -> np.ndarray:
        if m == self.order:
            return counts.unigram.copy() if m == 1 else counts.orders[m].counts
        return counts.continuation(m)

    def _discounts_from(self, m: int, n: np.ndarray) -> np.ndarray:
        """D(j) for j = 0, 1, 2, 3+ from count-of-counts n[0..4]."""
        n1, n2 = int(n[1]), int(n[2])
        if n1 == 0 or n2 == 0:
            warnings.warn(f"Kneser-Ney: {m}-gram count-of-counts n1={n1}, n2={n2} leave the "
                          f"discount undefined; using D = {self.DEFAULT_DISCOUNT}", stacklevel=5)
            d = self.DEFAULT_DISCOUNT
        else:
            d = n1 / (n1 + 2.0 * n2)
        return np.array([0.0, d, d, d])

    def _prepare(self, counts: NGramCounts, a: dict) -> None:
        self.discounts = {}
        for m in range(1, self.order + 1):
            am = a[m][: self.V] if m == 1 else a[m]
            self.discounts[m] = self._discounts_from(m, count_of_counts(am))

    def _weights(self, m, a, grp, starts):
        D = self.discounts[m]
        d = D[np.minimum(a, 3)]
        denom = np.add.reduceat(a, starts).astype(np.float64)
        pu = (a - d) / denom[grp]
        gamma = np.add.reduceat(d, starts) / denom
        return pu, gamma

    @property
    def discount_table(self) -> dict:
        """{order: [D1, D2, D3+]} as fitted."""
        return {m: [float(x) for x in D[1:]] for m, D in self.discounts.items()}


class ModifiedKneserNey(KneserNey):
    """Modified interpolated Kneser-Ney (Chen & Goodman): D1, D2, D3+ per order.

    The default n-gram of seqlm and the baseline of the chapter comparison;
    equal to KenLM ``lmplz`` (unpruned) on the same data.
    """

    name = "mkn"
    # When n1, n2 or n3 is 0 or a D_j leaves [0, j] (tiny or artificial data, where KenLM
    # stops with an error): one discount n1/(n1 + 2 n2) for all three if defined, else these.
    DEFAULT_DISCOUNTS = (0.5, 1.0, 1.5)

    def _discounts_from(self, m: int, n: np.ndarray) -> np.ndarray:
        n1, n2, n3, n4 = (int(x) for x in n[1:5])
        if min(n1, n2, n3) > 0:
            Y = n1 / (n1 + 2.0 * n2)
            D = np.array([0.0, 1 - 2 * Y * n2 / n1, 2 - 3 * Y * n3 / n2, 3 - 4 * Y * n4 / n3])
            if all(0.0 <= D[j] <= j for j in (1, 2, 3)):
                return D
            why = f"give discounts {D[1]:.3g}, {D[2]:.3g}, {D[3]:.3g} outside [0, j]"
        else:
            why = "leave a discount undefined"
        if n1 > 0 and n2 > 0:       # the one-discount estimate is still defined: use it for all
            d = n1 / (n1 + 2.0 * n2)
            fallback, D = f"D1 = D2 = D3+ = n1/(n1+2 n2) = {d:.4g}", np.array([0.0, d, d, d])
        else:
            fallback = f"D1, D2, D3+ = {self.DEFAULT_DISCOUNTS}"
            D = np.array((0.0,) + self.DEFAULT_DISCOUNTS)
        warnings.warn(f"modified Kneser-Ney: {m}-gram count-of-counts n1..n4 = {n1}, {n2}, {n3}, "
                      f"{n4} {why}; using {fallback}", stacklevel=5)
        return D
