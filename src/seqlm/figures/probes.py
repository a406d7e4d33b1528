"""The probe figure: held-out probe accuracy per feature and model (and on the
agreement-attractor tokens), against the majority baseline and the untrained control.

Reads the rows of :func:`seqlm.analysis.probes.summary_rows` (``probe.json``'s
``summary``), so ``seqlm probe`` output can be redrawn without re-probing.
"""
from __future__ import annotations

from pathlib import Path

from seqlm.figures.style import color_for, new_figure, rc_params, save_figure
from seqlm.reference.layout import with_variant


def _groups(rows: list[dict]) -> list[tuple[str, str, str, str, str | None]]:
    """(feature, label, accuracy key, control key, majority key or None) per bar group: every
    feature, then the number features on their attractor tokens."""
    features = list(dict.fromkeys(r["feature"] for r in rows))
    groups = [(f, f.replace("_", " "), "accuracy", "control", "majority") for f in features]
    groups += [(f, f.replace("_", " ") + "\non attractors", "attractor_accuracy",
                "control_attractor_accuracy", None)
               for f in features if any(r.get("attractor_accuracy") is not None
                                        for r in rows if r["feature"] == f)]
    return groups


def _label(model: str, row: dict) -> str:
    """The legend's name of a model: the cell in capitals, a GRU with its variant."""
    return with_variant(model.upper() if model in ("rnn", "lstm", "gru") else model, row.get("variant"))


def plot_probe_accuracy(rows: list[dict], stem: str | Path) -> list[Path]:
    """Grouped bars: one group per feature (and per number feature on its attractor
    tokens), one bar per model (its best layer/state); a white diamond marks the
    untrained control, a black bar the majority baseline."""
    import matplotlib.lines as mlines
    import matplotlib.patches as mpatches
    import matplotlib.pyplot as plt

    groups = _groups(rows)
    models = list(dict.fromkeys(r["model"] for r in rows))
    width = 0.8 / max(1, len(models))
    with plt.rc_context(rc_params()):
        fig, ax = new_figure("text" if len(groups) > 3 else "column", aspect=0.34)
        for i, (f, _, acc, ctl, maj) in enumerate(groups):
            base = None
            for j, m in enumerate(models):
                r = next((r for r in rows if r["feature"] == f and r["model"] == m), None)
                if r is None or r.get(acc) is None:
                    continue
                x = i - 0.4 + width * (j + 0.5)
                ax.bar(x, r[acc], width * 0.92, color=color_for(r["cell"]), zorder=2)
                if r.get(ctl) is not None:  # a control was run
                    ax.plot([x], [r[ctl]], marker="D", ms=3.5, mfc="white", mec="black",
                            mew=0.7, ls="none", zorder=4)
                base = r[maj] if maj else None
            if base is not None:
                ax.plot([i - 0.44, i + 0.44], [base, base], color="black", lw=1.4, zorder=3)
        ax.set_xticks(range(len(groups)), [g[1] for g in groups])
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("held-out probe accuracy")
        ax.grid(axis="x", visible=False)
        first = {m: next(r for r in rows if r["model"] == m) for m in models}
        handles = [mpatches.Patch(color=color_for(first[m]["cell"]), label=_label(m, first[m]))
                   for m in models]
        handles.append(mlines.Line2D([], [], color="black", lw=1.4, label="majority baseline"))
        if any(r.get("control") is not None for r in rows):
            handles.append(mlines.Line2D([], [], marker="D", ms=3.5, mfc="white", mec="black", ls="none",
                                         label="untrained control"))
        ax.legend(handles=handles, ncol=len(handles), frameon=False, loc="lower left", mode="expand",
                  bbox_to_anchor=(0, 1.01, 1, 0.2), borderaxespad=0.2, fontsize=6.5)
        fig.tight_layout()
    return save_figure(fig, stem)
