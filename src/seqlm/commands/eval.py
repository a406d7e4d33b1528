"""`seqlm eval`: perplexity of a trained neural LM on a corpus split."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("eval", help="perplexity of a trained neural LM (stream or sentence mode)")
    p.add_argument("--checkpoint", required=True, help="a run directory (uses best/) or a checkpoint")
    p.add_argument("--data", required=True, help="the corpus the model was trained on")
    p.add_argument("--split", choices=("valid", "test", "both"), default="both")
    p.add_argument("--mode", choices=("stream", "sentence"), default="stream")
    p.add_argument("--batch-size", type=int, default=None,
                   help="default 1 in stream mode (the literature's convention), 64 in sentence mode")
    p.add_argument("--level", choices=("word", "char"), default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from seqlm.commands.train import load_corpus
    from seqlm.eval import evaluate
    from seqlm.train.checkpoint import load_model
    from seqlm.train.devices import resolve_device

    model, vocab = load_model(args.checkpoint)
    corpus = load_corpus(args.data, level=args.level or vocab.level)
    vocab.check_same(corpus.vocab, f"checkpoint {args.checkpoint} and corpus {args.data}")
    device = resolve_device(args.device)
    model.to(device)
    splits = ("valid", "test") if args.split == "both" else (args.split,)
    out = {"checkpoint": str(args.checkpoint), "data": args.data, "mode": args.mode,
           "batch_size": args.batch_size or (1 if args.mode == "stream" else 64)}
    for s in splits:
        ev = evaluate(model, corpus.split(s), args.mode, args.batch_size, chars=corpus.chars.get(s),
                      device=device, precision=args.precision)
        out[f"{s}_ppl"] = ev.ppl
        out[f"{s}_tokens"] = ev.tokens
        out[f"{s}_bits_per_token"] = ev.bits_per_token
        if vocab.level == "char" and ev.bits_per_char is not None:
            out[f"{s}_bits_per_char"] = ev.bits_per_char
        if not args.json:
            print(f"{s}: {ev.message()}, {ev.bits_per_token:.4f} bits/token")
    if args.json:
        print(json.dumps(out))
    return 0
