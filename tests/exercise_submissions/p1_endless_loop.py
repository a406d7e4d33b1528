"""An endless Python loop in the output layer (the forward is right)."""
from seqlm.exercises.solutions.p1 import rnn_forward  # noqa: F401


def rnn_output(hs, W_hy, b_y):
    n = 0
    while True:
        n += 1
