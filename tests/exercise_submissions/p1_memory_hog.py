"""Asks for 80 GB in the forward; the output layer is right."""
import numpy as np

from seqlm.exercises.solutions.p1 import rnn_output  # noqa: F401


def rnn_forward(xs, lengths, W_xh, W_hh, b_h, h0=None):
    big = np.ones((10_000, 1_000_000))
    return big, big
