"""Right, but in float32: the states are rounded far above the 1e-8 tolerance."""
# base: P1 — the grader tests prepend the reference solution; this file's code follows it.
_forward = rnn_forward  # the reference's, before this file redefines it


def rnn_forward(*args, **kwargs):
    hs, last = _forward(*args, **kwargs)
    return hs.astype("float32"), last.astype("float32")
