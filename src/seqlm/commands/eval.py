"""`seqlm eval`: perplexity of a trained neural LM on a corpus split.

Without ``--data`` the run's own corpus is used (the checkpoint records it); a
``--data`` corpus is read with the model's tokenizer and must give the model's
vocabulary, or it is refused.
"""
from __future__ import annotations

import sys

from seqlm.commands import positive_int
from seqlm.commands.corpus_args import add_corpus_args, settings_from_args, split_files
from seqlm.metrics import MODES


def register(sub) -> None:
    p = sub.add_parser("eval", help="perplexity of a trained neural LM (stream or sentence mode)",
                       description=__doc__)
    p.add_argument("--checkpoint", required=True, help="a run directory (uses best/) or a checkpoint")
    add_corpus_args(p, data_help="another corpus to score (default: the one the run was trained on)")
    p.add_argument("--split", choices=("valid", "test", "both"), default="both", help="split(s) to score (default both)")
    p.add_argument("--mode", choices=MODES, default="stream",
                   help="stream: one running state (the literature's convention); sentence: each sentence from a "
                        "fresh state, as the n-grams score (default stream)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="default 1 in stream mode (the literature's convention), 64 in sentence mode")
    p.add_argument("--device", default="cpu", help="cpu | cuda | mps | auto (default cpu)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="fp32, or bf16 autocast (faster, perplexity within about 0.1%%; default fp32)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from seqlm.eval import evaluate
    from seqlm.train.checkpoint import load_checkpoint
    from seqlm.train.devices import resolve_device
    from seqlm.train.run_corpus import checkpoint_config, corpus_for_run

    path, config = checkpoint_config(args.checkpoint)
    ck = load_checkpoint(path, trainer_state=False)
    model, vocab = ck.model.eval(), ck.vocab
    corpus, note = corpus_for_run(config, vocab, args.checkpoint, data=args.data,
                                  files=split_files(args), settings=settings_from_args(args))
    if note:
        print(f"seqlm eval: note: {note}", file=sys.stderr)
    device = resolve_device(args.device)
    model.to(device)
    splits = ("valid", "test") if args.split == "both" else (args.split,)
    out = {"checkpoint": str(args.checkpoint), "data": corpus.spec.label(), "mode": args.mode,
           "level": vocab.level, "fingerprint": corpus.fingerprint,
           "batch_size": args.batch_size or (1 if args.mode == "stream" else 64)}
    for s in splits:
        ev = evaluate(model, corpus.split(s), args.mode, args.batch_size, chars=corpus.chars.get(s),
                      device=device, precision=args.precision)
        inf = ev.inf_reason is not None  # JSON has no infinity: null, with the reason beside it
        out[f"{s}_ppl"] = None if inf else ev.ppl
        out[f"{s}_tokens"] = ev.tokens
        out[f"{s}_bits_per_token"] = None if inf else ev.bits_per_token
        if inf:
            out[f"{s}_ppl_inf_reason"] = ev.inf_reason
        if ev.bits_per_char is not None and not inf:
            out[f"{s}_bits_per_char"] = ev.bits_per_char
        if not args.json:
            unit = ("" if inf else f", {ev.bits_per_char:.4f} bits/char" if vocab.level == "char"
                    else f", {ev.bits_per_token:.4f} bits/token")
            print(f"{s}: {ev.message()}{unit}")
    if args.json:
        print(json.dumps(out))
    return 0
