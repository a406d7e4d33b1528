"""The theory side of Section 5.2: spectra of W_hh, the Pascanu bound, decay-rate fits.

Eq. 5.3 writes the gradient that reaches step k from a loss at step T as a
product of per-step Jacobians,

    ∂L/∂h_k = ∂L/∂h_T · ∏_{t=k+1}^{T} diag(1 − h_t²) W_hh .

Every factor has norm ≤ γ·σ_max(W_hh) with γ = sup|tanh'| = 1, so (Pascanu,
Mikolov & Bengio 2013, Sec. 3.1)

    ‖∂L/∂h_k‖ ≤ ‖∂L/∂h_T‖ · (γ σ_max)^(T−k) .

If γσ_max ≤ 1 the gradient cannot grow at any gap, so σ_max > 1 is necessary for
explosion (not sufficient: saturation shrinks the factors). The spectral radius
ρ ≤ σ_max is about the long run: in the linear regime ‖W^k‖ ~ ρ^k, but over a finite
horizon a non-normal W with ρ < 1 can still grow the gradient (ρ = 0.9, σ_max ≈ 5:
×19 over 10 steps; exercise T1, claim C7).
Pure NumPy; no torch here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seqlm.reference._common import scale_to_sigma_max, sigma_max  # noqa: F401 (re-exported)


def spectral_radius(W: np.ndarray) -> float:
    """max |λ_i(W)|; ≤ σ_max, with equality for normal matrices."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(W, dtype=np.float64)))))


def pascanu_bound(sigma: float, gaps: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """(γ σ_max)^(T−k) for every gap T−k: the bound on ‖∏ Jacobians‖ (γ = 1 for tanh)."""
    return (gamma * sigma) ** np.asarray(gaps, dtype=np.float64)


def log_bound_rate(sigma: float, gamma: float = 1.0) -> float:
    """The bound as a decay rate per step: log(γ σ_max)."""
    return math.log(gamma * sigma)


@dataclass(frozen=True)
class DecayFit:
    """``log ‖g(gap)‖ ≈ intercept + rate · gap``, fitted by least squares."""

    rate: float  # per step; < 0 vanishes, > 0 explodes
    intercept: float
    n_points: int

    @property
    def factor_per_step(self) -> float:
        """e^rate: the average factor by which the norm shrinks (grows) per step back in time."""
        return math.exp(self.rate)


def fit_decay_rate(gaps: np.ndarray, norms: np.ndarray, floor: float = 1e-300) -> DecayFit:
    """Least-squares fit of log(norm) against the time gap.

    Points whose norm is 0, not finite or below ``floor`` (underflowed) are left
    out, since their logarithm says nothing about the rate. Needs two points.
    """
    gaps = np.asarray(gaps, dtype=np.float64)
    norms = np.asarray(norms, dtype=np.float64)
    keep = np.isfinite(norms) & (norms > floor)
    if keep.sum() < 2:
        return DecayFit(rate=float("nan"), intercept=float("nan"), n_points=int(keep.sum()))
    slope, intercept = np.polyfit(gaps[keep], np.log(norms[keep]), 1)
    return DecayFit(rate=float(slope), intercept=float(intercept), n_points=int(keep.sum()))
