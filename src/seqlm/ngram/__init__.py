"""n-gram language models: MLE, add-k, (modified) Kneser-Ney, Witten-Bell; ARPA interop.

    from seqlm.ngram import ModifiedKneserNey
    model = ModifiedKneserNey(order=3).fit(corpus.train, corpus.vocab)
    model.perplexity(corpus.test).ppl

Every model scores an id stream token by token (natural log) with the same
conventions as the neural models; see docs/ngram.md for exactly what is counted.
"""
from __future__ import annotations

from seqlm.errors import SeqlmError
from seqlm.ngram.additive import MLE, AddK
from seqlm.ngram.arpa import ArpaModel, load_arpa, write_arpa
from seqlm.ngram.base import BackoffModel, NGramModel
from seqlm.ngram.kneser_ney import KneserNey, ModifiedKneserNey
from seqlm.ngram.witten_bell import WittenBell

SMOOTHINGS = ("mle", "add1", "addk", "kn", "mkn", "wb")


def build_ngram(smoothing: str = "mkn", order: int = 3, **kw) -> NGramModel:
    """An unfitted model by name: ``mle``, ``add1``, ``addk`` (``k=``), ``kn``, ``mkn``, ``wb``."""
    s = str(smoothing).lower()
    if s == "mle":
        return MLE(order, **kw)
    if s == "add1":
        return AddK(order, k=1.0, **kw)
    if s == "addk":
        return AddK(order, **kw)
    if s == "kn":
        return KneserNey(order, **kw)
    if s == "mkn":
        return ModifiedKneserNey(order, **kw)
    if s == "wb":
        return WittenBell(order, **kw)
    raise SeqlmError(f"unknown smoothing {smoothing!r} (choose from {', '.join(SMOOTHINGS)})")


__all__ = ["NGramModel", "BackoffModel", "MLE", "AddK", "KneserNey", "ModifiedKneserNey",
           "WittenBell", "ArpaModel", "build_ngram", "load_arpa", "write_arpa", "SMOOTHINGS"]
