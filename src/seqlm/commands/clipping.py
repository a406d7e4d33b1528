"""`seqlm clipping`: Section 5.2.4's demonstration, no clipping vs norm vs element-wise."""
from __future__ import annotations

from seqlm.commands import comma_choices, positive_float, seed_int

MODES = ("none", "norm", "value")
_modes = comma_choices(MODES)


def register(sub) -> None:
    p = sub.add_parser(
        "clipping", help="gradient clipping rescues an exploding RNN (no clipping / norm / value)",
        description="Train a tanh RNN with large weights (sigma_max(W_hh) about 2x --init-scale) with "
                    "plain SGD on the adding problem, the same seed and batches once per clipping "
                    "mode: none, norm (Pascanu et al. Algorithm 1) and value (element-wise). Writes "
                    "clipping.json, clipping.csv (loss and gradient norm per step), clipping.md and "
                    "the figure clipping.pdf/.png.")
    p.add_argument("--modes", type=_modes, default=list(MODES), help="default: none,norm,value")
    p.add_argument("--steps", type=int, default=600, help="SGD steps per mode (default 600)")
    p.add_argument("--length", type=int, default=10, help="adding-problem length T (default 10)")
    p.add_argument("--hidden", type=int, default=32, help="hidden size H (default 32)")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per training step (default 32)")
    p.add_argument("--init-scale", type=positive_float, default=3.0,
                   help="weights N(0, (scale/sqrt(H))^2); sigma_max(W_hh) is about 2x this (default 3)")
    p.add_argument("--lr", type=positive_float, default=0.05, help="SGD learning rate (default 0.05)")
    p.add_argument("--threshold", type=positive_float, default=1.0,
                   help="norm threshold (norm) or component bound (value) (default 1)")
    p.add_argument("--seed", type=seed_int, default=0, help="one seed for weights and data (default 0)")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for clipping.json/.csv/.md and the figure")
    p.set_defaults(func=run)


def run(args) -> int:
    from dataclasses import asdict

    from seqlm.errors import SeqlmError
    from seqlm.io import check_output_dir, write_json, write_text

    for flag, v in (("--steps", args.steps), ("--hidden", args.hidden), ("--batch-size", args.batch_size)):
        if v < 1:
            raise SeqlmError(f"{flag} must be positive, got {v}")
    if args.length < 2:
        raise SeqlmError(f"--length must be at least 2, got {args.length}")
    for flag, v in (("--init-scale", args.init_scale), ("--lr", args.lr), ("--threshold", args.threshold)):
        if not v > 0:
            raise SeqlmError(f"{flag} must be positive, got {v}")
    out = check_output_dir(args.out)

    import torch

    from seqlm.analysis.clipping import ClipDemoConfig, clipping_demo, describe, runs_csv
    from seqlm.figures.clipping import plot_clipping

    torch.set_num_threads(1)  # a 32-unit RNN: one thread is fastest and keeps runs repeatable
    cfg = ClipDemoConfig(length=args.length, hidden=args.hidden, batch=args.batch_size,
                         init_scale=args.init_scale, lr=args.lr, threshold=args.threshold,
                         steps=args.steps, seed=args.seed)
    runs = clipping_demo(cfg, modes=args.modes)
    command = (f"seqlm clipping --modes {','.join(args.modes)} --steps {args.steps} --length {args.length} "
               f"--hidden {args.hidden} --batch-size {args.batch_size} --init-scale {args.init_scale:g} "
               f"--lr {args.lr:g} --threshold {args.threshold:g} --seed {args.seed}")
    summary = describe(runs)
    dicts = {m: r.to_dict() for m, r in runs.items()}
    write_json(out / "clipping.json", {"schema_version": 1, "kind": "seqlm-clipping", "command": command,
                                       "config": asdict(cfg), "runs": dicts})
    write_text(out / "clipping.csv", runs_csv(runs))
    write_text(out / "clipping.md", f"# Gradient clipping (Section 5.2.4)\n\nCommand: `{command}`\n\n"
                                    f"```\n{summary}\n```\n")
    paths = plot_clipping(dicts, asdict(cfg), out / "clipping")
    print(summary)
    for p in [out / "clipping.json", out / "clipping.csv", out / "clipping.md", *paths]:
        print(f"wrote {p}")
    return 0
