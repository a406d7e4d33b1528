"""Gradient flow through time (Sec. 5.2.1, 5.2.3): ‖∂L_T/∂h_k‖ for every k.

A batch of random sequences goes through a freshly initialised RNN, LSTM or GRU
(the NumPy reference, float64); a softmax output layer (eq. 5.2) puts a
cross-entropy loss on the last step only (``loss="last"``: L = L_T, the
quantity of eq. 5.3) or on every step (``loss="all"``: the LM loss Σ_t L_t).
The reference's hand-written BPTT returns the total ∂L/∂h_k for every k; we
record its norm per sequence, as a function of the time gap T − k, normalised
by the norm at the gap 0 so that all cells start at 1 and the Pascanu bound
(γ σ_max)^(T−k) is a line through the origin of the log plot.

``seqlm.analysis.torch_check`` recomputes the same numbers with autograd on
the PyTorch cells; the tests hold the two to 1e-10.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqlm.analysis.jacobians import forget_gate_stats
from seqlm.analysis.theory import DecayFit, fit_decay_rate, sigma_max, spectral_radius
from seqlm.errors import SeqlmError
from seqlm.reference import GRU, LSTM, RNN, SoftmaxOutput

CELLS = ("rnn", "lstm", "gru")
QUANTILES = (0.1, 0.5, 0.9)


@dataclass
class CellFlow:
    """Gradient-flow measurements of one cell."""

    cell: str
    gaps: np.ndarray  # (T+1,) 0..T
    norms: np.ndarray  # (N, T+1): ‖∂L/∂h_{T−gap}‖ per sequence (raw)
    fit: DecayFit  # of the mean log relative norm against the gap (gaps ≥ 1)
    sigma_max: float  # of the recurrent matrix (see ``recurrent_matrix``)
    spectral_radius: float
    extra: dict = field(default_factory=dict)  # LSTM: forget-gate statistics

    @property
    def relative(self) -> np.ndarray:
        """norms / norm at gap 0, per sequence: (N, T+1)."""
        return self.norms / self.norms[:, :1]

    def quantiles(self, qs=QUANTILES) -> np.ndarray:
        """(len(qs), T+1) quantiles of the relative norm across sequences."""
        return np.quantile(self.relative, qs, axis=0)

    def geometric_mean(self) -> np.ndarray:
        """exp(mean log relative norm): the curve whose slope ``fit`` measures."""
        with np.errstate(divide="ignore"):
            return np.exp(np.mean(np.log(self.relative), axis=0))

    def bound(self) -> np.ndarray | None:
        """(γ σ_max)^gap with γ = 1 (tanh): the Pascanu bound; only for the vanilla RNN."""
        return self.sigma_max ** self.gaps.astype(float) if self.cell == "rnn" else None


@dataclass
class GradientFlow:
    """The result of ``gradient_flow``: one ``CellFlow`` per cell and the settings."""

    cells: dict[str, CellFlow]
    settings: dict

    def rows(self) -> list[dict]:
        """Long-format rows for CSV: cell, gap, quantiles and geometric mean, bound."""
        out = []
        for name, cf in self.cells.items():
            q = cf.quantiles()
            gm = cf.geometric_mean()
            b = cf.bound() if self.settings.get("loss") == "last" else None
            for g in cf.gaps:
                out.append({"cell": name, "gap": int(g), "q10": q[0, g], "median": q[1, g],
                            "q90": q[2, g], "geomean": gm[g],
                            "bound": "" if b is None else b[g]})
        return out

    def summary(self) -> dict:
        """JSON-able numbers: per cell the fitted rate, the bound rate, σ_max, ρ."""
        cells = {}
        for name, cf in self.cells.items():
            d = {"fitted_rate": cf.fit.rate, "fitted_factor_per_step": cf.fit.factor_per_step,
                 "fit_points": cf.fit.n_points, "sigma_max": cf.sigma_max,
                 "spectral_radius": cf.spectral_radius,
                 "bound_rate": (math.log(cf.sigma_max)
                                if name == "rnn" and self.settings.get("loss") == "last" else None),
                 "relative_norm_at_T": float(np.median(cf.relative[:, -1]))}
            d.update(cf.extra)
            cells[name] = d
        return {"schema_version": 1, "settings": self.settings, "cells": cells}


def recurrent_matrix(model: Any) -> np.ndarray:
    """The matrix whose spectrum is reported: W_hh (RNN); the h-columns of the
    candidate's matrix, W_c[:, :H] (LSTM) or W_h[:, :H] (GRU cho; W_hn for reset_after)."""
    H, p = model.hidden_size, model.params
    if isinstance(model, RNN):
        return p["W_hh"]
    if isinstance(model, LSTM):
        return p["W_c"][:, :H]
    return p["W_h"][:, :H] if "W_h" in p else p["W_hn"]


