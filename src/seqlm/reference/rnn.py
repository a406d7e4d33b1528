"""Vanilla (Elman) RNN in NumPy, eq. (5.1), with hand-written BPTT (5.3).

    h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)                          (5.1)
    ∂L/∂h_k = ∂L/∂h_T ∏_{t=k+1}^{T} diag(1 - h_t²) W_hh                (5.3)

Arrays are time-major: ``xs`` (T, B, I), hidden states (T, B, H); rows are
batch elements, so W h becomes ``h @ W.T``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from seqlm.reference._common import (Grads, check_inputs, check_params, initial,
                                     orthogonal, scale_to_sigma_max,
                                     scale_to_spectral_radius, uniform)


class RNN:
    """Elman RNN layer: parameters ``W_hh (H,H)``, ``W_xh (H,I)``, ``b_h (H,)`` (eq. 5.1)."""

    param_names = ("W_hh", "W_xh", "b_h")

    def __init__(self, params: dict[str, np.ndarray]) -> None:
        H, I = params["W_xh"].shape
        check_params("RNN", params, {"W_hh": (H, H), "W_xh": (H, I), "b_h": (H,)})
        self.params = params
        self.input_size, self.hidden_size = I, H

    @classmethod
    def init(cls, input_size: int, hidden_size: int, rng: np.random.Generator,
             scale: float = 0.1, *, sigma_max: float | None = None,
             spectral_radius: float | None = None, orthogonal_hh: bool = False,
             dtype: Any = np.float64) -> "RNN":
        """Every parameter U(-scale, scale); then, optionally, W_hh replaced by a
        random orthogonal matrix and/or rescaled to a largest singular value
        ``sigma_max`` or a spectral radius ``spectral_radius``."""
        H, I = hidden_size, input_size
        W_hh = orthogonal(rng, H) if orthogonal_hh else uniform(rng, (H, H), scale)
        if sigma_max is not None:
            W_hh = scale_to_sigma_max(W_hh, sigma_max)
        if spectral_radius is not None:
            W_hh = scale_to_spectral_radius(W_hh, spectral_radius)
        params = {"W_hh": W_hh.astype(dtype), "W_xh": uniform(rng, (H, I), scale, dtype),
                  "b_h": uniform(rng, (H,), scale, dtype)}
        return cls(params)

    def forward(self, xs: np.ndarray, state0: np.ndarray | None = None
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Run eq. (5.1) over a sequence. Returns ``hs`` (T, B, H) = h_1..h_T and the cache."""
        W_hh, W_xh, b_h = (self.params[k] for k in self.param_names)
        T, B = check_inputs("RNN", xs, self.input_size)
        H = self.hidden_size
        h = np.empty((T + 1, B, H), dtype=W_hh.dtype)          # h[k] = h_k, k = 0..T
        h[0] = initial(state0, B, H, W_hh.dtype)
        xw = (xs.reshape(T * B, -1) @ W_xh.T).reshape(T, B, H)  # W_xh x_t for every t in one GEMM
        xw += b_h
        for t in range(1, T + 1):
            np.tanh(xw[t - 1] + h[t - 1] @ W_hh.T, out=h[t])    # (5.1)
        return h[1:], {"xs": xs, "h": h}

    def backward(self, dhs: np.ndarray, cache: dict[str, np.ndarray],
                 dstate_T: np.ndarray | None = None) -> Grads:
        """BPTT. ``dhs[t-1]`` is the direct ∂L/∂h_t; ``dstate_T`` is any gradient
        arriving at h_T from beyond the segment."""
        W_hh, W_xh = self.params["W_hh"], self.params["W_xh"]
        xs, h = cache["xs"], cache["h"]
        T, B, H = h.shape[0] - 1, h.shape[1], self.hidden_size
        dh = np.zeros_like(h)                                   # total ∂L/∂h_k, k = 0..T
        dh[1:] = dhs
        if dstate_T is not None:
            dh[T] += dstate_T
        da = np.empty((T, B, H), dtype=h.dtype)                 # ∂L/∂a_t, a_t the tanh argument
        for t in range(T, 0, -1):
            np.multiply(dh[t], 1.0 - h[t] ** 2, out=da[t - 1])  # back through tanh: diag(1 - h_t²)
            dh[t - 1] += da[t - 1] @ W_hh                       # (5.3): one factor ... W_hh
        da2, hprev = da.reshape(T * B, H), h[:-1].reshape(T * B, H)
        grads = {"W_hh": da2.T @ hprev,                         # Σ_t a_t-gradient h_{t-1}ᵀ
                 "W_xh": da2.T @ xs.reshape(T * B, -1),
                 "b_h": da2.sum(0)}
        dxs = (da2 @ W_xh).reshape(T, B, -1)
        return Grads(grads, dxs, dh)

    def jacobians(self, cache: dict[str, np.ndarray]) -> np.ndarray:
        """∂h_t/∂h_{t-1} = diag(1 - h_t²) W_hh for t = 1..T: (T, B, H, H), the
        factors of the product in eq. (5.3)."""
        h = cache["h"]
        return (1.0 - h[1:] ** 2)[..., :, None] * self.params["W_hh"]
