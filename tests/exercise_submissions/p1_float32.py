"""Right, but in float32: the states are rounded far above the 1e-8 tolerance."""
from seqlm.exercises.solutions.p1 import rnn_forward as _forward
from seqlm.exercises.solutions.p1 import rnn_output  # noqa: F401


def rnn_forward(*args, **kwargs):
    hs, last = _forward(*args, **kwargs)
    return hs.astype("float32"), last.astype("float32")
