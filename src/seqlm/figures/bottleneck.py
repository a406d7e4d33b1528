"""The bottleneck figures: accuracy against sequence length, and per output position.

Both read the ``results`` list of ``bottleneck.json`` (``seqlm bottleneck``), so
they can be redrawn without retraining. Colour = cell (the colours of every
seqlm figure); line style = hidden size (solid: the largest).
"""
from __future__ import annotations

from pathlib import Path

from seqlm.figures.style import color_for, new_figure, rc_params, save_figure
from seqlm.reference.layout import cell_label, gru_variant

STYLES = ("-", "--", ":", "-.")


def _series(results: list[dict]):
    """{(cell, H): [result dicts sorted by T]}, cells in rnn/lstm/gru order, H descending."""
    out: dict = {}
    for r in results:
        c = r["config"]
        out.setdefault((c["cell"], c["hidden"]), []).append(r)
    order = {"rnn": 0, "lstm": 1, "gru": 2}
    keys = sorted(out, key=lambda k: (order.get(k[0], 9), -k[1]))
    return {k: sorted(out[k], key=lambda r: r["config"]["length"]) for k in keys}


def _label(cell: str, H: int, rs: list[dict]) -> str:
    """"GRU (reset-after), H = 64": the variant of a GRU from the backend it ran on."""
    variant = gru_variant(rs[0]["config"].get("backend", "fused"), None)
    return f"{cell_label(cell, variant)}, H = {H}"


def _style(hiddens: list[int], H: int) -> str:
    return STYLES[sorted(hiddens, reverse=True).index(H) % len(STYLES)]


def plot_accuracy_vs_length(results: list[dict], stem: str | Path) -> list[Path]:
    """Two panels against T (log axis): greedy token accuracy and exact-sequence accuracy,
    one curve per (cell, H), chance 1/V dotted. PDF + PNG."""
    import matplotlib.pyplot as plt

    series = _series(results)
    hiddens = sorted({H for _, H in series})
    c0 = results[0]["config"]
    lengths = sorted({r["config"]["length"] for r in results})
    with plt.rc_context(rc_params()):
        fig, ax0 = new_figure("text", aspect=0.34)
        fig.delaxes(ax0)
        axes = fig.subplots(1, 2, sharex=True)
        for (cell, H), rs in series.items():
            Ts = [r["config"]["length"] for r in rs]
            kw = dict(color=color_for(cell), ls=_style(hiddens, H), marker="o", ms=3,
                      label=_label(cell, H, rs))
            axes[0].plot(Ts, [r["token_accuracy"] for r in rs], **kw)
            axes[1].plot(Ts, [r["sequence_accuracy"] for r in rs], **kw)
        axes[0].axhline(1 / c0["symbols"], color=color_for("bound"), ls=":", lw=0.9,
                        label=f"chance 1/{c0['symbols']}")
        for ax, name in zip(axes, ("token accuracy (greedy)", "exact-sequence accuracy")):
            ax.set_xscale("log", base=2)
            ax.set_xticks(lengths, [str(T) for T in lengths])
            ax.minorticks_off()
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel("sequence length T")
            ax.set_ylabel(name)
        axes[0].set_title(f"{c0['task']}: test accuracy through a fixed-size $h_T$")
        axes[1].set_title("whole sequence right")
        axes[1].legend(frameon=False, fontsize=6, loc="upper right")
        axes[0].legend(handles=axes[0].get_lines()[-1:], frameon=False, fontsize=6, loc="upper right")
        fig.tight_layout()
    return save_figure(fig, stem)


def plot_position_accuracy(results: list[dict], stem: str | Path) -> list[Path]:
    """Greedy test accuracy at each output position j, one panel per length T,
    one curve per (cell, H). PDF + PNG."""
    import matplotlib.pyplot as plt

    series = _series(results)
    hiddens = sorted({H for _, H in series})
    c0 = results[0]["config"]
    lengths = sorted({r["config"]["length"] for r in results})
    with plt.rc_context(rc_params()):
        fig, ax0 = new_figure("text", aspect=0.26 if len(lengths) > 3 else 0.34)
        fig.delaxes(ax0)
        axes = fig.subplots(1, len(lengths), sharey=True, squeeze=False)[0]
        for ax, T in zip(axes, lengths):
            for (cell, H), rs in series.items():
                for r in rs:
                    if r["config"]["length"] == T:
                        acc = r["position_accuracy"]
                        ax.plot(range(1, len(acc) + 1), acc, color=color_for(cell),
                                ls=_style(hiddens, H), lw=1.0, label=_label(cell, H, rs))
            ax.axhline(1 / c0["symbols"], color=color_for("bound"), ls=":", lw=0.8)
            ax.set_title(f"T = {T}")
            ax.set_xlabel("output position j")
            ax.set_ylim(-0.02, 1.02)
        axes[0].set_ylabel(f"{c0['task']}: accuracy at j")
        axes[-1].legend(frameon=False, fontsize=5.5, loc="upper right")
        fig.tight_layout()
    return save_figure(fig, stem)
