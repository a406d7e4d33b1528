"""The grading child: runs one submission's cases inside the limits it sets itself.

    python -m seqlm.exercises.grading.child EXERCISE FILE RESULTS [--seed S]
        [--cases A,B] [--memory-mb M] [--output-bytes N] [--threads K]

The parent (:mod:`seqlm.exercises.grading.sandbox`) starts it in a new process
group with a wall-time limit and kills the group when that limit passes. Here,
before any learner code runs:

- the address space is capped (``RLIMIT_AS``): a runaway allocation raises
  MemoryError inside the case that made it instead of taking the machine;
- ``sys.stdout``/``sys.stderr`` become bounded streams: a case that prints more
  than N bytes fails at that moment (fd-level output from C code goes to the
  parent's file, capped by ``RLIMIT_FSIZE``);
- every case runs under its own ``SIGALRM`` timer, so an endless Python loop
  fails that case and the others still run.

Each case start and end is appended to RESULTS as one JSON line, so whatever
kills the process, the parent knows which case was running.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
import json
import os
import resource
import signal
import sys
import time
import traceback
from pathlib import Path

from seqlm.exercises.grading.cases import Context, Fail, one_line

LOAD_CASE = "the file loads"
KEEP_OUTPUT = 2000  # characters of a case's printed output kept for the report


class CaseTimeout(BaseException):
    """Raised by the case timer; a BaseException so that ``except Exception`` in
    learner code does not swallow it."""


class OutputLimit(BaseException):
    """Raised when a case has printed more than its limit."""


class BoundedStream(io.TextIOBase):
    """A text stream that keeps the first characters of each case's output and
    raises :class:`OutputLimit` once a case has written more than ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit, self.written, self.kept = limit, 0, []
        self.kept_chars = 0

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        s = str(s)
        self.written += len(s.encode("utf-8", "replace"))
        if self.kept_chars < KEEP_OUTPUT:
            self.kept.append(s[: KEEP_OUTPUT - self.kept_chars])
            self.kept_chars += len(self.kept[-1])
        if self.written > self.limit:
            raise OutputLimit()
        return len(s)

    def take(self) -> tuple[str, int]:
        """(kept output, bytes written) of the case that just ended; resets."""
        out, n = "".join(self.kept), self.written
        self.written, self.kept, self.kept_chars = 0, [], 0
        return out, n


def set_limits(memory_mb: int, output_bytes: int) -> None:
    """Cap the address space and the size of any file written (the fd-level output)."""
    mem = memory_mb * 1024 * 1024
    cap = 4 * output_bytes + (1 << 20)
    for which, value in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, cap)):
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):  # macOS refuses some limits; the wall-time limit still holds
            pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the cap fail instead of killing us


def _where(tb, filename: str) -> str:
    """' (file line N)' for the deepest frame of the traceback inside the submission."""
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if os.path.abspath(frame.f_code.co_filename) == filename:
            line = lineno
    return f" ({Path(filename).name} line {line})" if line else ""


def describe(err: BaseException, filename: str, seconds: float, limit_bytes: int,
             memory_mb: int) -> tuple[str, str]:
    """(status, one-line message) for an exception that escaped a case."""
    where = _where(err.__traceback__, filename)
    if isinstance(err, CaseTimeout):
        return "timeout", f"did not finish within {seconds:g} s (an endless loop?)"
    if isinstance(err, OutputLimit):
        return "error", (f"printed more than {limit_bytes // 1024} KiB of output{where}; "
                         "remove the prints from loops")
    if isinstance(err, MemoryError) or "can't allocate memory" in str(err):
        return "error", f"ran out of memory (the limit is {memory_mb} MiB){where}"
    if isinstance(err, SystemExit):
        return "error", f"called exit() or sys.exit(){where}"
    if isinstance(err, NotImplementedError):
        return "error", "not implemented yet: NotImplementedError" + where
    if isinstance(err, SyntaxError):
        return "error", f"SyntaxError: {err.msg} ({Path(err.filename or filename).name} line {err.lineno})"
    text = str(err)
    return "error", f"raised {type(err).__name__}" + (f": {text}" if text else "") + where


