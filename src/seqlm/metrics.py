"""One definition of perplexity, shared by every model in seqlm.

Every language model answers the same question: given an id stream, what is
the natural-log probability of each token? Perplexity is computed once, here,
from that answer:

    ppl = exp( - (1/N) * sum_{i=1..N} log p(w_i | context_i) )

over every token of the split exactly once, ``<eos>`` included, accumulated in
float64. A token with probability zero (log p = -inf, only possible for the
unsmoothed MLE n-gram) makes the perplexity ``inf``; the count of such tokens
is reported rather than hidden, and the finite part is reported beside it.

The perplexity is ``inf`` too, never an ``OverflowError``, when the mean loss is
too large for ``exp`` in float64 (above ~709.8 nats: a diverged model), or when
some log-probabilities are NaN (a model whose numbers overflowed);
:attr:`Evaluation.inf_reason` says which.
"""
from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass

import numpy as np

from seqlm.errors import SeqlmError

MODES = ("stream", "sentence")
LN2 = math.log(2.0)
EXP_MAX = math.log(sys.float_info.max)   # ~709.78: exp of more overflows float64


def safe_exp(x: float) -> float:
    """``exp(x)``, ``inf`` where float64 overflows (``math.exp`` raises there)."""
    return math.exp(x) if x <= EXP_MAX or math.isnan(x) else math.inf


@dataclass(frozen=True)
class Evaluation:
    """Summary of per-token log-probabilities over one split."""

    tokens: int                 # N: every token scored, <eos> included
    nll: float                  # -sum log p, nats (inf if any zero-probability token)
    zero_prob: int              # tokens with p = 0
    mode: str                   # "stream" or "sentence"
    chars: int | None = None    # characters covered, for bits per character
    nll_finite: float | None = None  # -sum log p over the tokens with p > 0
    undefined: int = 0          # tokens whose log p is NaN (a model whose numbers overflowed)

    @property
    def mean_nll(self) -> float:
        return self.nll / self.tokens if self.tokens else float("nan")

    @property
    def ppl(self) -> float:
        if self.zero_prob or self.undefined:
            return float("inf")
        return safe_exp(self.mean_nll)

    @property
    def inf_reason(self) -> str | None:
        """Why the perplexity is infinite, in words; None when it is finite."""
        if self.undefined:
            return (f"{self.undefined} of {self.tokens} tokens have an undefined (NaN) "
                    "log-probability: the model's numbers overflow")
        if self.zero_prob:
            return f"{self.zero_prob} of {self.tokens} tokens had zero probability"
        if not math.isfinite(self.ppl):
            return f"the mean loss, {self.mean_nll:.4g} nats per token, overflows exp() in float64"
        return None

    @property
    def finite_ppl(self) -> float:
        """Perplexity over the tokens with non-zero probability only (MLE lesson)."""
        n = self.tokens - self.zero_prob - self.undefined
        nll = self.nll if self.nll_finite is None else self.nll_finite
        return safe_exp(nll / n) if n else float("nan")

    @property
    def bits_per_token(self) -> float:
        return self.mean_nll / LN2

    @property
    def bits_per_char(self) -> float | None:
        if not self.chars:
            return None
        return self.nll / LN2 / self.chars

    def message(self) -> str:
        """A one-line human summary, saying why if the perplexity is infinite."""
        if self.zero_prob and not self.undefined:
            return (f"perplexity inf: {self.zero_prob} of {self.tokens} tokens had zero "
                    f"probability ({self.mode} mode; {self.finite_ppl:.2f} over the rest)")
        if self.inf_reason:
            return f"perplexity inf: {self.inf_reason} ({self.mode} mode)"
        return f"perplexity {self.ppl:.2f} over {self.tokens} tokens ({self.mode} mode)"

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(ppl=self.ppl, bits_per_token=self.bits_per_token)
        if self.chars:
            d["bits_per_char"] = self.bits_per_char
        return d


def summarize(logprobs, mode: str = "sentence", chars: int | None = None) -> Evaluation:
    """Reduce natural-log probabilities (any array-like) to an :class:`Evaluation`."""
    if mode not in MODES:
        raise SeqlmError(f"mode must be one of {MODES}, got {mode!r}")
    lp = np.asarray(logprobs, dtype=np.float64).ravel()
    undefined = int(np.isnan(lp).sum())
    zero = int(np.isneginf(lp).sum())
    finite = float(-lp[np.isfinite(lp)].sum(dtype=np.float64))
    nll = float("inf") if zero or undefined else finite
    return Evaluation(tokens=int(lp.size), nll=nll, zero_prob=zero, mode=mode, chars=chars,
                      nll_finite=finite, undefined=undefined)
