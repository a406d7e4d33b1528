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
import sys

from seqlm.commands.corpus_args import add_corpus_args, spec_from_args


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
    from seqlm.data.spec import load
    from seqlm.ngram.experiment import plan, run_ngram

    k = None if args.k is None else _number(args.k, float, "k")
    model = plan(args.smoothing, _number(args.order, int, "order"), args.mode, k, args.arpa)
    corpus = load(spec_from_args(args))
    r = run_ngram(model, corpus, args.mode, args.arpa)
    for w in r.warnings:                  # one line each, like errors
        print(f"seqlm ngram: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(r.to_dict()))
        return 0
    print(f"{corpus.name}: {r.name} {model.order}-gram, {args.mode} mode, vocabulary "
          f"{len(corpus.vocab):,} ({corpus.vocab.tokenizer.describe()}), "
          f"{model.num_parameters():,} parameters")
    print(f"{'split':<6} {'tokens':>9} {'OOV':>7} {'zero-prob':>9} {'perplexity':>11}")
    for s, ev in r.evals.items():
        oov = f"{100 * corpus.oov.get(s, 0) / ev.tokens:.2f}%"
        print(f"{s:<6} {ev.tokens:>9,} {oov:>7} {ev.zero_prob:>9,} {ev.ppl:>11.2f}")
    for s, ev in r.evals.items():
        if ev.zero_prob:
            print(f"{s}: {ev.message()}")
    print(f"built in {r.build_seconds:.2f} s, scored both splits in {r.score_seconds:.2f} s"
          + (f"; wrote {r.arpa} and {r.vocab_file}" if r.arpa else ""))
    return 0