def make_reference(cell: str, input_size: int, hidden: int, rng: np.random.Generator,
                   init_scale: float | None = None, sigma_max_hh: float | None = None,
                   forget_bias: float | None = 1.0, variant: str = "cho") -> Any:
    """A reference layer with every parameter U(−a, a), a = ``init_scale`` (default
    1/√H, PyTorch's default). ``sigma_max_hh`` rescales the RNN's W_hh to that
    largest singular value; ``forget_bias`` sets the LSTM's b_f."""
    a = 1.0 / math.sqrt(hidden) if init_scale is None else init_scale
    if cell == "rnn":
        return RNN.init(input_size, hidden, rng, scale=a, sigma_max=sigma_max_hh)
    if cell == "lstm":
        return LSTM.init(input_size, hidden, rng, scale=a, forget_bias=forget_bias)
    if cell == "gru":
        return GRU.init(input_size, hidden, rng, scale=a, variant=variant)
    raise SeqlmError(f"unknown cell {cell!r}; expected one of {', '.join(CELLS)}")


def hidden_grads(model: Any, xs: np.ndarray, output: SoftmaxOutput, targets: np.ndarray,
                 loss: str = "last") -> np.ndarray:
    """Total ∂L/∂h_k for k = 0..T, per sequence: (T+1, B, H), by the reference BPTT.

    ``loss="last"``: L = CE at the last step of each sequence; ``"all"``: Σ_t CE_t.
    Each sequence's loss is its own (no 1/B), so a norm does not depend on B.
    """
    hs, cache = model.forward(xs)
    return model.backward(output_grads(hs, output, targets, loss), cache).dh


def output_grads(hs: np.ndarray, output: SoftmaxOutput, targets: np.ndarray,
                 loss: str = "last") -> np.ndarray:
    """The direct ∂L/∂h_t from the softmax output (5.2) for ``loss`` = "last" or
    "all", each sequence's loss its own (the 1/B and 1/T of the mean undone)."""
    T, B, _ = hs.shape
    dhs = np.zeros_like(hs)
    if loss == "last":
        _, oc = output.forward(hs[-1:], targets[-1:])
        dhs[-1] = output.backward(oc)[1][0] * B
    elif loss == "all":
        _, oc = output.forward(hs, targets)
        dhs[:] = output.backward(oc)[1] * (T * B)
    else:
        raise SeqlmError(f"unknown loss {loss!r}; expected 'last' or 'all'")
    return dhs


def cell_flow(name: str, model: Any, xs: np.ndarray, output: SoftmaxOutput,
              targets: np.ndarray, loss: str = "last") -> CellFlow:
    """Measure one (already built) reference model on the inputs ``xs`` (T, N, I)."""
    dh = hidden_grads(model, xs, output, targets, loss)  # (T+1, N, H), index k
    T = xs.shape[0]
    norms = np.linalg.norm(dh, axis=-1)[::-1].T.copy()  # (N, T+1), index gap = T − k
    gaps = np.arange(T + 1)
    with np.errstate(divide="ignore"):
        mean_log = np.mean(np.log(norms / norms[:, :1]), axis=0)
    fit = fit_decay_rate(gaps[1:], np.exp(mean_log[1:]))
    W = recurrent_matrix(model)
    extra = {}
    if isinstance(model, LSTM):
        _, cache = model.forward(xs)
        extra["forget_gate"] = forget_gate_stats(cache["gates"][:, :, :model.hidden_size])
    return CellFlow(name, gaps, norms, fit, sigma_max(W), spectral_radius(W), extra)


def gradient_flow(cells=CELLS, length: int = 100, hidden: int = 64, input_size: int = 32,
                  n_seqs: int = 64, init_scale: float | None = None,
                  sigma_max_hh: float | None = None, forget_bias: float | None = 1.0,
                  loss: str = "last", vocab: int = 10, seed: int = 0,
                  variant: str = "cho") -> GradientFlow:
    """‖∂L/∂h_k‖ for every k, for each cell at initialisation (see the module docstring).

    Inputs are x_t ~ N(0, I), targets uniform over ``vocab`` classes; the
    cells share the inputs, targets and output-layer draw. One seed fixes all.
    """
    for c in cells:
        if c not in CELLS:
            raise SeqlmError(f"unknown cell {c!r}; expected one of {', '.join(CELLS)}")
    if length < 2:
        raise SeqlmError(f"--length must be at least 2, got {length}")
    if sigma_max_hh is not None and sigma_max_hh <= 0:
        raise SeqlmError(f"--sigma-max must be positive, got {sigma_max_hh}")
    data_rng = np.random.default_rng(seed)
    xs = data_rng.standard_normal((length, n_seqs, input_size))
    targets = data_rng.integers(0, vocab, size=(length, n_seqs))
    a = 1.0 / math.sqrt(hidden) if init_scale is None else init_scale
    out = {}
    for i, c in enumerate(cells):
        rng = np.random.default_rng([seed, 1 + CELLS.index(c)])
        model = make_reference(c, input_size, hidden, rng, a, sigma_max_hh, forget_bias, variant)
        output = SoftmaxOutput.init(hidden, vocab, rng, scale=a)
        out[c] = cell_flow(c, model, xs, output, targets, loss)
    settings = {"length": length, "hidden": hidden, "input_size": input_size, "n_seqs": n_seqs,
                "init_scale": a, "sigma_max_hh": sigma_max_hh, "forget_bias": forget_bias,
                "loss": loss, "vocab": vocab, "seed": seed, "gru_variant": variant,
                "inputs": "x_t ~ N(0, I)", "init": "every parameter U(-a, a), a = init_scale"}
    return GradientFlow(out, settings)

