"""The process dies (SIGABRT) in the output layer; the forward is right."""
import os

from seqlm.exercises.solutions.p1 import rnn_forward  # noqa: F401


def rnn_output(hs, W_hy, b_y):
    os.abort()
