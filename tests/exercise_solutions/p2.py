"""P2, reference solution: backpropagation through time for the vanilla RNN, by hand (eq. 5.3)."""
import numpy as np


def rnn_backward(xs, hs, h0, dhs, W_xh, W_hh):
    T = xs.shape[0]
    h_prev = np.concatenate([h0[None], hs[:-1]])               # (T, B, H): h_{t-1} for t = 1..T
    dW_xh, dW_hh, db_h = np.zeros_like(W_xh), np.zeros_like(W_hh), np.zeros(W_hh.shape[0])
    dxs = np.zeros_like(xs)
    dh_next = np.zeros_like(h0)                                # ∂L/∂h_t arriving from step t+1
    for t in reversed(range(T)):
        dh = dhs[t] + dh_next                                  # total ∂L/∂h_t
        da = dh * (1.0 - hs[t] ** 2)                           # back through tanh: diag(1 - h_t²)
        dW_hh += da.T @ h_prev[t]                              # shared weights: sum over t
        dW_xh += da.T @ xs[t]
        db_h += da.sum(axis=0)
        dxs[t] = da @ W_xh
        dh_next = da @ W_hh                                    # (5.3): one factor ... W_hh
    return {"W_xh": dW_xh, "W_hh": dW_hh, "b_h": db_h, "h0": dh_next, "xs": dxs}
