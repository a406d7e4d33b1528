"""`seqlm gradients`: Figure 5.2, gradient norm against the time gap, with the Pascanu bound."""
from __future__ import annotations

from seqlm.commands import comma_choices, finite_float, seed_int
from seqlm.lm.config import CELLS

_cells = comma_choices(CELLS)


def register(sub) -> None:
    p = sub.add_parser(
        "gradients", help="measure ‖∂L_T/∂h_k‖ through time and draw Figure 5.2",
        description="Measure how the gradient of a loss at the last step shrinks (or grows) on its way "
                    "back through T steps of an RNN, LSTM and GRU at initialisation; write Figure 5.2 "
                    "(PDF+PNG), the numbers (CSV+JSON), and print the fitted decay rates beside the "
                    "Pascanu et al. (2013) bound log σ_max(W_hh).")
    p.add_argument("--cells", type=_cells, default=list(CELLS), help=f"default: {','.join(CELLS)}")
    p.add_argument("--length", type=int, default=100, help="sequence length T (default 100)")
    p.add_argument("--hidden", type=int, default=64, help="hidden size H (default 64)")
    p.add_argument("--input-size", type=int, default=32, help="input size (default 32)")
    p.add_argument("--sequences", type=int, default=64, help="random sequences averaged over (default 64)")
    p.add_argument("--init-scale", type=finite_float, default=None,
                   help="every weight U(-a, a); default a = 1/sqrt(H) (PyTorch's default)")
    p.add_argument("--sigma-max", type=finite_float, default=0.9,
                   help="rescale the RNN's W_hh to this largest singular value (default 0.9; "
                        "'0' keeps W_hh as drawn)")
    p.add_argument("--forget-bias", type=finite_float, default=1.0, help="LSTM forget-gate bias (default 1)")
    p.add_argument("--loss", choices=("last", "all"), default="last",
                   help="loss at the last step only (eq. 5.3; default) or the LM loss at every step")
    p.add_argument("--checkpoint", metavar="DIR", help="measure a trained LM checkpoint instead")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the weights and inputs (default 0)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.set_defaults(func=run)


def run(args) -> int:
    from seqlm.errors import SeqlmError
    from seqlm.io import check_output_dir

    check_output_dir(args.out)
    for flag, v in (("--length", args.length), ("--hidden", args.hidden),
                    ("--input-size", args.input_size), ("--sequences", args.sequences)):
        if v < 1:
            raise SeqlmError(f"{flag} must be positive, got {v}")
    if args.init_scale is not None and args.init_scale <= 0:
        raise SeqlmError(f"--init-scale must be positive, got {args.init_scale}")
    if args.sigma_max < 0:
        raise SeqlmError(f"--sigma-max must be positive (or 0 to keep W_hh as drawn), got {args.sigma_max}")
    from seqlm.analysis.flow import gradient_flow
    from seqlm.analysis.summary import describe
    from seqlm.figures.gradients import figure_5_2
    if args.checkpoint:
        from seqlm.analysis.checkpoint import checkpoint_flow
        result = checkpoint_flow(args.checkpoint, length=args.length, n_seqs=args.sequences,
                                 loss=args.loss, seed=args.seed)
    else:
        result = gradient_flow(cells=args.cells, length=args.length, hidden=args.hidden,
                               input_size=args.input_size, n_seqs=args.sequences,
                               init_scale=args.init_scale, sigma_max_hh=args.sigma_max or None,
                               forget_bias=args.forget_bias, loss=args.loss, seed=args.seed)
    paths = figure_5_2(args.out, result=result)
    print(describe(result))
    for p in paths:
        print(f"wrote {p}")
    return 0
