"""`seqlm score`: per-token log-probabilities of a text file under a trained neural LM."""
from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("score", help="per-token log-probabilities of a file under a trained neural LM")
    p.add_argument("file", help="UTF-8 text, one sentence per line")
    p.add_argument("--checkpoint", required=True, help="a run directory or checkpoint directory")
    p.add_argument("--mode", choices=("stream", "sentence"), default="stream")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--device", default="cpu")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object")
    fmt.add_argument("--tsv", action="store_true", help="token<TAB>logprob lines, then a summary")
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from seqlm.data.corpus import read_lines
    from seqlm.eval import score_tokens
    from seqlm.metrics import summarize
    from seqlm.train.checkpoint import load_model
    from seqlm.train.devices import resolve_device

    model, vocab = load_model(args.checkpoint)
    device = resolve_device(args.device)
    model.to(device)
    lines = read_lines(args.file)
    ids = vocab.encode_lines(lines)
    oov = sum(1 for line in lines for t in (line.split() if vocab.level == "word" else list(line))
              if t not in vocab)
    lp = score_tokens(model, ids, args.mode, args.batch_size, device=device)
    ev = summarize(lp, args.mode, chars=sum(len(x) + 1 for x in lines))
    tokens = vocab.decode(ids)
    if args.json:
        print(json.dumps({"file": args.file, "mode": args.mode, "tokens": tokens,
                          "logprobs": lp.tolist(), "total_logprob": float(lp.sum()),
                          "n_tokens": ev.tokens, "oov": oov, "ppl": ev.ppl,
                          "bits_per_token": ev.bits_per_token}))
        return 0
    if args.tsv:
        print("token\tlogprob")
        for t, v in zip(tokens, lp):
            print(f"{t}\t{v:.6f}")
    print(f"{args.file}: {ev.tokens} tokens ({oov} OOV as <unk>), total log-prob {lp.sum():.4f} nats, "
          f"{ev.message()}", file=sys.stdout if not args.tsv else sys.stderr)
    return 0
