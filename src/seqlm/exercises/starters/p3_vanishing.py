"""P3 — the vanishing-gradient experiment (Sections 5.2.2–5.2.3).

Measure eq. (5.3) on one sequence: how the norm of ∂L/∂h_k shrinks (or grows)
with the time gap T − k, for recurrent matrices of two spectral radii, and fit
the decay rate per step. NumPy, float64; one sequence, so vectors, not batches:

    h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h),  h_0 = 0          (5.1)
    ∂L/∂h_k = ∂L/∂h_T ∏_{t=k+1}^{T} diag(1 - h_t²) W_hh           (5.3)

Check your work:   seqlm exercises check P3 p3_vanishing.py
"""
import numpy as np


def gradient_norms(xs, W_xh, W_hh, b_h, g_T):
    """‖∂L/∂h_k‖₂ for every k, for a loss whose only direct gradient is at h_T.

    xs (T, I) one sequence; W_xh (H, I), W_hh (H, H), b_h (H,); g_T (H,) = ∂L/∂h_T.
    Returns norms (T + 1,): norms[gap] = ‖∂L/∂h_{T - gap}‖ for gap = 0..T
    (norms[0] = ‖g_T‖, norms[T] = ‖∂L/∂h_0‖).
    """
    raise NotImplementedError


def scale_to_spectral_radius(W, rho):
    """W (H, H) multiplied by a positive number so that its spectral radius is rho."""
    raise NotImplementedError


def fit_decay_rate(gaps, norms):
    """The decay rate per step: the slope of the least-squares line through
    (gaps[j], ln norms[j]). Entries whose norm is not finite or is <= 1e-300
    (0 or underflowed) are left out; with fewer than 2 left, return nan."""
    raise NotImplementedError


def vanishing_experiment(xs, W_xh, W, b_h, g_T, radii):
    """For each rho in radii: W_hh = W rescaled to spectral radius rho, its norms
    (gradient_norms) and the decay rate fitted over the gaps 1..T.

    Returns {rho: {"norms": (T + 1,) array, "rate": float}}.
    """
    raise NotImplementedError
