"""Prints megabytes while computing (a debug print left in a loop); otherwise right."""
from seqlm.exercises.solutions.p1 import rnn_forward as _forward
from seqlm.exercises.solutions.p1 import rnn_output  # noqa: F401


def rnn_forward(*args, **kwargs):
    for i in range(200_000):
        print("debug", i, "x" * 40)
    return _forward(*args, **kwargs)
