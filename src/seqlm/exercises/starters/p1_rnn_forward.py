"""P1 — the vanilla RNN forward pass (Sections 5.1–5.2).

Implement eq. (5.1) over a padded batch of variable-length sequences, and the
softmax output layer of eq. (5.2), in NumPy (float64):

    h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)         (5.1)
    y_t = softmax(W_hy h_t + b_y)                      (5.2)

Arrays are time-major and rows are batch elements: x_t of sequence b is
xs[t - 1, b] (shape (I,)), so W_xh x_t for the whole batch is xs[t - 1] @ W_xh.T.

Check your work:   seqlm exercises check P1 p1_rnn_forward.py
"""
import numpy as np


def rnn_forward(xs, lengths, W_xh, W_hh, b_h, h0=None):
    """Run eq. (5.1) over a batch of sequences of different lengths.

    xs       (T, B, I)  inputs; sequence b is xs[:lengths[b], b], the rest is padding
    lengths  (B,)       integers in 1..T
    W_xh     (H, I)
    W_hh     (H, H)
    b_h      (H,)
    h0       (B, H) or None: the initial state h_0 of every sequence (None: zeros)

    Returns (hs, h_last):
    hs       (T, B, H)  hs[t - 1, b] = h_t of sequence b for t <= lengths[b], and 0 after
    h_last   (B, H)     h_last[b] = h_{lengths[b]}, the last state of sequence b
    """
    raise NotImplementedError


def rnn_output(hs, W_hy, b_y):
    """Eq. (5.2) at every step of every sequence.

    hs   (T, B, H)
    W_hy (V, H)
    b_y  (V,)

    Returns y (T, B, V): y[t, b] is a probability distribution over the V words.
    It must stay finite for large logits (|W_hy h_t + b_y| in the thousands).
    """
    raise NotImplementedError
