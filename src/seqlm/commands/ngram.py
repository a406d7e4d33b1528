"""`seqlm ngram`: fit an n-gram model and report valid/test perplexity.

    seqlm ngram --data SOURCE [--order 3] [--smoothing mkn] [--k K]
                [--mode sentence|stream] [--arpa OUT.arpa] [--json]
                [--level word|char] [--tokenizer whitespace|words] [--lowercase]
                [--max-vocab N] [--min-freq K]

``--json`` prints one object; an infinite perplexity (MLE with unseen events)
is written as ``null`` and the zero-probability counts say why.
"""
from __future__ import annotations

import json
import math
import sys
import time
import warnings

from seqlm.commands.corpus_args import add_corpus_args, spec_from_args

SMOOTHING_NAMES = {
    "mle": "maximum likelihood", "add1": "add-1 (Laplace)", "addk": "add-k",
    "kn": "interpolated Kneser-Ney", "mkn": "modified Kneser-Ney", "wb": "Witten-Bell",
}


def register(sub) -> None:
    p = sub.add_parser("ngram", help="fit an n-gram model (MLE, add-k, KN, modified KN, WB)",
                       description="Fit an n-gram language model on the training split and print "
                                   "valid and test perplexity. Conventions as the neural models: "
                                   "one <eos> per line, predicted and counted; <s> is context "
                                   "only; <unk> is an ordinary word.")
    p.add_argument("--order", default="3", help="n-gram order N >= 1 (default 3)")
    p.add_argument("--smoothing", default="mkn",
                   help="mle, add1, addk, kn, mkn (default) or wb")
    p.add_argument("--k", default=None, help="k of add-k smoothing (default 1)")
    p.add_argument("--mode", default="sentence",
                   help="sentence (context resets at <eos>, default) or stream (it runs across)")
    p.add_argument("--arpa", default=None, metavar="FILE", help="also write the model as ARPA")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_corpus_args(p)
    p.set_defaults(func=run)


def _number(text, kind, what: str):
    from seqlm.errors import SeqlmError
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise SeqlmError(f"--{what} must be a number, got {text!r}") from None
    return value


def run(args) -> int:
    from seqlm.errors import SeqlmError
    from seqlm.metrics import MODES
    from seqlm.ngram import BackoffModel, build_ngram

    order = _number(args.order, int, "order")
    if order < 1:
        raise SeqlmError(f"--order must be >= 1, got {order}")
    smoothing = str(args.smoothing).lower()
    if smoothing not in SMOOTHING_NAMES:
        raise SeqlmError(f"unknown smoothing {args.smoothing!r} "
                         f"(choose from {', '.join(SMOOTHING_NAMES)})")
    if args.mode not in MODES:
        raise SeqlmError(f"unknown mode {args.mode!r} (choose from {', '.join(MODES)})")
    kw = {}
    if args.k is not None:
        if smoothing != "addk":
            raise SeqlmError("--k applies only to --smoothing addk")
        kw["k"] = _number(args.k, float, "k")
    model = build_ngram(smoothing, order, **kw)
    if args.arpa and not isinstance(model, BackoffModel):
        raise SeqlmError(f"--arpa needs a backoff model (kn, mkn, wb), not {smoothing}")
    if args.arpa:
        from seqlm.io import check_output_file
        check_output_file(args.arpa, "ARPA file")

    from seqlm.data.spec import load
    corpus = load(spec_from_args(args))
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(corpus.train, corpus.vocab, mode=args.mode)
    build = time.perf_counter() - t0
    for w in caught:                  # one line each, like errors
        print(f"seqlm ngram: warning: {w.message}", file=sys.stderr)
    t0 = time.perf_counter()
    evals = {s: model.perplexity(corpus.split(s), args.mode) for s in ("valid", "test")}
    score = time.perf_counter() - t0
    vocab_file = None
    if args.arpa:
        from pathlib import Path
        model.to_arpa(args.arpa)
        # ARPA has no place for the tokenizer: the vocabulary file beside it keeps how text
        # was cut, so whatever scores with this model later reads text the same way.
        vocab_file = str(Path(args.arpa).with_suffix(".vocab.json"))
        corpus.vocab.save(vocab_file)

    def finite(x):
        return x if math.isfinite(x) else None

    out = {"data": corpus.spec.label(), "smoothing": smoothing, "order": order, "mode": args.mode,
           "vocab_size": len(corpus.vocab), "train_tokens": int(corpus.train.size),
           "num_parameters": model.num_parameters()}
    for s, ev in evals.items():
        out.update({f"{s}_ppl": finite(ev.ppl), f"{s}_tokens": ev.tokens,
                    f"{s}_oov": corpus.oov.get(s, 0), f"{s}_oov_rate": corpus.oov.get(s, 0) / ev.tokens,
                    f"{s}_zero_prob": ev.zero_prob, f"{s}_finite_ppl": finite(ev.finite_ppl),
                    f"{s}_bits_per_token": finite(ev.bits_per_token)})
    out.update(build_seconds=build, score_seconds=score, arpa=args.arpa, vocab_file=vocab_file,
               tokenizer=corpus.vocab.tokenizer.kind, lowercase=corpus.vocab.tokenizer.lowercase)
    if getattr(model, "discounts", None) is not None:
        out["discounts"] = {str(m): d for m, d in model.discount_table.items()}
    if args.json:
        print(json.dumps(out))
        return 0
    name = SMOOTHING_NAMES[smoothing] + (f" (k={model.k:g})" if smoothing == "addk" else "")
    print(f"{corpus.name}: {name} {order}-gram, {args.mode} mode, vocabulary "
          f"{len(corpus.vocab):,} ({corpus.vocab.tokenizer.describe()}), "
          f"{model.num_parameters():,} parameters")
    print(f"{'split':<6} {'tokens':>9} {'OOV':>7} {'zero-prob':>9} {'perplexity':>11}")
    for s, ev in evals.items():
        oov = f"{100 * corpus.oov.get(s, 0) / ev.tokens:.2f}%"
        print(f"{s:<6} {ev.tokens:>9,} {oov:>7} {ev.zero_prob:>9,} {ev.ppl:>11.2f}")
    for s, ev in evals.items():
        if ev.zero_prob:
            print(f"{s}: {ev.message()}")
    print(f"built in {build:.2f} s, scored both splits in {score:.2f} s"
          + (f"; wrote {args.arpa} and {vocab_file}" if args.arpa else ""))
    return 0
