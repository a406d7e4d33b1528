"""Figures 5.1–5.6: TikZ diagrams (5.1, 5.3, 5.4) and matplotlib plots (5.2, 5.5, 5.6).

:func:`make_figures` writes all six into one directory, each as PDF (vector,
for the book) and PNG; it is what ``seqlm figures`` and ``seqlm compare`` call.

=========  ==============================  ===========================================
figure     file stem                       made by
=========  ==============================  ===========================================
5.1        ``fig5_1_rnn_unrolled``         TikZ (:mod:`seqlm.figures.tikz`; shipped renders without TeX)
5.2        ``fig5_2_vanishing_gradients``  the gradient lab (:mod:`seqlm.analysis`)
5.3        ``fig5_3_lstm_cell``            TikZ
5.4        ``fig5_4_gru_cell``             TikZ
5.5        ``fig5_5_training_curves``      :func:`seqlm.figures.plots.plot_training_curves`
5.6        ``fig5_6_perplexity``           :func:`seqlm.figures.plots.plot_perplexity`
=========  ==============================  ===========================================
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from seqlm.errors import SeqlmError
from seqlm.lm.config import gru_variant_of
from seqlm.reference.layout import cell_label

CAPTIONS = {
    "5.1": "A vanilla RNN folded (left) and unrolled through time (right): the same W_xh, W_hh, "
           "W_hy at every step (eqs. 5.1–5.2).",
    "5.2": "Vanishing gradients: the gradient norm ‖∂L_T/∂h_k‖ against the time gap T − k "
           "(log scale) for the RNN, LSTM and {gru_lab}, from the gradient lab (seqlm gradients).",
    "5.3": "The LSTM cell: the cell state c_t is an additive highway regulated by the forget, "
           "input and output gates (eqs. 5.4–5.8).",
    "5.4": "The GRU (cho) cell, as the book writes it (the reset gate applied before the matrix "
           "product): update gate z_t and reset gate r_t, no separate cell state (eqs. 5.9–5.11).",
    "5.5": "Training curves: train (dashed) and validation (solid, stream mode) cross-entropy "
           "per epoch for the RNN, LSTM and {gru_lm} language models on the same corpus.",
    "5.6": "Test perplexity of n-gram and neural language models on the same held-out set "
           "(bars: sentence mode; diamonds: the neural models in stream mode).",
}
STEMS = {
    "5.1": "fig5_1_rnn_unrolled", "5.2": "fig5_2_vanishing_gradients", "5.3": "fig5_3_lstm_cell",
    "5.4": "fig5_4_gru_cell", "5.5": "fig5_5_training_curves", "5.6": "fig5_6_perplexity",
}


@dataclass
class Figure:
    number: str                 # "5.1" … "5.6"
    stem: str
    caption: str
    files: list[Path] = field(default_factory=list)
    note: str = ""              # why a figure is missing or incomplete

    def file(self, ext: str) -> Path | None:
        for f in self.files:
            if f.suffix == f".{ext}":
                return f
        return None


def captions(results: dict | None = None, gradient_variant: str = "cho") -> dict[str, str]:
    """The six captions, each GRU named with its variant: Figure 5.2's from the gradient
    lab's settings (its default: the book's cho), Figure 5.5's from the comparison's GRU
    row (unnamed only when there is none)."""
    rows = [m for m in (results or {}).get("models", []) if m.get("name") == "gru"]
    lm_variant = gru_variant_of((rows[0].get("config") or {}).get("model")) if rows else None
    names = {"gru_lab": cell_label("gru", gradient_variant), "gru_lm": cell_label("gru", lm_variant)}
    return {n: c.format(**names) for n, c in CAPTIONS.items()}


def make_figures(out_dir: str | Path, results: dict | None = None, tikz: bool = True,
                 gradients: bool = True, gradient_kwargs: dict | None = None,
                 log=print) -> list[Figure]:
    """Write Figures 5.1–5.6 into ``out_dir``; returns one :class:`Figure` per number.

    ``results`` is a comparison's ``results.json`` dictionary (Figures 5.5, 5.6
    need it; without it they are skipped with a note). ``gradient_kwargs`` go to
    :func:`seqlm.figures.gradients.figure_5_2` (e.g. a shorter ``length`` for tests).
    ``log`` receives one line per skipped figure.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = captions(results, (gradient_kwargs or {}).get("variant", "cho"))
    figs = {n: Figure(n, STEMS[n], text[n]) for n in STEMS}

    if tikz:
        from seqlm.figures.tikz import write_tikz_figures
        t = write_tikz_figures(out_dir)
        for n in ("5.1", "5.3", "5.4"):
            figs[n].files = t.files[STEMS[n]]
            if not (t.compiled or t.shipped):
                figs[n].note = t.message
        if not t.compiled:
            log(t.message)

    if gradients:
        try:
            from seqlm.figures.gradients import figure_5_2
        except ImportError as e:  # the gradient lab is optional at import time
            figs["5.2"].note = f"Figure 5.2 skipped: the gradient lab is not available ({e})"
            log(figs["5.2"].note)
        else:
            paths = figure_5_2(out_dir, **(gradient_kwargs or {}))
            figs["5.2"].files = [p for p in paths if p.suffix in (".pdf", ".png")]

    if results is not None:
        from seqlm.figures.plots import plot_perplexity, plot_training_curves
        for n, fn in (("5.5", plot_training_curves), ("5.6", plot_perplexity)):
            try:
                figs[n].files = fn(results, out_dir / STEMS[n])
            except SeqlmError as e:
                figs[n].note = f"Figure {n} skipped: {e}"
                log(figs[n].note)
        epochs = max((h["epoch"] for m in results.get("models", []) for h in m.get("history", [])),
                     default=0)
        if epochs >= 5:
            figs["5.5"].caption += " The inset zooms into epochs 3 and later."
        if "oracle_test_ppl" in results and results["oracle_test_ppl"]:
            figs["5.6"].caption += " The dashed line is the oracle perplexity (the true distribution)."
    else:
        for n in ("5.5", "5.6"):
            figs[n].note = f"Figure {n} needs a comparison's results.json"
    return [figs[n] for n in STEMS]


def existing_figures(out_dir: str | Path) -> list[Figure]:
    """The figures already present in ``out_dir`` (for a report made without redrawing)."""
    out_dir = Path(out_dir)
    figs, text = [], captions()
    for n, stem in STEMS.items():
        files = [out_dir / f"{stem}.{ext}" for ext in ("pdf", "png") if (out_dir / f"{stem}.{ext}").exists()]
        figs.append(Figure(n, stem, text[n], files, "" if files else "not drawn (--no-figures)"))
    return figs
