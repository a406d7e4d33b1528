"""Divides by zero: the output is NaN; the forward is right."""
import numpy as np

from seqlm.exercises.solutions.p1 import rnn_forward  # noqa: F401


def rnn_output(hs, W_hy, b_y):
    z = hs @ W_hy.T + b_y
    with np.errstate(all="ignore"):
        return np.exp(z) / 0.0 * 0.0
