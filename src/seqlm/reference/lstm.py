"""LSTM in NumPy, eqs. (5.4)-(5.8), with hand-written BPTT.

    f_t = σ(W_f [h_{t-1}, x_t] + b_f)                                  (5.4)
    i_t = σ(W_i [h_{t-1}, x_t] + b_i)                                  (5.5)
    c̃_t = tanh(W_c [h_{t-1}, x_t] + b_c)                               (5.6)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ c̃_t                                    (5.7)
    o_t = σ(W_o [h_{t-1}, x_t] + b_o),   h_t = o_t ⊙ tanh(c_t)          (5.8)

Each W_· is (H, H+I) acting on the concatenation [h_{t-1}, x_t] (h first, as
in the book). For speed the four matrices are stacked once per call, in the
order f, i, o, c (the three sigmoid gates first, so σ is one call), and split
into their h-columns W_hh (4H, H) and x-columns W_xh (4H, I): the x-part of every
step is then one GEMM over the whole segment before the time loop.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from seqlm.reference import layout
from seqlm.reference._common import (Grads, check_inputs, check_params, initial,
                                     sigmoid, uniform)


class LSTM:
    """LSTM layer: ``W_f, W_i, W_c, W_o`` (H, H+I) and ``b_f, b_i, b_c, b_o`` (H,)."""

    param_names = layout.param_names("lstm")

    def __init__(self, params: dict[str, np.ndarray]) -> None:
        H, HI = params["W_f"].shape
        shapes = {f"W_{g}": (H, HI) for g in "fico"} | {f"b_{g}": (H,) for g in "fico"}
        check_params("LSTM", params, shapes)
        self.params = params
        self.input_size, self.hidden_size = HI - H, H

    @classmethod
    def init(cls, input_size: int, hidden_size: int, rng: np.random.Generator,
             scale: float = 0.1, *, forget_bias: float | None = None,
             dtype: Any = np.float64) -> "LSTM":
        """Every parameter U(-scale, scale); ``forget_bias`` sets b_f to a constant."""
        H, I = hidden_size, input_size
        params = {}
        for g in "fico":
            params[f"W_{g}"] = uniform(rng, (H, H + I), scale, dtype)
            params[f"b_{g}"] = uniform(rng, (H,), scale, dtype)
        if forget_bias is not None:
            params["b_f"] = np.full(H, forget_bias, dtype=dtype)
        return cls(params)

    def _stacked(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """W_hh (4H, H), W_xh (4H, I), b (4H,): row blocks f, i, o, c (``layout``)."""
        s = layout.stack("lstm", None, self.params)
        return s["W_hh"], s["W_xh"], s["b"]

    def forward(self, xs: np.ndarray, state0: tuple[np.ndarray, np.ndarray] | None = None
                ) -> tuple[np.ndarray, dict[str, Any]]:
        """Run (5.4)-(5.8) over a sequence; ``state0`` = (h0, c0) or None for zeros.
        Returns ``hs`` (T, B, H) = h_1..h_T and the cache (``cache["c"]`` holds c_0..c_T)."""
        T, B = check_inputs("LSTM", xs, self.input_size)
        H = self.hidden_size
        W_hh, W_xh, b = self._stacked()
        h0, c0 = (None, None) if state0 is None else state0
        h = np.empty((T + 1, B, H), dtype=W_hh.dtype)            # h[k] = h_k
        c = np.empty((T + 1, B, H), dtype=W_hh.dtype)            # c[k] = c_k
        h[0], c[0] = initial(h0, B, H, W_hh.dtype, "h0"), initial(c0, B, H, W_hh.dtype, "c0")
        gates = (xs.reshape(T * B, -1) @ W_xh.T).reshape(T, B, 4 * H)  # W_·x_t for all t, one GEMM
        gates += b
        tanh_c = np.empty((T, B, H), dtype=W_hh.dtype)
        for t in range(1, T + 1):
            a = gates[t - 1]
            a += h[t - 1] @ W_hh.T                               # a = W_·[h_{t-1}, x_t] + b_·
            sigmoid(a[:, :3 * H], out=a[:, :3 * H])
            f_t, i_t, o_t = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H]  # (5.4), (5.5), (5.8 left)
            c_tilde = np.tanh(a[:, 3 * H:], out=a[:, 3 * H:])   # (5.6)
            np.multiply(f_t, c[t - 1], out=c[t]); c[t] += i_t * c_tilde  # (5.7)
            np.tanh(c[t], out=tanh_c[t - 1])
            np.multiply(o_t, tanh_c[t - 1], out=h[t])           # (5.8 right)
        return h[1:], {"xs": xs, "h": h, "c": c, "gates": gates, "tanh_c": tanh_c}

    def backward(self, dhs: np.ndarray, cache: dict[str, Any],
                 dstate_T: tuple[np.ndarray, np.ndarray] | None = None) -> Grads:
        """BPTT. ``dhs[t-1]`` is the direct ∂L/∂h_t; ``dstate_T`` = (∂L/∂h_T, ∂L/∂c_T)
        arriving from beyond the segment (either may be None)."""
        xs, h, c, gates, tanh_c = (cache[k] for k in ("xs", "h", "c", "gates", "tanh_c"))
        T, B, H = h.shape[0] - 1, h.shape[1], self.hidden_size
        W_hh, W_xh, _ = self._stacked()
        dh = np.zeros_like(h)                                   # total ∂L/∂h_k
        dc = np.zeros_like(c)                                   # total ∂L/∂c_k
        dh[1:] = dhs
        if dstate_T is not None:
            if dstate_T[0] is not None:
                dh[T] += dstate_T[0]
            if dstate_T[1] is not None:
                dc[T] += dstate_T[1]
        da = np.empty_like(gates)                               # ∂L/∂(pre-activations), f,i,o,c
        for t in range(T, 0, -1):
            g = gates[t - 1]
            f_t, i_t, o_t, c_tilde = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
            tc = tanh_c[t - 1]
            dc[t] += dh[t] * o_t * (1.0 - tc ** 2)              # (5.8): h_t = o_t ⊙ tanh(c_t)
            d_o = dh[t] * tc                                    # (5.8)
            d_f = dc[t] * c[t - 1]                              # (5.7)
            d_i = dc[t] * c_tilde                               # (5.7)
            d_ct = dc[t] * i_t                                  # (5.7)
            dc[t - 1] += dc[t] * f_t                            # (5.7): the additive path
            d = da[t - 1]
            d[:, :H] = d_f * f_t * (1.0 - f_t)                  # back through σ of (5.4)
            d[:, H:2 * H] = d_i * i_t * (1.0 - i_t)             # (5.5)
            d[:, 2 * H:3 * H] = d_o * o_t * (1.0 - o_t)         # (5.8)
            d[:, 3 * H:] = d_ct * (1.0 - c_tilde ** 2)          # back through tanh of (5.6)
            dh[t - 1] += d @ W_hh                                # the h_{t-1} columns of all four W
        da2 = da.reshape(T * B, 4 * H)
        grads = layout.unstack("lstm", None,
                               da2.T @ h[:-1].reshape(T * B, H),  # h-columns, one GEMM over all t
                               da2.T @ xs.reshape(T * B, -1),     # x-columns
                               da2.sum(0))
        dxs = (da2 @ W_xh).reshape(T, B, -1)
        return Grads(grads, dxs, dh, dc)
