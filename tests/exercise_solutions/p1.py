"""P1, reference solution: the vanilla RNN forward (eq. 5.1) over a padded batch of
variable-length sequences, and the softmax output layer (eq. 5.2)."""
import numpy as np


def rnn_forward(xs, lengths, W_xh, W_hh, b_h, h0=None):
    T, B, _ = xs.shape
    H = W_hh.shape[0]
    lengths = np.asarray(lengths)
    hs = np.zeros((T, B, H))                                   # (T, B, H), 0 after each end
    h = np.zeros((B, H)) if h0 is None else np.array(h0, dtype=np.float64)  # (B, H)
    for t in range(T):
        alive = (t < lengths)[:, None]                         # (B, 1): sequence b still running
        h_new = np.tanh(h @ W_hh.T + xs[t] @ W_xh.T + b_h)     # (5.1), rows are batch elements
        h = np.where(alive, h_new, h)                          # a finished sequence keeps its h
        hs[t] = np.where(alive, h_new, 0.0)
    return hs, h                                               # h: each sequence's own last state


def rnn_output(hs, W_hy, b_y):
    z = hs @ W_hy.T + b_y                                      # (T, B, V) logits
    z = z - z.max(axis=-1, keepdims=True)                      # softmax(z) = softmax(z - c): no overflow
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)                   # (5.2)
