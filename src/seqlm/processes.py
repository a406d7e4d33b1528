"""Helper processes that end with their parent.

A worker seqlm starts (a compare stage, a bottleneck model) must not outlive the
command that started it: after a SIGKILL of the parent it would go on using memory
and CPU, and writing into an output folder that a re-run now owns. Each worker calls
:func:`die_with_parent` first: a daemon thread that ends the process (SIGKILL to
itself) as soon as its parent is gone — it was re-parented, so ``getppid`` changed.
Portable (no ``prctl``), and immune to which thread of the parent started it.
"""
from __future__ import annotations

import os
import signal
import threading
import time

WATCH_EVERY = 0.5  # seconds between looks at the parent


def _watch(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(WATCH_EVERY)


def die_with_parent(parent: int) -> None:
    """End this process when ``parent`` (the pid that started it) is gone — at once if
    it already is."""
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=_watch, args=(parent,), daemon=True, name="seqlm-die-with-parent").start()
