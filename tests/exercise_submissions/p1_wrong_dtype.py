"""Returns complex states; the output layer is right."""
from seqlm.exercises.solutions.p1 import rnn_forward as _forward
from seqlm.exercises.solutions.p1 import rnn_output  # noqa: F401


def rnn_forward(*args, **kwargs):
    hs, last = _forward(*args, **kwargs)
    return hs.astype(complex), last
