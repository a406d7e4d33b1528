"""Prints megabytes while computing (a debug print left in a loop); otherwise right."""
# base: P1 — the grader tests prepend the reference solution; this file's code follows it.
_forward = rnn_forward  # the reference's, before this file redefines it


def rnn_forward(*args, **kwargs):
    for i in range(200_000):
        print("debug", i, "x" * 40)
    return _forward(*args, **kwargs)
