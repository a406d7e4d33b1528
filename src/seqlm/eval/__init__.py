"""Evaluation of neural LMs: per-token log-probabilities, perplexity via
:func:`seqlm.metrics.summarize` (the one definition), ``stream``/``sentence`` modes."""
from seqlm.eval.scoring import autocast_context, evaluate, score_tokens

__all__ = ["evaluate", "score_tokens", "autocast_context"]
