"""P1 done one sequence at a time, with the state carried from one sequence to the next."""
# base: P1 — the grader tests prepend the reference solution; this file's code follows it.
import numpy as np


def rnn_forward(xs, lengths, W_xh, W_hh, b_h, h0=None):
    T, B, _ = xs.shape
    hs = np.zeros((T, B, W_hh.shape[0]))
    h = np.zeros(W_hh.shape[0]) if h0 is None else h0[0]
    last = []
    for b in range(B):                       # the mistake: h is not reset for sequence b
        for t in range(lengths[b]):
            h = np.tanh(W_hh @ h + W_xh @ xs[t, b] + b_h)
            hs[t, b] = h
        last.append(h)
    return hs, np.array(last)
