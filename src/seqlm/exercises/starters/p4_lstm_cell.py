"""P4 — one LSTM step, forward and backward (Section 5.3).

    f_t = σ(W_f [h_{t-1}, x_t] + b_f)                       (5.4)
    i_t = σ(W_i [h_{t-1}, x_t] + b_i)                       (5.5)
    c̃_t = tanh(W_c [h_{t-1}, x_t] + b_c)                    (5.6)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ c̃_t                         (5.7)
    o_t = σ(W_o [h_{t-1}, x_t] + b_o),  h_t = o_t ⊙ tanh(c_t)   (5.8)

[h_{t-1}, x_t] is the concatenation, h first: each W_· is (H, H + I). Rows are
batch elements, so W_f [h_{t-1}, x_t] for the batch is hx @ W_f.T with hx of
shape (B, H + I). NumPy, float64.

Check your work:   seqlm exercises check P4 p4_lstm_cell.py
"""
import numpy as np


def lstm_cell_forward(x_t, h_prev, c_prev, p):
    """One step of eqs. (5.4)–(5.8).

    x_t     (B, I)
    h_prev  (B, H), c_prev (B, H)
    p       dict: "W_f", "W_i", "W_c", "W_o" (H, H + I) and "b_f", "b_i", "b_c", "b_o" (H,)

    Returns (h_t, c_t, cache): h_t, c_t (B, H); cache is anything your backward needs.
    """
    raise NotImplementedError


def lstm_cell_backward(dh_t, dc_t, cache):
    """The gradients of a loss L through one step.

    dh_t  (B, H)  ∂L/∂h_t
    dc_t  (B, H)  ∂L/∂c_t arriving from the next step (through c_{t+1} = f ⊙ c_t + ...)
    cache         what lstm_cell_forward returned

    Returns a dict: "x_t" (B, I), "h_prev" (B, H), "c_prev" (B, H),
    "W_f", "W_i", "W_c", "W_o" (H, H + I), "b_f", "b_i", "b_c", "b_o" (H,).
    """
    raise NotImplementedError
