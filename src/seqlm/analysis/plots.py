"""Figure 5.2: gradient magnitude against the time gap, and its data files."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from seqlm.analysis.flow import GradientFlow, gradient_flow
from seqlm.io import write_json, write_text

FIG_STEM = "fig5_2_vanishing_gradients"


def plot_gradient_flow(result: GradientFlow, stem: str | Path, width: str = "column") -> list[Path]:
    """Log-scale ‖∂L_T/∂h_k‖ / ‖∂L_T/∂h_T‖ against T − k: the median over sequences
    per cell, a shaded 10–90 % band, and the Pascanu bound (σ_max)^(T−k) dashed.
    Writes ``stem.pdf`` and ``stem.png``; returns the paths."""
    import matplotlib.pyplot as plt

    from seqlm.figures.style import color_for, new_figure, rc_params, save_figure

    with plt.rc_context(rc_params()):
        fig, ax = new_figure(width)
        lowest = 1.0
        last_only = result.settings.get("loss", "last") == "last"
        for name, cf in result.cells.items():
            q = cf.quantiles()  # (3, T+1): q10, median, q90
            color = color_for(name)
            keep = q[1] > 0  # underflowed gradients (exactly 0) have no place on a log axis
            ax.fill_between(cf.gaps[keep], np.maximum(q[0][keep], 1e-300), q[2][keep],
                            color=color, alpha=0.18, lw=0)
            rate = cf.fit.rate
            label = (f"{name.upper()} (fit {rate:+.2f}/step)".replace("-", "\u2212")
                     if math.isfinite(rate) else name.upper())
            ax.plot(cf.gaps[keep], q[1][keep], color=color, label=label)
            lowest = min(lowest, float(q[1][keep].min()))
            bound = cf.bound() if last_only else None  # the bound is for a loss at T only
            if bound is not None:
                ax.plot(cf.gaps, bound, color=color_for("bound"), ls="--", lw=1.0,
                        label=rf"RNN bound ${cf.sigma_max:.2f}^{{\,T-k}}$ (Pascanu et al.)")
        ax.set_yscale("log")
        T = result.settings["length"]
        ax.set_xlim(0, T)
        top = max(10.0, max(float(np.nanmax(cf.quantiles()[2])) for cf in result.cells.values()) * 3)
        ax.set_ylim(max(lowest / 10, 1e-300), min(top, 1e300))
        ax.set_xlabel(r"time gap $T-k$")
        if result.settings.get("loss", "last") == "last":
            ax.set_ylabel(r"$\|\partial L_T/\partial h_k\| \,/\, \|\partial L_T/\partial h_T\|$")
        else:  # the LM loss L = Σ_t L_t: the gradient at h_k collects every later step's loss
            ax.set_ylabel(r"$\|\partial L/\partial h_k\| \,/\, \|\partial L/\partial h_T\|$")
        ax.legend(frameon=False, loc="lower left", handlelength=1.8)
        fig.tight_layout()
    return save_figure(fig, stem)


def write_tables(result: GradientFlow, out_dir: str | Path) -> list[Path]:
    """``gradient_flow.csv`` (per cell and gap: quantiles, geometric mean, bound)
    and ``gradient_flow.json`` (fitted rates, bound, σ_max, spectral radius, settings)."""
    out_dir = Path(out_dir)
    buf = io.StringIO()
    rows = result.rows()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{v:.6e}" if isinstance(v, float) else v) for k, v in r.items()})
    csv_path, json_path = out_dir / "gradient_flow.csv", out_dir / "gradient_flow.json"
    write_text(csv_path, buf.getvalue())
    write_json(json_path, _finite_or_null(result.summary()))
    return [csv_path, json_path]


def _finite_or_null(obj):
    """JSON has no NaN/inf: a rate that could not be fitted is written as null."""
    if isinstance(obj, dict):
        return {k: _finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_null(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def describe(result: GradientFlow) -> str:
    """The fitted decay rates beside the bound, one line per cell, for printing."""
    s = result.settings
    where = (f"checkpoint {s['checkpoint']}" if s.get("checkpoint")
             else f"init U(±{s['init_scale']:.3g})")
    lines = [f"gradient flow: T={s['length']}, H={s['hidden']}, {s['n_seqs']} sequences, {where}, "
             f"loss at {'the last step' if s['loss'] == 'last' else 'every step'}",
             f"{'cell':<5} {'fitted rate':>12} {'per step':>9} {'bound rate':>11} {'σ_max':>7} {'ρ':>7}"]
    for name, cf in result.cells.items():
        bound = f"{math.log(cf.sigma_max):+.4f}" if name == "rnn" and s["loss"] == "last" else "—"
        lines.append(f"{name:<5} {cf.fit.rate:>+12.4f} {cf.fit.factor_per_step:>9.4f} {bound:>11} "
                     f"{cf.sigma_max:>7.3f} {cf.spectral_radius:>7.3f}")
    if "rnn" in result.cells and s["loss"] == "last":
        cf = result.cells["rnn"]
        ok = cf.fit.rate <= math.log(cf.sigma_max) + 1e-12
        lines.append(f"RNN: fitted rate {'≤' if ok else '>'} log σ_max = bound rate "
                     f"({'respects' if ok else 'VIOLATES'} the Pascanu bound)")
    if "lstm" in result.cells and "forget_gate" in result.cells["lstm"].extra:
        fg = result.cells["lstm"].extra["forget_gate"]
        lines.append(f"LSTM forget gate: mean {fg['mean']:.3f}, 10–90 % [{fg['q10']:.3f}, {fg['q90']:.3f}]")
    return "\n".join(lines)


def figure_5_2(out_dir: str | Path, cells=("rnn", "lstm", "gru"), length: int = 100,
               sigma_max_hh: float | None = 0.9, result: GradientFlow | None = None,
               **kwargs) -> list[Path]:
    """Compute the gradient flow (unless ``result`` is given) and write Figure 5.2
    (PDF + PNG) and its CSV/JSON into ``out_dir``; returns every path written.
    ``kwargs`` go to ``gradient_flow``."""
    if result is None:
        result = gradient_flow(cells=cells, length=length, sigma_max_hh=sigma_max_hh, **kwargs)
    out_dir = Path(out_dir)
    return plot_gradient_flow(result, out_dir / FIG_STEM) + write_tables(result, out_dir)
