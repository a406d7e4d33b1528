"""The gradient lab's numbers as files and text: Figure 5.2's CSV/JSON and a summary.

The figure itself is drawn in :mod:`seqlm.figures.gradients`."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from seqlm.analysis.flow import GradientFlow
from seqlm.io import write_json, write_text


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
