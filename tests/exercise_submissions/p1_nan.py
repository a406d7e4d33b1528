"""Divides by zero: the output is NaN; the forward is right."""
# base: P1 — the grader tests prepend the reference solution; this file's code follows it.
import numpy as np


def rnn_output(hs, W_hy, b_y):
    z = hs @ W_hy.T + b_y
    with np.errstate(all="ignore"):
        return np.exp(z) / 0.0 * 0.0