class Runner:
    """Runs cases one at a time, writing a JSON line at each start and end."""

    def __init__(self, args: argparse.Namespace, stream: BoundedStream) -> None:
        self.args, self.stream = args, stream
        self.filename = os.path.abspath(args.file)
        self.out = open(args.results, "a", encoding="utf-8", buffering=1)
        self.status: dict[str, str] = {}

    def event(self, **fields) -> None:
        self.out.write(json.dumps(fields) + "\n")
        self.out.flush()

    def run(self, name: str, fn, seconds: float, hint: str | None = None,
            tolerance: str | None = None) -> str:
        """Run ``fn()`` as the case ``name``; record and return its status."""
        self.event(event="start", case=name)
        self.stream.take()
        t0 = time.perf_counter()
        hint_out, status = None, "passed"
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            message = one_line(fn())
        except Fail as f:
            status, message, hint_out = "failed", f.message, f.hint or hint
        except BaseException as err:  # everything the learner's code can do goes here
            status, message = describe(err, self.filename, seconds, self.args.output_bytes,
                                       self.args.memory_mb)
            hint_out = None if isinstance(err, NotImplementedError) else hint
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        output, _ = self.stream.take()
        self.event(event="end", case=name, status=status, message=message, hint=hint_out,
                   tolerance=tolerance, seconds=round(time.perf_counter() - t0, 4), output=output)
        self.status[name] = status
        return status


def load_submission(path: str):
    """Import the learner's file as the module ``submission``."""
    sys.path.insert(0, str(Path(path).resolve().parent))
    spec = importlib.util.spec_from_file_location("submission", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    spec.loader.exec_module(module)
    return module


def _on_alarm(signum, frame):
    raise CaseTimeout()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="seqlm-grader-child")
    p.add_argument("exercise")
    p.add_argument("file")
    p.add_argument("results")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cases", default=None, help="comma-separated case indices to run")
    p.add_argument("--memory-mb", type=int, default=2048)
    p.add_argument("--output-bytes", type=int, default=1 << 20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--load-seconds", type=float, default=20.0)
    p.add_argument("--only", action="append", default=[],
                   help="run only the cases whose name contains this text (repeatable)")
    p.add_argument("--failed", default="", help="comma-separated indices of cases that failed before")
    args = p.parse_args(argv)

    checks = importlib.import_module(f"seqlm.exercises.checks.{args.exercise.lower()}")
    if "torch" in sys.modules:  # small models: one or two threads beat many on a shared CPU
        sys.modules["torch"].set_num_threads(max(1, args.threads))
    set_limits(args.memory_mb, args.output_bytes)
    stream = BoundedStream(args.output_bytes)
    sys.stdout = sys.stderr = stream
    signal.signal(signal.SIGALRM, _on_alarm)
    runner = Runner(args, stream)
    selected = [c for c in checks.CASES
                if not args.only or any(o.lower() in c.name.lower() for o in args.only)]
    runner.event(event="plan", cases=[c.name for c in selected])
    for i in filter(None, args.failed.split(",")):  # cases a previous (crashed) run failed
        runner.status[checks.CASES[int(i)].name] = "failed"
    box: dict = {}

    def load() -> str:
        box["module"] = load_submission(args.file)
        return "imported"

    if runner.run(LOAD_CASE, load, args.load_seconds,
                  hint="the file must run on its own with seqlm's Python: numpy, torch, the "
                       "standard library and seqlm are there; other imports are not") != "passed":
        return 0
    wanted = None if args.cases is None else {int(i) for i in args.cases.split(",") if i}
    for index, case in enumerate(checks.CASES):
        if (wanted is not None and index not in wanted) or case not in selected:
            continue
        missing = [r for r in case.requires if runner.status.get(r, "passed") != "passed"]
        if missing:
            runner.event(event="end", case=case.name, status="skipped", hint=None, output="",
                         message=f"not run: it needs '{missing[0]}' to pass first",
                         tolerance=case.tolerance, seconds=0.0)
            runner.status[case.name] = "skipped"
            continue
        ctx = Context(box["module"], args.seed, index, Path(args.file).name)
        runner.run(case.name, lambda: case.run(ctx), case.seconds, case.hint, case.tolerance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
