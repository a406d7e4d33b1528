"""One n-gram experiment, as ``seqlm ngram`` runs it: fit on the training split,
score valid and test, and optionally export the model as ARPA with the
vocabulary file beside it (ARPA has no place for the tokenizer)."""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from seqlm.errors import SeqlmError
from seqlm.io import check_output_file
from seqlm.metrics import MODES, Evaluation
from seqlm.ngram import SMOOTHINGS, BackoffModel, NGramModel, build_ngram, write_arpa

SMOOTHING_NAMES = {
    "mle": "maximum likelihood", "add1": "add-1 (Laplace)", "addk": "add-k",
    "kn": "interpolated Kneser-Ney", "mkn": "modified Kneser-Ney", "wb": "Witten-Bell",
}
assert set(SMOOTHING_NAMES) == set(SMOOTHINGS)


def plan(smoothing: str, order: int, mode: str = "sentence", k: float | None = None,
         arpa: str | None = None) -> NGramModel:
    """The unfitted model, every setting and the ARPA destination checked before any work."""
    smoothing = str(smoothing).lower()
    if order < 1:
        raise SeqlmError(f"--order must be >= 1, got {order}")
    if mode not in MODES:
        raise SeqlmError(f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
    if k is not None and smoothing != "addk":
        raise SeqlmError("--k applies only to --smoothing addk")
    model = build_ngram(smoothing, order, **({"k": k} if k is not None else {}))
    model.smoothing = smoothing
    if arpa:
        if not isinstance(model, BackoffModel):
            raise SeqlmError(f"--arpa needs a backoff model (kn, mkn, wb), not {smoothing}")
        check_output_file(arpa, "ARPA file")
    return model


@dataclass
class NGramRun:
    model: NGramModel
    corpus: object
    mode: str
    evals: dict[str, Evaluation]
    build_seconds: float
    score_seconds: float
    warnings: list[str] = field(default_factory=list)
    arpa: str | None = None
    vocab_file: str | None = None

    @property
    def name(self) -> str:
        s = self.model.smoothing
        return SMOOTHING_NAMES[s] + (f" (k={self.model.k:g})" if s == "addk" else "")

    def to_dict(self) -> dict:
        """One JSON object; an infinite perplexity is ``null`` (the zero-prob counts say why)."""
        c, m = self.corpus, self.model
        finite = lambda x: x if math.isfinite(x) else None  # noqa: E731
        out = {"data": c.spec.label(), "smoothing": m.smoothing, "order": m.order, "mode": self.mode,
               "vocab_size": len(c.vocab), "train_tokens": int(c.train.size),
               "num_parameters": m.num_parameters()}
        for s, ev in self.evals.items():
            out.update({f"{s}_ppl": finite(ev.ppl), f"{s}_tokens": ev.tokens,
                        f"{s}_oov": c.oov.get(s, 0), f"{s}_oov_rate": c.oov.get(s, 0) / ev.tokens,
                        f"{s}_zero_prob": ev.zero_prob, f"{s}_finite_ppl": finite(ev.finite_ppl),
                        f"{s}_bits_per_token": finite(ev.bits_per_token)})
        out.update(build_seconds=self.build_seconds, score_seconds=self.score_seconds, arpa=self.arpa,
                   vocab_file=self.vocab_file, tokenizer=c.vocab.tokenizer.kind,
                   lowercase=c.vocab.tokenizer.lowercase)
        if getattr(m, "discounts", None) is not None:
            out["discounts"] = {str(k): d for k, d in m.discount_table.items()}
        return out


def run_ngram(model: NGramModel, corpus, mode: str = "sentence", arpa: str | None = None) -> NGramRun:
    """Fit ``model`` (from :func:`plan`) on ``corpus.train``, score valid and test,
    write ``arpa`` and ``NAME.vocab.json`` beside it when asked."""
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:   # e.g. a count-of-counts fallback
        warnings.simplefilter("always")
        model.fit(corpus.train, corpus.vocab, mode=mode)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    evals = {s: model.perplexity(corpus.split(s), mode) for s in ("valid", "test")}
    run = NGramRun(model, corpus, mode, evals, build, time.perf_counter() - t0,
                   [str(w.message) for w in caught])
    if arpa:
        write_arpa(model, arpa)
        run.arpa, run.vocab_file = str(arpa), str(Path(arpa).with_suffix(".vocab.json"))
        corpus.vocab.save(run.vocab_file)
    return run
