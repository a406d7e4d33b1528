"""Figures 5.5 (training curves) and 5.6 (perplexity comparison), from a comparison's results.

Both read the ``results.json`` dictionary written by ``seqlm compare`` (see
:mod:`seqlm.compare.results`), so ``seqlm figures --run DIR`` can redraw them
at any time without retraining. Colours come from
:func:`seqlm.figures.style.color_for`, the same for a model in every figure.
"""
from __future__ import annotations

import math
from pathlib import Path

from seqlm.errors import SeqlmError
from seqlm.figures.style import color_for, new_figure, rc_params, save_figure
from seqlm.lm.config import gru_variant_of
from seqlm.reference.layout import with_variant

# The models of Figure 5.6, left to right: count-based, then neural.
BAR_ORDER = ("unigram", "bigram", "trigram", "ffnn", "rnn", "lstm", "gru")
CURVE_MODELS = ("rnn", "lstm", "gru")
LABELS = {"unigram": "unigram", "bigram": "bigram", "trigram": "trigram", "ffnn": "FFNN",
          "rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def label(model: dict) -> str:
    """A results row's name in a legend or tick: "GRU (reset-after)" for a GRU, from its settings."""
    settings = (model.get("config") or {}).get("model")
    return with_variant(LABELS.get(model["name"], model["name"]), gru_variant_of(settings))


def _models(results: dict) -> dict[str, dict]:
    return {m["name"]: m for m in results.get("models", [])}


def _styled(fn):
    """Run a plotting function inside the shared rc context, so legends and
    annotations get the book's font sizes at creation, not only at save time."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import matplotlib
        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
        with plt.rc_context(rc_params()):
            return fn(*args, **kwargs)
    return wrapper


@_styled
def plot_training_curves(results: dict, stem: str | Path, models=CURVE_MODELS) -> list[Path]:
    """Figure 5.5: train (dashed) and validation (solid) cross-entropy per epoch for
    the recurrent models, with the oracle's validation entropy as the floor."""
    import matplotlib.lines as mlines

    by_name = _models(results)
    curves = [(n, by_name[n]["history"]) for n in models if by_name.get(n, {}).get("history")]
    if not curves:
        raise SeqlmError("no training history for any of " + ", ".join(models))
    fig, ax = new_figure("column", aspect=0.72)
    handles = []
    max_epoch = 1
    for name, hist in curves:
        c = color_for(name)
        ep = [h["epoch"] for h in hist]
        max_epoch = max(max_epoch, max(ep))
        tr = [(h["epoch"], h["train_loss"]) for h in hist if h.get("train_loss") is not None]
        va = [(h["epoch"], h["valid_loss"]) for h in hist if h.get("valid_loss") is not None]
        if tr:
            ax.plot(*zip(*tr), ls="--", marker="o", ms=2.5, mfc="white", color=c, lw=1.1)
        if va:
            ax.plot(*zip(*va), ls="-", marker="o", ms=3, color=c)
        handles.append(mlines.Line2D([], [], color=c, marker="o", ms=3, label=label(by_name[name])))
    oracle = results.get("oracle_valid_ppl")
    if max_epoch >= 5:  # the first epochs dwarf the end, where the models differ: zoom in
        _zoom(ax, curves, oracle, first=3)
    if oracle:
        ax.axhline(math.log(oracle), color=color_for("oracle"), ls=":", lw=1.0)
        handles.append(mlines.Line2D([], [], color=color_for("oracle"), ls=":", lw=1.0,
                                     label="oracle (valid)"))
    handles += [mlines.Line2D([], [], color="0.4", ls="-", label="validation"),
                mlines.Line2D([], [], color="0.4", ls="--", label="train")]
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy (nats / token)")
    ax.set_xticks(range(1, max_epoch + 1) if max_epoch <= 15 else
                  range(1, max_epoch + 1, max(1, max_epoch // 8)))
    # Above the axes: curves of real runs go anywhere inside them.
    ax.legend(handles=handles, ncol=3, frameon=False, loc="lower left", mode="expand",
              bbox_to_anchor=(0, 1.01, 1, 0.2), handlelength=2.2, borderaxespad=0.2)
    ax.set_xlim(0.7, max_epoch + 0.3)
    return save_figure(fig, stem)


def _zoom(ax, curves, oracle, first: int) -> None:
    """An inset with epochs ``first``.. of the same curves, on a tight y range."""
    axins = ax.inset_axes([0.36, 0.36, 0.6, 0.5])
    ys = []
    for name, hist in curves:
        c = color_for(name)
        for key, ls, mfc in (("train_loss", "--", "white"), ("valid_loss", "-", c)):
            pts = [(h["epoch"], h[key]) for h in hist if h["epoch"] >= first and h.get(key) is not None]
            if pts:
                axins.plot(*zip(*pts), ls=ls, marker="o", ms=2, mfc=mfc, color=c, lw=1.0)
                ys += [y for _, y in pts]
    if oracle:
        axins.axhline(math.log(oracle), color=color_for("oracle"), ls=":", lw=1.0)
        ys.append(math.log(oracle))
    if not ys:
        axins.remove()
        return
    lo, hi = min(ys), max(ys)
    pad = 0.08 * (hi - lo or 1e-3)
    axins.set_ylim(lo - pad, hi + pad)
    axins.tick_params(labelsize=6, length=2)
    axins.grid(True, alpha=0.3, lw=0.4)
    axins.set_title(f"epochs {first}+", fontsize=6, pad=2)
    for side in ("top", "right"):
        axins.spines[side].set_visible(True)
        axins.spines[side].set_linewidth(0.5)
    from matplotlib.ticker import MaxNLocator
    axins.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    axins.yaxis.set_major_locator(MaxNLocator(nbins=4))


def _fmt(v: float) -> str:
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


@_styled
def plot_perplexity(results: dict, stem: str | Path, split: str = "test",
                    order=BAR_ORDER) -> list[Path]:
    """Figure 5.6: perplexity of every model on the same held-out split (``sentence``
    mode, the apples-to-apples convention), log scale, values on the bars, and the
    oracle perplexity as a dashed floor where it is known."""
    by_name = _models(results)
    key = f"{split}_ppl"
    bars = [(n, by_name[n][key]) for n in order
            if n in by_name and by_name[n].get(key) is not None and math.isfinite(by_name[n][key])]
    if not bars:
        raise SeqlmError(f"no finite {key} for any of " + ", ".join(order))
    fig, ax = new_figure("column", aspect=0.72)
    xs = range(len(bars))
    vals = [v for _, v in bars]
    oracle = results.get(f"oracle_{split}_ppl")
    lo = min(vals + ([oracle] if oracle else []))
    hi = max(vals)
    ax.set_yscale("log")
    floor = lo / 1.6  # bars start at the bottom of the log axis
    ax.bar(xs, [v - floor for v in vals], width=0.68, bottom=floor, edgecolor="black",
           color=[color_for(n) for n, _ in bars], linewidth=0.4, zorder=2)
    stream = [(x, by_name[n].get(f"stream_{key}")) for x, (n, _) in zip(xs, bars)]
    stream = [(x, v) for x, v in stream if v is not None and math.isfinite(v)]
    if stream:  # neural models also in stream mode: state carried across sentences
        ax.plot([x for x, _ in stream], [v for _, v in stream], ls="none", marker="D", ms=3.2,
                mfc="white", mec="black", mew=0.7, zorder=4, label="stream mode")
    top = dict(stream)
    for x, v in zip(xs, vals):  # the value above the bar (and above its stream marker)
        ax.annotate(_fmt(v), (x, max(v, top.get(x, v))), xytext=(0, 3.5), textcoords="offset points",
                    ha="center", va="bottom", fontsize=6.5)
    if oracle:
        ax.axhline(oracle, color=color_for("oracle"), ls="--", lw=0.9, zorder=3,
                   label=f"oracle {_fmt(oracle)}")
    if oracle or stream:
        ax.legend(loc="upper right", bbox_to_anchor=(1.0, 0.93), frameon=False)
    ax.set_ylim(floor, hi * 1.6)
    ax.set_xticks(list(xs), [label(by_name[n]) for n, _ in bars], rotation=30, ha="right",
                  rotation_mode="anchor")
    ax.set_xlim(-0.6, len(bars) - 0.4)
    n_count = sum(1 for n, _ in bars if n in ("unigram", "bigram", "trigram"))
    if 0 < n_count < len(bars):
        ax.axvline(n_count - 0.5, color="0.6", lw=0.6, ls=":", zorder=1)
        ax.annotate("count-based", (n_count / 2 - 0.5, 1.0), xycoords=("data", "axes fraction"),
                    ha="center", va="top", fontsize=6.5, color="0.35")
        ax.annotate("neural", ((n_count + len(bars) - 1) / 2, 1.0), xycoords=("data", "axes fraction"),
                    ha="center", va="top", fontsize=6.5, color="0.35")
    mode = results.get("eval_mode", "sentence")
    ax.set_ylabel(f"{split} perplexity (log scale)")
    ax.set_xlabel(f"{results.get('data', {}).get('name', 'held-out')} {split} set, {mode} mode")
    ax.grid(axis="x", visible=False)
    ax.yaxis.set_major_formatter(_plain_formatter())
    ax.yaxis.set_minor_formatter(_plain_formatter(minor=True))
    return save_figure(fig, stem)


def _plain_formatter(minor: bool = False):
    """Tick labels 2, 3, 5, 10, 20 … instead of 10^0 on a log axis (few, readable)."""
    from matplotlib.ticker import FuncFormatter

    def fmt(v, _pos):
        if v <= 0:
            return ""
        mant = v / 10 ** math.floor(math.log10(v) + 1e-9)
        if minor and round(mant, 6) not in (2.0, 3.0, 5.0):
            return ""
        return f"{v:g}"
    return FuncFormatter(fmt)
