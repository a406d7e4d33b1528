"""The long-lag tasks' learning curves (docs/longlag.md)."""
from __future__ import annotations

from seqlm.analysis.longlag import LongLagResult
from seqlm.analysis.tasks import TASKS
from seqlm.figures.style import color_for, new_figure, rc_params, save_figure
from seqlm.reference.layout import cell_label, gru_variant


def plot_learning_curves(results: list[LongLagResult], stem):
    """Test metric vs training step, one panel per length, one line per cell; PDF + PNG."""
    import matplotlib.pyplot as plt

    lengths = sorted({r.config.length for r in results})
    task = TASKS[results[0].config.task]
    wide = len(lengths) > 2
    with plt.rc_context(rc_params()):
        fig, ax0 = new_figure("text" if wide else "column", aspect=0.3 if wide else 0.72)
        fig.delaxes(ax0)
        axes = fig.subplots(1, len(lengths), sharey=True, squeeze=False)[0]
        for i, (ax, T) in enumerate(zip(axes, lengths)):
            for r in (r for r in results if r.config.length == T):
                steps = [p["step"] for p in r.curve]
                vals = [max(p["test"], 1e-4) for p in r.curve]
                ax.plot(steps, vals, color=color_for(r.config.cell),
                        label=cell_label(r.config.cell, gru_variant(r.config.backend, None)))
            ax.axhline(task.chance, color=color_for("bound"), ls=":", lw=0.9,
                       label=("predict the mean" if task.kind == "regression" else "guess") if i == 0 else None)
            ax.axhline(task.solved_threshold, color=color_for("bound"), ls="--", lw=0.9,
                       label="solved" if i == 0 else None)
            ax.set_yscale("log")
            ax.set_title(f"T = {T}")
            ax.set_xlabel("training step")
        axes[0].set_ylabel("test MSE" if task.kind == "regression" else "test error rate")
        axes[0].legend(frameon=False, fontsize=6)
        fig.tight_layout()
    return save_figure(fig, stem)
