"""`seqlm score`: per-token log-probabilities under a trained neural LM.

``seqlm score FILE --checkpoint RUN`` reads FILE through the model's own
vocabulary and tokenizer (out-of-vocabulary tokens become ``<unk>`` and are
counted). Without FILE it scores a split (``--split``, default test) of the
run's own corpus, or of ``--data`` (checked as by ``seqlm eval``).
"""
from __future__ import annotations

import sys

from seqlm.commands import positive_int
from seqlm.commands.corpus_args import add_corpus_args, settings_from_args, split_files
from seqlm.metrics import MODES


def register(sub) -> None:
    p = sub.add_parser("score", help="per-token log-probabilities of a file under a trained neural LM",
                       description=__doc__)
    p.add_argument("file", nargs="?", help="UTF-8 text, one sentence per line (default: a split "
                                           "of the run's corpus)")
    p.add_argument("--checkpoint", required=True, help="a run directory or checkpoint directory")
    p.add_argument("--split", choices=("train", "valid", "test"), default="test",
                   help="without FILE: which split of the corpus (default test)")
    add_corpus_args(p, data_help="without FILE: another corpus (default: the run's own)")
    p.add_argument("--mode", choices=MODES, default="stream",
                   help="stream (one running state) or sentence (each sentence from a fresh state); default stream")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="sequences scored at once; never changes the numbers (default 1 in stream, 64 in sentence mode)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | mps | auto (default cpu)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object")
    fmt.add_argument("--tsv", action="store_true", help="token<TAB>natural-log probability lines under the header token<TAB>logprob_ln (KenLM prints "
                          "log10: it is this divided by ln 10), then a summary")
    p.set_defaults(func=run)


def _text(args, config, vocab):
    """(what, ids, oov, chars) of the FILE or the corpus split."""
    from seqlm.errors import SeqlmError
    if args.file:
        if args.data or split_files(args) or settings_from_args(args):
            raise SeqlmError("FILE is read with the model's own vocabulary: drop --data and the "
                             "corpus flags, or drop FILE to score a corpus split")
        from seqlm.data.corpus import read_lines
        lines = read_lines(args.file)
        return (args.file, vocab.encode_lines(lines), vocab.count_oov(lines),
                sum(len(x) + 1 for x in lines))
    from seqlm.train.run_corpus import corpus_for_run
    corpus, note = corpus_for_run(config, vocab, args.checkpoint, data=args.data,
                                  files=split_files(args), settings=settings_from_args(args))
    if note:
        print(f"seqlm score: note: {note}", file=sys.stderr)
    what = f"{corpus.spec.label()} ({args.split})"
    return what, corpus.split(args.split), corpus.oov.get(args.split, 0), corpus.chars.get(args.split)


def run(args) -> int:
    import json
    import math

    from seqlm.eval import score_tokens
    from seqlm.metrics import summarize
    from seqlm.train.checkpoint import load_checkpoint
    from seqlm.train.devices import resolve_device
    from seqlm.train.run_corpus import checkpoint_config

    path, config = checkpoint_config(args.checkpoint)
    ck = load_checkpoint(path, trainer_state=False)
    model, vocab = ck.model.eval(), ck.vocab
    what, ids, oov, chars = _text(args, config, vocab)
    device = resolve_device(args.device)
    model.to(device)
    lp = score_tokens(model, ids, args.mode, args.batch_size, device=device)
    ev = summarize(lp, args.mode, chars=chars)
    tokens = vocab.decode(ids)
    if args.json:  # JSON has no infinity or NaN: null, with the reason beside it
        def num(x):
            return float(x) if x is not None and math.isfinite(x) else None
        out = {"file": args.file, "data": what, "mode": args.mode, "level": vocab.level,
               "tokens": tokens, "logprobs": [num(v) for v in lp.tolist()], "total_logprob": num(lp.sum()),
               "n_tokens": ev.tokens, "oov": oov, "ppl": num(ev.ppl), "bits_per_token": num(ev.bits_per_token),
               "ppl_inf_reason": ev.inf_reason}
        if ev.bits_per_char is not None:
            out["bits_per_char"] = num(ev.bits_per_char)
        print(json.dumps(out, allow_nan=False))
        return 0
    if args.tsv:
        print("token\tlogprob_ln")  # natural log (nats); KenLM and SRILM print log10: divide by ln 10
        for t, v in zip(tokens, lp):
            print(f"{t}\t{v:.6f}")
    per_char = f", {ev.bits_per_char:.4f} bits/char" if vocab.level == "char" else ""
    print(f"{what}: {ev.tokens} tokens ({oov} OOV as <unk>), total log-prob {lp.sum():.4f} nats, "
          f"{ev.message()}{per_char}", file=sys.stdout if not args.tsv else sys.stderr)
    return 0
