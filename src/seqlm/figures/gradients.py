"""Figure 5.2: gradient magnitude against the time gap (the gradient lab's picture)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from seqlm.analysis.flow import GradientFlow, gradient_flow
from seqlm.analysis.summary import write_tables
from seqlm.figures.style import color_for, new_figure, rc_params, save_figure
from seqlm.reference.layout import cell_label

FIG_STEM = "fig5_2_vanishing_gradients"


def plot_gradient_flow(result: GradientFlow, stem: str | Path, width: str = "column") -> list[Path]:
    """Log-scale ‖∂L_T/∂h_k‖ / ‖∂L_T/∂h_T‖ against T − k: the median over sequences
    per cell, a shaded 10–90 % band, and the Pascanu bound (σ_max)^(T−k) dashed.
    Writes ``stem.pdf`` and ``stem.png``; returns the paths."""
    import matplotlib.pyplot as plt

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
            label = cell_label(name, result.settings.get("gru_variant", "cho"))
            if math.isfinite(rate):
                label += f", fit {rate:+.2f}/step".replace("-", "\u2212")
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
