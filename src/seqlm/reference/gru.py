"""GRU in NumPy, two variants, with hand-written BPTT (see docs/gru_variants.md).

``variant="cho"`` — the book's eqs. (5.9)-(5.11), exactly:

    z_t = σ(W_z [h_{t-1}, x_t] + b_z)                                   (5.9)
    r_t = σ(W_r [h_{t-1}, x_t] + b_r)                                   (5.10)
    h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ tanh(W_h [r_t ⊙ h_{t-1}, x_t] + b_h)   (5.11)

  Parameters ``W_z, W_r, W_h`` (H, H+I), ``b_z, b_r, b_h`` (H,).

``variant="reset_after"`` — the PyTorch/cuDNN GRU: r_t is applied *after* the
recurrent product, and z_t weights the old state instead of the candidate:

    z_t = σ(W_z [h_{t-1}, x_t] + b_z)                                   (5.9)
    r_t = σ(W_r [h_{t-1}, x_t] + b_r)                                   (5.10)
    n_t = tanh(W_xn x_t + b_xn + r_t ⊙ (W_hn h_{t-1} + b_hn))           (5.11', candidate)
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}                               (5.11', update)

  Parameters ``W_z, W_r`` (H, H+I), ``W_xn`` (H, I), ``W_hn`` (H, H),
  ``b_z, b_r, b_xn, b_hn`` (H,). b_hn is a parameter of its own because it sits
  inside r_t ⊙ (·) and cannot be merged with b_xn.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from seqlm.errors import SeqlmError
from seqlm.reference import layout
from seqlm.reference._common import (Grads, check_inputs, check_params, initial,
                                     sigmoid, uniform)

VARIANTS = layout.GRU_VARIANTS


def gru_param_shapes(variant: str, I: int, H: int) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of a GRU variant."""
    if variant == "cho":
        return {"W_z": (H, H + I), "W_r": (H, H + I), "W_h": (H, H + I),
                "b_z": (H,), "b_r": (H,), "b_h": (H,)}
    if variant == "reset_after":
        return {"W_z": (H, H + I), "W_r": (H, H + I), "W_xn": (H, I), "W_hn": (H, H),
                "b_z": (H,), "b_r": (H,), "b_xn": (H,), "b_hn": (H,)}
    raise SeqlmError(f"unknown GRU variant {variant!r}; choose one of {', '.join(VARIANTS)}")


