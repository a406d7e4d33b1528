"""Running the real `seqlm` command in a subprocess, and what a user error must look like
(not a test module)."""
from __future__ import annotations

import os
import subprocess
import sys


def seqlm(*args, cwd=None, env=None, timeout: float = 300):
    """`python -m seqlm ARGS` with this interpreter, the caller's environment plus ``env``."""
    return subprocess.run([sys.executable, "-m", "seqlm", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})})


def ok(r):
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r


def one_line_error(r, *needles) -> str:
    """Exit status 2, one stderr line, no traceback, containing every needle."""
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]
