"""One look for every matplotlib figure in seqlm.

Colours are fixed per model so that the RNN is the same colour in Figure 5.2,
5.5 and 5.6; sizes are a book's column width (3.35 in) or full text width
(6.9 in); every figure is saved as vector PDF (for the book) and PNG.
"""
from __future__ import annotations

from pathlib import Path

from seqlm.io import atomic_path

COLUMN_WIDTH_IN = 3.35
TEXT_WIDTH_IN = 6.9

# Okabe–Ito colour-blind-safe palette; n-grams in greys/browns, neural models in colour.
MODEL_COLORS = {
    "unigram": "#999999",
    "bigram": "#7f6a55",
    "trigram": "#4d3b2a",
    "ngram": "#4d3b2a",
    "ffnn": "#CC79A7",
    "rnn": "#D55E00",
    "lstm": "#0072B2",
    "gru": "#009E73",
    "oracle": "#000000",
    "bound": "#555555",
}
FALLBACK_COLORS = ["#E69F00", "#56B4E9", "#F0E442", "#8c564b", "#17becf"]


def color_for(name: str) -> str:
    """Colour of a model by name (``lstm``, ``trigram``, ``mkn-3``…); stable for unknown names."""
    key = name.lower()
    if key in MODEL_COLORS:
        return MODEL_COLORS[key]
    for k, c in MODEL_COLORS.items():
        if key.startswith(k):
            return c
    return FALLBACK_COLORS[sum(map(ord, key)) % len(FALLBACK_COLORS)]


def rc_params() -> dict:
    return {
        "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7,
        "xtick.labelsize": 7, "ytick.labelsize": 7, "lines.linewidth": 1.3,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
        "grid.alpha": 0.3, "grid.linewidth": 0.5, "savefig.bbox": "tight", "savefig.dpi": 200,
        "pdf.fonttype": 42, "ps.fonttype": 42, "figure.dpi": 100,
    }


def new_figure(width: str = "column", aspect: float = 0.72):
    """A ``(fig, ax)`` at column or text width, styled. Uses the Agg backend (no display)."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    w = COLUMN_WIDTH_IN if width == "column" else TEXT_WIDTH_IN
    with plt.rc_context(rc_params()):
        fig, ax = plt.subplots(figsize=(w, w * aspect))
    fig._seqlm_rc = rc_params()  # re-applied by save_figure so fonts match at save time
    return fig, ax


def save_figure(fig, stem: str | Path, formats: tuple[str, ...] = ("pdf", "png")) -> list[Path]:
    """Save ``fig`` as ``stem.pdf`` and ``stem.png`` atomically; returns the paths."""
    import matplotlib.pyplot as plt

    stem = Path(stem)
    out = []
    with plt.rc_context(getattr(fig, "_seqlm_rc", rc_params())):
        for ext in formats:
            path = stem.with_suffix(f".{ext}")
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=ext)
            out.append(path)
    plt.close(fig)
    return out
