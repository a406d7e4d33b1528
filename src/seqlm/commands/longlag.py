"""`seqlm longlag`: train RNN, LSTM and GRU on the adding or temporal-order problem."""
from __future__ import annotations

from seqlm.commands import comma_choices, comma_ints, nonnegative_int, positive_float, seed_int
from seqlm.lm.config import BACKENDS, CELLS

_cells = comma_choices(CELLS)
_lengths = comma_ints(2, "lengths")


def register(sub) -> None:
    p = sub.add_parser(
        "longlag", help="train RNN/LSTM/GRU on a long-lag task (adding, temporal order)",
        description="Train each cell on a synthetic long-lag task within a fixed budget and report "
                    "which solve it (adding: test MSE < 0.01, predicting the mean gives 0.167; "
                    "order: test error < 1%, guessing gives 75%). Writes longlag.md, longlag.json "
                    "and a learning-curve plot (PDF+PNG).")
    p.add_argument("--task", choices=("adding", "order"), default="adding",
                   help="adding problem (regression) or temporal order (classification); default adding")
    p.add_argument("--length", type=_lengths, default=[100],
                   help="sequence length(s) T, comma-separated (default 100)")
    p.add_argument("--cells", type=_cells, default=list(CELLS), help="comma-separated cells (default: " + ",".join(CELLS) + ")")
    p.add_argument("--steps", type=int, default=2000, help="at most this many updates per model (default 2000)")
    p.add_argument("--budget-seconds", type=positive_float, default=None,
                   help="and at most this much wall time per model (not bitwise repeatable)")
    p.add_argument("--hidden", type=int, default=32, help="hidden size of every cell (default 32)")
    p.add_argument("--batch-size", type=int, default=64, help="sequences per training step (default 64)")
    p.add_argument("--lr", type=positive_float, default=1e-2, help="Adam learning rate (default 1e-2)")
    p.add_argument("--backend", choices=BACKENDS, default="fused",
                   help="seqlm.nn backend (default fused; its GRU is the reset_after variant, "
                        "explicit runs the book's cho GRU)")
    p.add_argument("--clip", type=positive_float, default=1.0, help="gradient-norm clipping threshold (default 1)")
    p.add_argument("--threads", type=nonnegative_int, default=1,
                   help="torch CPU threads (default 1: these models are too small to gain from more)")
    p.add_argument("--seed", type=seed_int, default=0, help="one seed for weights and data (default 0)")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for longlag.json/.csv/.md and the figure")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys
    from pathlib import Path

    from seqlm.errors import SeqlmError
    from seqlm.io import check_output_dir, write_json, write_text

    check_output_dir(args.out)
    if args.task == "order" and min(args.length) < 10:
        raise SeqlmError("--task order needs --length >= 10")
    for flag, v in (("--steps", args.steps), ("--hidden", args.hidden), ("--batch-size", args.batch_size)):
        if v < 1:
            raise SeqlmError(f"{flag} must be positive, got {v}")
    if args.budget_seconds is not None and args.budget_seconds <= 0:
        raise SeqlmError(f"--budget-seconds must be positive, got {args.budget_seconds}")
    import torch  # after the checks: a mistyped flag costs no torch start-up

    from seqlm.analysis.longlag import results_markdown, run_sweep
    from seqlm.figures.longlag import plot_learning_curves
    if args.threads:
        torch.set_num_threads(args.threads)
    results = run_sweep(args.task, args.length, args.cells,
                        log=lambda m: print(m, file=sys.stderr, flush=True),
                        steps=args.steps, budget_seconds=args.budget_seconds, hidden=args.hidden,
                        batch=args.batch_size, lr=args.lr, clip=args.clip, seed=args.seed,
                        backend=args.backend)
    out = Path(args.out)
    table = results_markdown(results)
    command = (f"seqlm longlag --task {args.task} --length {','.join(map(str, args.length))} "
               f"--cells {','.join(args.cells)} --steps {args.steps}"
               + (f" --budget-seconds {args.budget_seconds:g}" if args.budget_seconds else "")
               + f" --hidden {args.hidden} --batch-size {args.batch_size} --lr {args.lr:g} "
               f"--clip {args.clip:g} --backend {args.backend} --seed {args.seed}")
    write_text(out / "longlag.md", f"# Long-lag task: {args.task}\n\nCommand: `{command}`\n\n" + table)
    write_json(out / "longlag.json", {"schema_version": 1, "task": args.task,
                                      "results": [r.to_dict() for r in results]})
    paths = plot_learning_curves(results, out / f"longlag_{args.task}")
    print(table)
    for p in [out / "longlag.md", out / "longlag.json", *paths]:
        print(f"wrote {p}")
    return 0
