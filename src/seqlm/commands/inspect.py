"""`seqlm inspect`: every gate and state of a trained recurrent LM, on a text or a split."""
from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser(
        "inspect", help="look inside a trained RNN/LSTM/GRU: gates over a text, saturation, lookback",
        description="On a text (--text/--file): record every gate and state of every layer, the "
                    "next-word probabilities and how far back each prediction looks; write "
                    "inspect.json, a self-contained inspect.html and heatmaps (PDF+PNG). On a "
                    "held-out split (--split): gate saturation (Karpathy et al. 2015, Fig. 3) and "
                    "the mean ‖∂ ln p(w_t)/∂e_{t-k}‖ against k, for one or more checkpoints.")
    p.add_argument("--checkpoint", required=True, action="append", metavar="RUN",
                   help="a run or checkpoint directory; repeat it to compare models on --split")
    p.add_argument("--text", help="the text to inspect (lines end with <eos>)")
    p.add_argument("--file", help="read the text from a UTF-8 file")
    p.add_argument("--split", choices=("train", "valid", "test"),
                   help="measure saturation and lookback over this split of the training corpus")
    p.add_argument("--data", help="corpus of --split (default: the one the checkpoint was trained on)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--mode", choices=("sentence", "stream"),
                   help="reset the state at every sentence, or carry it (default: as trained)")
    p.add_argument("--max-lag", type=int, default=None,
                   help="lookback lags measured (default 50 on a text, 30 on a split)")
    p.add_argument("--top-k", type=int, default=5, help="next-word candidates kept per token (default 5)")
    p.add_argument("--max-tokens", type=int, default=1000, help="longest text accepted (default 1000)")
    p.add_argument("--max-targets", type=int, default=4000,
                   help="split tokens whose lookback is measured, evenly spaced (default 4000; 0: all)")
    p.add_argument("--low", type=float, default=0.1, help="left-saturated below this (default 0.1)")
    p.add_argument("--high", type=float, default=0.9, help="right-saturated above this (default 0.9)")
    p.set_defaults(func=run)


def run(args) -> int:
    import shlex

    from seqlm.data.corpus import read_lines
    from seqlm.errors import SeqlmError
    from seqlm.report.inspect import inspect_split, inspect_text

    if args.text is not None and args.file is not None:
        raise SeqlmError("give the text with --text or --file, not both")
    has_text = args.text is not None or args.file is not None
    if not has_text and not args.split:
        raise SeqlmError("nothing to inspect: give --text, --file or --split")
    if has_text and len(args.checkpoint) > 1:
        raise SeqlmError("a text is inspected with one --checkpoint (several are for --split)")
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    if has_text:
        text = args.text if args.text is not None else "\n".join(read_lines(args.file))
        command = shlex.join(["seqlm", *sys.argv[1:]]) if sys.argv and sys.argv[0].endswith("seqlm") else None
        doc = inspect_text(args.checkpoint[0], text, args.out, mode=args.mode,
                           max_lag=50 if args.max_lag is None else args.max_lag, top_k=args.top_k,
                           max_tokens=args.max_tokens, command=command, log=log)
        p = doc["next"]["p"]
        print(f"{doc['model']['cell']} on {doc['text']['tokens']} tokens ({doc['mode']} mode, "
              f"{doc['text']['unknown']} read as <unk>): mean p(next word) {sum(p) / len(p):.3f}")
        for f in doc["files"]:
            print(f"wrote {f}")
    if args.split:
        res = inspect_split(args.checkpoint, args.split, args.out, data=args.data, mode=args.mode,
                            max_lag=30 if args.max_lag is None else args.max_lag,
                            max_targets=args.max_targets or None, low=args.low, high=args.high, log=log)
        for f in res["files"]:
            print(f"wrote {f}")
    return 0
