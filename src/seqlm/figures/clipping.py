"""The clipping figure (Section 5.2.4): training loss and gradient norm per step, per mode.

Reads the ``runs`` dictionary of ``clipping.json`` (``seqlm clipping``), so it can
be redrawn without retraining. A diverged run leaves the plot upwards; a dotted
vertical line marks the step where its loss or gradient overflowed.
"""
from __future__ import annotations

from pathlib import Path

from seqlm.figures.style import color_for, new_figure, rc_params, save_figure

MODE_COLORS = {"none": color_for("rnn"), "norm": color_for("lstm"), "value": color_for("gru")}
MODE_LABELS = {"none": "no clipping", "norm": "norm clipping (Pascanu Alg. 1)",
               "value": "element-wise clipping"}


def plot_clipping(runs: dict[str, dict], config: dict, stem: str | Path) -> list[Path]:
    """Two panels sharing the step axis: training MSE (log) and ‖g‖ before clipping (log),
    one line per mode; the mean predictor's MSE 1/6 and the threshold dashed; a diverged run
    leaves the plot upwards and its last step is marked. PDF + PNG."""
    import matplotlib.pyplot as plt

    with plt.rc_context(rc_params()):
        fig, ax0 = new_figure("text", aspect=0.34)
        fig.delaxes(ax0)
        ax_loss, ax_norm = fig.subplots(1, 2, sharex=True)
        for mode, r in runs.items():
            color = MODE_COLORS.get(mode, color_for(mode))
            steps = range(len(r["losses"]))
            ax_loss.plot(steps, r["losses"], color=color, lw=0.8, label=MODE_LABELS.get(mode, mode))
            ax_norm.plot(steps, r["grad_norms"], color=color, lw=0.8)
            if r.get("diverged_at") is not None:  # it leaves the plot upwards: mark the step
                for ax in (ax_loss, ax_norm):
                    ax.axvline(r["diverged_at"], color=color, ls=":", lw=0.9)
                    ax.annotate(f"diverged at step {r['diverged_at']}", (r["diverged_at"], 0.97),
                                xycoords=("data", "axes fraction"), xytext=(3, 0),
                                textcoords="offset points", ha="left", va="top", fontsize=6.5,
                                color=color)
        # The y range of the runs that stayed finite (a diverged run climbs to 1e30 and more).
        finite = [r for r in runs.values() if r.get("diverged_at") is None] or list(runs.values())
        for ax, key, floor in ((ax_loss, "losses", 100.0), (ax_norm, "grad_norms", 1e3)):
            vals = [v for r in finite for v in r[key] if v > 0]
            if vals:
                ax.set_ylim(min(vals) / 2, max(floor, 3 * max(vals)))
        ax_loss.axhline(1 / 6, color=color_for("bound"), ls=":", lw=0.9, label="predict the mean (1/6)")
        ax_norm.axhline(config["threshold"], color=color_for("bound"), ls="--", lw=0.9,
                        label=f"threshold {config['threshold']:g}")
        for ax in (ax_loss, ax_norm):
            ax.set_yscale("log")
            ax.set_xlabel("training step")
        ax_loss.set_ylabel("training MSE (adding problem)")
        ax_norm.set_ylabel(r"$\|g\|$ before clipping")
        ax_loss.set_title(f"tanh RNN, H = {config['hidden']}, "
                          rf"$\sigma_{{\max}}(W_{{hh}}) \approx$ {next(iter(runs.values()))['sigma_max_init']:.1f}")
        ax_norm.set_title("gradient norm")
        ax_loss.legend(frameon=False, fontsize=6, loc="center right")
        ax_norm.legend(frameon=False, fontsize=6, loc="upper right")
        fig.tight_layout()
    return save_figure(fig, stem)
