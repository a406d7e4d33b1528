"""P4, reference solution: one LSTM step, eqs. (5.4)–(5.8), and its backward."""
import numpy as np


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))                     # σ without overflow


def lstm_cell_forward(x_t, h_prev, c_prev, p):
    hx = np.concatenate([h_prev, x_t], axis=1)                 # [h_{t-1}, x_t], (B, H+I)
    f = _sigmoid(hx @ p["W_f"].T + p["b_f"])                   # (5.4)
    i = _sigmoid(hx @ p["W_i"].T + p["b_i"])                   # (5.5)
    c_tilde = np.tanh(hx @ p["W_c"].T + p["b_c"])              # (5.6)
    c_t = f * c_prev + i * c_tilde                             # (5.7)
    o = _sigmoid(hx @ p["W_o"].T + p["b_o"])                   # (5.8)
    tanh_c = np.tanh(c_t)
    h_t = o * tanh_c                                           # (5.8)
    return h_t, c_t, (hx, c_prev, f, i, c_tilde, o, tanh_c, p)


def lstm_cell_backward(dh_t, dc_t, cache):
    hx, c_prev, f, i, c_tilde, o, tanh_c, p = cache
    H = c_prev.shape[1]
    dc = dc_t + dh_t * o * (1.0 - tanh_c ** 2)                 # (5.8): h_t reaches c_t through tanh
    da = {"f": dc * c_prev * f * (1.0 - f),                    # (5.7), back through σ of (5.4)
          "i": dc * c_tilde * i * (1.0 - i),                   # (5.7), (5.5)
          "c": dc * i * (1.0 - c_tilde ** 2),                  # (5.7), back through tanh of (5.6)
          "o": dh_t * tanh_c * o * (1.0 - o)}                  # (5.8)
    grads, dhx = {}, np.zeros_like(hx)
    for g, d in da.items():
        grads[f"W_{g}"] = d.T @ hx
        grads[f"b_{g}"] = d.sum(axis=0)
        dhx += d @ p[f"W_{g}"]
    grads["h_prev"], grads["x_t"] = dhx[:, :H], dhx[:, H:]
    grads["c_prev"] = dc * f                                   # (5.7): the additive path, diag(f_t)
    return grads
