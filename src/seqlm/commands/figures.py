"""`seqlm figures`: write Figures 5.1–5.6 (PDF + PNG).

5.1, 5.3, 5.4 are TikZ sources compiled with pdflatex (without TeX the .tex files
are still written, with a note on how to compile them); 5.2 comes from the
gradient lab; 5.5 and 5.6 need a comparison run (--run DIR with results.json).
"""
from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("figures", help="write Figures 5.1-5.6 (TikZ + matplotlib) as PDF and PNG",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", metavar="DIR", default=None,
                   help="a 'seqlm compare' output directory (for Figures 5.5 and 5.6)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="where to write the figures (default: RUN/figures, else ./figures)")
    p.add_argument("--no-tikz", action="store_true", help="skip Figures 5.1, 5.3, 5.4")
    p.add_argument("--no-gradients", action="store_true", help="skip Figure 5.2")
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    import sys
    from pathlib import Path

    from seqlm.errors import SeqlmError
    from seqlm.figures import make_figures

    from seqlm.io import check_output_dir

    results = None
    out = Path(args.out) if args.out else (Path(args.run) / "figures" if args.run else Path("figures"))
    check_output_dir(out, "figures directory")
    if args.run is not None:
        path = Path(args.run) / "results.json"
        if not path.is_file():
            raise SeqlmError(f"{path}: not found (is {args.run} a 'seqlm compare' output directory?)")
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise SeqlmError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
        except UnicodeDecodeError as e:
            raise SeqlmError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        from seqlm.compare.results import validate
        errors = validate(results)
        if errors:
            raise SeqlmError(f"{path}: not a seqlm compare results file ({errors[0]})")
    fig_cfg = (results or {}).get("config", {}).get("figures")
    kwargs = fig_cfg.get("gradient_kwargs") if isinstance(fig_cfg, dict) else None
    kwargs = kwargs if isinstance(kwargs, dict) else None
    figs = make_figures(out, results, tikz=not args.no_tikz, gradients=not args.no_gradients,
                        gradient_kwargs=kwargs, log=lambda m: print(m, file=sys.stderr))
    for f in figs:
        shown = ", ".join(str(p) for p in f.files) if f.files else f"(skipped: {f.note})"
        print(f"Figure {f.number}: {shown}")
    return 0
