"""`seqlm bottleneck`: an encoder–decoder without attention copying (or reversing) T symbols."""
from __future__ import annotations

from seqlm.commands import comma_choices, comma_ints, positive_float, seed_int
from seqlm.lm.config import CELLS

_cells = comma_choices(CELLS)
_lengths = comma_ints(2, "lengths")
_sizes = comma_ints(1, "hidden sizes")


def register(sub) -> None:
    p = sub.add_parser(
        "bottleneck", help="the fixed-size h_T bottleneck: seq2seq without attention on copy/reverse",
        description="Train an encoder-decoder without attention (encoder RNN/LSTM/GRU -> its final "
                    "state h_T (and c_T) -> a decoder of the same cell) to copy or reverse T random "
                    "symbols, for every cell, length and hidden size; report greedy token, "
                    "per-position and exact-sequence test accuracy. Writes bottleneck.md, "
                    "bottleneck.json, bottleneck.csv and two figures (PDF+PNG).")
    p.add_argument("--task", choices=("copy", "reverse"), default="copy",
                   help="reproduce the input sequence, or reverse it (default copy)")
    p.add_argument("--length", type=_lengths, default=[5, 10, 20, 40, 80],
                   help="sequence lengths T, comma-separated (default 5,10,20,40,80)")
    p.add_argument("--cells", type=_cells, default=["rnn", "lstm", "gru"], help="comma-separated cells (default rnn,lstm,gru)")
    p.add_argument("--hidden", type=_sizes, default=[32, 64],
                   help="hidden sizes H (the size of h_T), comma-separated (default 32,64)")
    p.add_argument("--symbols", type=int, default=8, help="alphabet size V (default 8: 3 bits per token)")
    p.add_argument("--steps", type=int, default=300, help="at most this many updates per model (default 300)")
    p.add_argument("--eval-every", type=int, default=100,
                   help="greedy test accuracy every this many steps; a model stops once solved (default 100)")
    p.add_argument("--batch-size", type=int, default=64, help="sequences per training step (default 64)")
    p.add_argument("--lr", type=positive_float, default=1e-2, help="Adam learning rate (default 1e-2)")
    p.add_argument("--clip", type=positive_float, default=1.0, help="gradient-norm clipping threshold (default 1)")
    p.add_argument("--test-size", type=int, default=500, help="test sequences per length (default 500)")
    p.add_argument("--backend", choices=("fused", "explicit"), default="fused",
                   help="seqlm.nn backend (default fused; its GRU is the reset_after variant, "
                        "explicit runs the book's cho GRU)")
    p.add_argument("--jobs", type=int, default=2,
                   help="models trained at a time, each in its own process on one torch thread "
                        "(default 2; results are the same for any value)")
    p.add_argument("--seed", type=seed_int, default=0, help="one seed for weights and data (default 0)")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for bottleneck.json/.csv/.md and the figures")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    import torch

    from seqlm.analysis.bottleneck import results_csv, results_markdown, run_sweep
    from seqlm.errors import SeqlmError
    from seqlm.figures.bottleneck import plot_accuracy_vs_length, plot_position_accuracy
    from seqlm.io import check_output_dir, write_json, write_text

    for flag, v in (("--steps", args.steps), ("--eval-every", args.eval_every),
                    ("--batch-size", args.batch_size), ("--test-size", args.test_size)):
        if v < 1:
            raise SeqlmError(f"{flag} must be positive, got {v}")
    if args.symbols < 2:
        raise SeqlmError(f"--symbols must be at least 2, got {args.symbols}")
    if not args.lr > 0 or not args.clip > 0:
        raise SeqlmError("--lr and --clip must be positive")
    out = check_output_dir(args.out)
    if args.jobs < 1:
        raise SeqlmError(f"--jobs must be positive, got {args.jobs}")
    torch.set_num_threads(1)  # models this small run fastest on one thread, and repeatably
    results = run_sweep(args.task, args.length, args.cells, args.hidden,
                        log=lambda m: print(m, file=sys.stderr, flush=True),
                        symbols=args.symbols, steps=args.steps, eval_every=args.eval_every,
                        batch=args.batch_size, lr=args.lr, clip=args.clip, test_size=args.test_size,
                        backend=args.backend, seed=args.seed, jobs=args.jobs)
    command = (f"seqlm bottleneck --task {args.task} --length {','.join(map(str, args.length))} "
               f"--cells {','.join(args.cells)} --hidden {','.join(map(str, args.hidden))} "
               f"--symbols {args.symbols} --steps {args.steps} --eval-every {args.eval_every} "
               f"--batch-size {args.batch_size} --lr {args.lr:g} --clip {args.clip:g} "
               f"--test-size {args.test_size} --backend {args.backend} --seed {args.seed}")
    table = results_markdown(results)
    dicts = [r.to_dict() for r in results]
    write_text(out / "bottleneck.md", f"# The h_T bottleneck: {args.task}\n\nCommand: `{command}`\n\n" + table)
    write_json(out / "bottleneck.json", {"schema_version": 1, "kind": "seqlm-bottleneck",
                                         "command": command, "task": args.task, "results": dicts})
    write_text(out / "bottleneck.csv", results_csv(results))
    paths = plot_accuracy_vs_length(dicts, out / f"bottleneck_{args.task}")
    paths += plot_position_accuracy(dicts, out / f"bottleneck_{args.task}_positions")
    print(table)
    for p in [out / "bottleneck.md", out / "bottleneck.json", out / "bottleneck.csv", *paths]:
        print(f"wrote {p}")
    return 0