class GRU:
    """GRU layer, ``variant="cho"`` (eqs. 5.9-5.11) or ``"reset_after"`` (PyTorch)."""

    def __init__(self, params: dict[str, np.ndarray], variant: str = "cho") -> None:
        H, HI = params["W_z"].shape
        check_params(f"GRU({variant})", params, gru_param_shapes(variant, HI - H, H))
        self.params, self.variant = params, variant
        self.param_names = tuple(gru_param_shapes(variant, HI - H, H))
        self.input_size, self.hidden_size = HI - H, H

    @classmethod
    def init(cls, input_size: int, hidden_size: int, rng: np.random.Generator,
             scale: float = 0.1, *, variant: str = "cho", dtype: Any = np.float64) -> "GRU":
        """Every parameter U(-scale, scale)."""
        shapes = gru_param_shapes(variant, input_size, hidden_size)
        return cls({k: uniform(rng, s, scale, dtype) for k, s in shapes.items()}, variant)

    def _stacked(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """W_hh (3H, H), W_xh (3H, I), b (3H,): row blocks z, r, then the candidate (``layout``)."""
        s = layout.stack("gru", self.variant, self.params)
        return s["W_hh"], s["W_xh"], s["b"]

    def forward(self, xs: np.ndarray, state0: np.ndarray | None = None
                ) -> tuple[np.ndarray, dict[str, Any]]:
        """Run the GRU over a sequence. Returns ``hs`` (T, B, H) = h_1..h_T and the cache."""
        T, B = check_inputs("GRU", xs, self.input_size)
        H = self.hidden_size
        W_hh, W_xh, b = self._stacked()
        h = np.empty((T + 1, B, H), dtype=W_hh.dtype)            # h[k] = h_k
        h[0] = initial(state0, B, H, W_hh.dtype)
        ax = (xs.reshape(T * B, -1) @ W_xh.T).reshape(T, B, 3 * H)  # x-parts of all steps, one GEMM
        ax += b
        zr = ax[:, :, :2 * H]                                   # becomes [z_t, r_t] in place
        cand = ax[:, :, 2 * H:]                                 # becomes the candidate in place
        inner = np.empty((T, B, H), dtype=W_hh.dtype)            # cho: r⊙h_{t-1}; reset_after: W_hn h + b_hn
        W_hzr, W_hc = W_hh[:2 * H], W_hh[2 * H:]
        for t in range(1, T + 1):
            a = zr[t - 1]
            a += h[t - 1] @ W_hzr.T
            sigmoid(a, out=a)
            z_t, r_t = a[:, :H], a[:, H:]                       # (5.9), (5.10)
            if self.variant == "cho":
                np.multiply(r_t, h[t - 1], out=inner[t - 1])    # r_t ⊙ h_{t-1}
                hc = cand[t - 1]
                hc += inner[t - 1] @ W_hc.T
                np.tanh(hc, out=hc)                             # tanh(W_h[r⊙h_{t-1}, x_t] + b_h)
                np.multiply(z_t, hc - h[t - 1], out=h[t]); h[t] += h[t - 1]  # (5.11)
            else:
                np.matmul(h[t - 1], W_hc.T, out=inner[t - 1])
                inner[t - 1] += self.params["b_hn"]             # W_hn h_{t-1} + b_hn
                n_t = cand[t - 1]
                n_t += r_t * inner[t - 1]
                np.tanh(n_t, out=n_t)                           # (5.11', candidate)
                np.multiply(z_t, h[t - 1] - n_t, out=h[t]); h[t] += n_t  # (5.11', update)
        return h[1:], {"xs": xs, "h": h, "act": ax, "inner": inner}

    def backward(self, dhs: np.ndarray, cache: dict[str, Any],
                 dstate_T: np.ndarray | None = None) -> Grads:
        """BPTT. ``dhs[t-1]`` is the direct ∂L/∂h_t; ``dstate_T`` arrives at h_T from beyond."""
        xs, h, act, inner = cache["xs"], cache["h"], cache["act"], cache["inner"]
        T, B, H = h.shape[0] - 1, h.shape[1], self.hidden_size
        W_hh, W_xh, _ = self._stacked()
        W_hzr, W_hc = W_hh[:2 * H], W_hh[2 * H:]
        cho = self.variant == "cho"
        dh = np.zeros_like(h)
        dh[1:] = dhs
        if dstate_T is not None:
            dh[T] += dstate_T
        da = np.empty((T, B, 3 * H), dtype=h.dtype)             # ∂L/∂(x-side pre-activations) z, r, cand
        dinner = np.empty((T, B, H), dtype=h.dtype)             # cho: ∂L/∂(r⊙h); reset_after: ∂L/∂(W_hn h + b_hn)
        for t in range(T, 0, -1):
            z_t, r_t, c_t = act[t - 1, :, :H], act[t - 1, :, H:2 * H], act[t - 1, :, 2 * H:]
            g, hp = dh[t], h[t - 1]
            d = da[t - 1]
            if cho:                                             # (5.11) h = (1-z)⊙h_prev + z⊙c
                d[:, 2 * H:] = g * z_t * (1.0 - c_t ** 2)       # through tanh of the candidate
                np.matmul(d[:, 2 * H:], W_hc, out=dinner[t - 1])  # ∂L/∂(r_t ⊙ h_{t-1})
                d[:, :H] = g * (c_t - hp) * z_t * (1.0 - z_t)   # (5.9) through σ
                d[:, H:2 * H] = dinner[t - 1] * hp * r_t * (1.0 - r_t)  # (5.10)
                dh[t - 1] += g * (1.0 - z_t) + dinner[t - 1] * r_t
            else:                                               # (5.11') h = (1-z)⊙n + z⊙h_prev
                d[:, 2 * H:] = g * (1.0 - z_t) * (1.0 - c_t ** 2)  # through tanh of n_t
                np.multiply(d[:, 2 * H:], r_t, out=dinner[t - 1])  # ∂L/∂(W_hn h + b_hn)
                d[:, :H] = g * (hp - c_t) * z_t * (1.0 - z_t)   # (5.9)
                d[:, H:2 * H] = d[:, 2 * H:] * inner[t - 1] * r_t * (1.0 - r_t)  # (5.10)
                dh[t - 1] += g * z_t + dinner[t - 1] @ W_hc
            dh[t - 1] += d[:, :2 * H] @ W_hzr                   # h_{t-1} columns of W_z, W_r
        da2 = da.reshape(T * B, 3 * H)
        dzr, hprev = da2[:, :2 * H], h[:-1].reshape(T * B, H)
        dW_xh = da2.T @ xs.reshape(T * B, -1)                    # (3H, I), one GEMM over all t
        dW_hzr = dzr.T @ hprev                                  # (2H, H)
        di2 = dinner.reshape(T * B, H)
        if cho:                                                 # candidate rows act on r_t ⊙ h_{t-1}
            dW_hc = da2[:, 2 * H:].T @ inner.reshape(T * B, H)
        else:                                                   # W_hn acts on h_{t-1}
            dW_hc = di2.T @ hprev
        grads = layout.unstack("gru", self.variant, np.concatenate([dW_hzr, dW_hc]), dW_xh, da2.sum(0),
                               None if cho else di2.sum(0))
        dxs = (da2 @ W_xh).reshape(T, B, -1)
        return Grads(grads, dxs, dh)
