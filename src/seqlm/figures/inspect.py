"""Figures of the inspection (``seqlm inspect``): gate heatmaps over a text, the gate
saturation scatter (Karpathy, Johnson & Fei-Fei 2015, Fig. 3), and how far back a
trained model looks (‖∂ ln p(w_t)/∂e_{t−k}‖ against k, the trained Figure 5.2).

Each takes the numbers of :mod:`seqlm.analysis.inspect` / :mod:`seqlm.analysis.lookback`
and writes ``stem.pdf`` and ``stem.png``; each returns the paths.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from seqlm.analysis.inspect import LABELS, SIGMOID_GATES
from seqlm.figures.plots import _styled
from seqlm.figures.style import TEXT_WIDTH_IN, color_for, save_figure

GATE_COLORS = {"f": "#0072B2", "i": "#E69F00", "o": "#009E73", "z": "#CC79A7", "r": "#D55E00"}
LAYER_MARKERS = ("o", "^", "s", "D", "v")


def value_range(name: str, values: np.ndarray) -> tuple[float, float, str]:
    """(vmin, vmax, colormap) of a gate or state: σ-gates on [0, 1], the rest
    symmetric around 0 (tanh range, or the largest |c_t|)."""
    if name in ("f", "i", "o", "z", "r"):
        return 0.0, 1.0, "viridis"
    m = max(1.0, float(np.abs(values).max())) if name == "c" else 1.0
    return -m, m, "RdBu_r"


@_styled
def plot_gate_heatmaps(layer: dict[str, np.ndarray], tokens: list[str], stem: str | Path,
                       p_next: np.ndarray | None = None, title: str = "",
                       max_units: int = 64) -> list[Path]:
    """One heatmap per gate/state of one layer: units (rows) against the tokens read
    (columns); above them, the probability the model gave the next token."""
    import matplotlib.pyplot as plt

    names = list(layer)
    N = len(tokens)
    H = min(max_units, next(iter(layer.values())).shape[1])
    top = 1 if p_next is not None else 0
    ratios = [0.6] * top + [max(1.0, H / 16)] * len(names)
    width = min(TEXT_WIDTH_IN * 1.6, max(TEXT_WIDTH_IN, 0.12 * N + 1.2))
    fig, axes = plt.subplots(len(names) + top, 1, sharex=True, squeeze=False,
                             figsize=(width, 0.35 + 0.45 * sum(ratios)),
                             gridspec_kw={"height_ratios": ratios, "hspace": 0.18})
    axes = axes[:, 0]
    if p_next is not None:
        ax = axes[0]
        ax.bar(np.arange(N), p_next, width=0.8, color="0.35")
        ax.set_ylim(0, 1)
        ax.set_ylabel("p(next)", rotation=0, ha="right", va="center")
        ax.grid(False)
    for ax, name in zip(axes[top:], names):
        v = layer[name][:N, :H].T                           # (H, N): units down, time across
        vmin, vmax, cmap = value_range(name, v)
        im = ax.imshow(v, aspect="auto", interpolation="nearest", cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_ylabel(LABELS[name].split(",")[0], rotation=0, ha="right", va="center")
        ax.set_yticks([0, H - 1], [1, H])
        ax.grid(False)
        # the colour bar sits outside the axes, so every panel keeps the bar chart's width
        cb = fig.colorbar(im, cax=ax.inset_axes([1.01, 0.08, 0.012, 0.84]))
        cb.set_ticks([vmin, (vmin + vmax) / 2, vmax])             # three ticks: no overlap between panels
        cb.ax.tick_params(labelsize=5.5)
    axes[-1].set_xticks(np.arange(N), tokens if N <= 120 else [""] * N, rotation=90, fontsize=6)
    if N > 120:
        axes[-1].set_xlabel(f"{N} tokens read (too many to label)")
    if title:
        axes[0].set_title(title)
    return save_figure(fig, stem)


@_styled
def plot_saturation(saturations: dict, stem: str | Path) -> list[Path]:
    """Karpathy et al. (2015), Fig. 3: per gate unit, the fraction of steps it is
    left-saturated (x) against right-saturated (y); one panel per model, colour per
    gate, marker per layer. Points near (0, 0) are never saturated; near the
    diagonal x + y = 1, always saturated one way or the other."""
    import matplotlib.lines as mlines
    import matplotlib.pyplot as plt

    labels = list(saturations)
    if not labels:
        raise ValueError("no saturation statistics to plot")
    fig, axes = plt.subplots(1, len(labels), squeeze=False, sharey=True,
                             figsize=(min(TEXT_WIDTH_IN, 3.0 * len(labels)), 2.9))
    for ax, lab in zip(axes[0], labels):
        sat = saturations[lab]
        handles = []
        for l, gates in enumerate(sat.layers):
            mk = LAYER_MARKERS[l % len(LAYER_MARKERS)]
            for g, (left, right) in gates.items():
                ax.scatter(left, right, s=9, marker=mk, color=GATE_COLORS.get(g, "0.3"), alpha=0.6,
                           linewidths=0)
        for g in SIGMOID_GATES[sat.cell]:
            handles.append(mlines.Line2D([], [], ls="", marker="o", ms=4, color=GATE_COLORS[g],
                                         label=LABELS[g].split(",")[1].strip().split(" (")[0]))
        if len(sat.layers) > 1:
            handles += [mlines.Line2D([], [], ls="", marker=LAYER_MARKERS[l], ms=4, color="0.4",
                                      label=f"layer {l + 1}") for l in range(len(sat.layers))]
        ax.plot([0, 1], [1, 0], ls="--", color="0.6", lw=0.8)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_aspect("equal")
        ax.set_title(lab, color=color_for(sat.cell))
        ax.set_xlabel(f"fraction left-saturated (< {sat.low:g})")
        ax.legend(handles=handles, loc="upper right", frameon=False, handletextpad=0.2)
    axes[0][0].set_ylabel(f"fraction right-saturated (> {saturations[labels[0]].high:g})")
    fig.tight_layout()
    return save_figure(fig, stem)


@_styled
def plot_lookback(curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], stem: str | Path,
                  min_count: int = 20, title: str = "") -> list[Path]:
    """How far back trained models look, one curve per model. Left: the mean
    ‖∂ ln p(w_t)/∂e_{t−k}‖ against the lag k; right: the same relative to k = 1
    (geometric mean over targets), which compares decay rates across models whose
    embeddings differ in scale. ``curves[label] = (mean, relative, counts)``, each
    (K,) with lag k in entry k - 1. Lags reached by fewer than ``min_count``
    targets are not drawn (too few to average)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH_IN, 2.6))
    drawn = 0
    for lab, (mean, rel, counts) in curves.items():
        ok = (counts >= min_count) & np.isfinite(mean) & (mean > 0) & np.isfinite(rel)
        if ok.any():
            k = np.flatnonzero(ok) + 1
            kw = dict(marker="o", ms=2, label=lab, color=color_for(lab.split()[0]))
            axes[0].plot(k, mean[ok], **kw)
            axes[1].plot(k, rel[ok], **kw)
            drawn += 1
    if not drawn:
        raise ValueError(f"no lag is reached by {min_count} targets")
    for ax, ylab in zip(axes, (r"mean $\|\partial \ln p(w_t)/\partial e_{t-k}\|$",
                               r"relative to $k = 1$ (geometric mean)")):
        ax.set_yscale("log")
        ax.set_xlabel("lag k (tokens back)")
        ax.set_ylabel(ylab)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    axes[0].legend(frameon=False)
    fig.tight_layout()
    return save_figure(fig, stem)
