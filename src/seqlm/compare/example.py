"""A small, realistic ``results.json`` dictionary without training anything.

For drawing Figures 5.5/5.6 and the report in tests and documentation: the
numbers are made up but shaped like a real quick-preset run on the synthetic
corpus (oracle 3.18), including an infinite-perplexity MLE row.
"""
from __future__ import annotations

import math

from seqlm.compare.results import SCHEMA_VERSION
from seqlm.compare.runner import CONVENTIONS

ORACLE = {"valid": 3.19, "test": 3.18}


def _row(name: str, family: str, valid: float, test: float, params: int, zero: int = 0,
         stream: float | None = None, history: list | None = None) -> dict:
    inf = zero > 0
    d = {"name": name, "family": family, "description": name, "mode": "sentence",
         "valid_ppl": None if inf else valid, "test_ppl": None if inf else test,
         "valid_ppl_finite": valid, "test_ppl_finite": test,
         "valid_bits_per_token": None if inf else math.log2(valid),
         "test_bits_per_token": None if inf else math.log2(test),
         "valid_zero_prob": zero, "test_zero_prob": zero,
         "stream_valid_ppl": stream, "stream_test_ppl": stream,
         "gap_to_oracle_bits": None if inf else math.log2(test / ORACLE["test"]),
         "ppl_over_oracle": None if inf else test / ORACLE["test"],
         "parameters": params, "train_seconds": 0.05 if family == "ngram" else 40.0,
         "tokens_per_s": 3e6 if family == "ngram" else 1.1e4,
         "stage": "ngram" if family == "ngram" else name, "config": _config(name, family)}
    if history is not None:
        d["history"] = history
    return d


def _config(name: str, family: str) -> dict:
    """The settings part of a row that tables and figures read: the recurrent cells'
    model settings (the GRU is the quick preset's fused reset-after GRU)."""
    if name not in ("rnn", "lstm", "gru"):
        return {}
    extra = {"variant": "reset_after"} if name == "gru" else {}
    return {"model": {"kind": "rnn", "cell": name, "backend": "fused", **extra}}


def _history(train_floor: float, valid_floor: float, epochs: int = 4) -> list[dict]:
    return [{"epoch": e, "train_loss": train_floor + 0.9 / e, "valid_loss": valid_floor + 0.6 / e,
             "valid_ppl": math.exp(valid_floor + 0.6 / e), "wall_time": 12.0 * e}
            for e in range(1, epochs + 1)]


def example_results() -> dict:
    """A schema-valid results dictionary (see :mod:`seqlm.compare.results`)."""
    models = [
        _row("unigram", "ngram", 20.0, 20.1, 39),
        _row("bigram", "ngram", 5.80, 5.81, 354),
        _row("trigram", "ngram", 4.80, 4.82, 1794),
        _row("bigram-add1", "ngram", 5.83, 5.84, 315),
        _row("trigram-add1", "ngram", 6.30, 6.31, 1510),
        _row("trigram-mle", "ngram", 4.79, 4.80, 1510, zero=7),
        _row("ffnn", "neural", 4.75, 4.78, 11_000, stream=4.74, history=_history(1.50, 1.52)),
        _row("rnn", "neural", 3.72, 3.74, 17_000, stream=3.70, history=_history(1.28, 1.30)),
        _row("lstm", "neural", 3.30, 3.31, 53_000, stream=3.28, history=_history(1.17, 1.19)),
        _row("gru", "neural", 3.32, 3.33, 40_000, stream=3.30, history=_history(1.18, 1.20)),
    ]
    return {
        "schema_version": SCHEMA_VERSION, "kind": "seqlm-compare-results",
        "command": "seqlm compare --data synthetic --preset quick --out runs/demo --seed 0 --device auto",
        "data": {"source": "synthetic", "name": "synthetic", "vocab_size": 39,
                 "train_tokens": 150_001, "valid_tokens": 12_001, "test_tokens": 12_003},
        "preset": "quick", "seed": 0, "config": {"example": True}, "config_hash": "000000000000",
        "versions": {"seqlm": "0.1.0", "torch": "2.x", "numpy": "1.x", "python": "3.x"},
        "machine": {"cpu": "example CPU", "cores": 2, "platform": "example", "device": "cpu"},
        "eval_mode": "sentence", "conventions": CONVENTIONS,
        "oracle_valid_ppl": ORACLE["valid"], "oracle_test_ppl": ORACLE["test"],
        "models": models,
    }
