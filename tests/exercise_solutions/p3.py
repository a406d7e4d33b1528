"""P3, reference solution: the vanishing-gradient experiment (eq. 5.3 measured)."""
import numpy as np


def gradient_norms(xs, W_xh, W_hh, b_h, g_T):
    T, H = xs.shape[0], W_hh.shape[0]
    h = np.zeros((T + 1, H))                                   # h[k] = h_k, h_0 = 0
    for t in range(1, T + 1):
        h[t] = np.tanh(W_hh @ h[t - 1] + W_xh @ xs[t - 1] + b_h)   # (5.1)
    norms = np.empty(T + 1)
    g = np.array(g_T, dtype=np.float64)                        # ∂L/∂h_T, a row vector
    norms[0] = np.linalg.norm(g)
    for gap in range(1, T + 1):
        t = T - gap + 1                                        # step t takes g from h_t to h_{t-1}
        g = (g * (1.0 - h[t] ** 2)) @ W_hh                     # (5.3): one factor diag(1 - h_t²) W_hh
        norms[gap] = np.linalg.norm(g)
    return norms


def scale_to_spectral_radius(W, rho):
    return W * (rho / np.max(np.abs(np.linalg.eigvals(W))))   # max |λ| over complex eigenvalues


def fit_decay_rate(gaps, norms):
    gaps, norms = np.asarray(gaps, dtype=np.float64), np.asarray(norms, dtype=np.float64)
    keep = np.isfinite(norms) & (norms > 1e-300)               # no logarithm for 0, inf, NaN
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(gaps[keep], np.log(norms[keep]), 1)[0])


def vanishing_experiment(xs, W_xh, W, b_h, g_T, radii):
    out = {}
    for rho in radii:
        norms = gradient_norms(xs, W_xh, scale_to_spectral_radius(W, rho), b_h, g_T)
        gaps = np.arange(norms.size)
        out[rho] = {"norms": norms, "rate": fit_decay_rate(gaps[1:], norms[1:])}
    return out
