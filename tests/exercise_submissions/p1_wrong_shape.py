"""Returns batch-major states (B, T, H) instead of (T, B, H)."""
from seqlm.exercises.solutions.p1 import rnn_forward as _forward
from seqlm.exercises.solutions.p1 import rnn_output  # noqa: F401


def rnn_forward(*args, **kwargs):
    hs, last = _forward(*args, **kwargs)
    return hs.transpose(1, 0, 2), last
