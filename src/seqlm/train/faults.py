"""Fault injection for tests, through the trainer's step hook (never the config).

The trainer calls ``step_hook(step, loss)`` after each forward pass, before the
backward pass; a hook may return a replacement loss. :func:`fault_hook` builds
one that poisons the loss at a given step (to test the divergence guard) or
sleeps after every step (so that a tiny run lives long enough to be killed by
a test). ``seqlm train`` installs it from two hidden flags,
``--inject-nan-at-step N`` and ``--sleep-per-step SECONDS``; nothing of it is
saved in a checkpoint or changes any hash.
"""
from __future__ import annotations

import time
from typing import Callable


def fault_hook(nan_at_step: int | None = None, sleep_per_step: float = 0.0
               ) -> Callable | None:
    """A step hook for the given faults, or None when there are none."""
    if nan_at_step is None and not sleep_per_step:
        return None

    def hook(step: int, loss):
        if sleep_per_step:
            time.sleep(sleep_per_step)
        if nan_at_step is not None and step == nan_at_step:
            return loss * float("nan")
        return None
    return hook
