"""Run one submission in a child process with a wall-time limit, and collect its cases.

The child (:mod:`seqlm.exercises.grading.child`) caps its own memory and output
and times each case; this side enforces the wall-time limit of the whole
submission: the child runs in a new process group, which is killed (SIGKILL)
when the limit passes, with anything the learner's code started. The child
appends a JSON line at every case start and end, so after a kill or a crash we
know which case was running: it fails with one line of reason, and after a
crash the cases not yet run get a fresh process (at most ``MAX_LAUNCHES``).
Nothing the submission does can make this function raise or hang.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from seqlm.exercises.grading.cases import one_line
from seqlm.exercises.grading.child import LOAD_CASE

MAX_LAUNCHES = 3
SHOWN_CRASH_OUTPUT = 300  # characters of fd-level output quoted when the process dies


@dataclass(frozen=True)
class Limits:
    """What one submission may use: wall time (all its cases together), address
    space, printed bytes per case, and CPU threads."""

    seconds: float
    memory_mb: int
    output_bytes: int = 1 << 20
    threads: int = 1


@dataclass
class CaseResult:
    name: str
    status: str  # passed | failed | error | timeout | skipped
    message: str
    hint: str | None = None
    tolerance: str | None = None
    seconds: float = 0.0
    output: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class FileResult:
    """The grade of one file: every case (the load step only when it failed)."""

    exercise: str
    file: str
    seed: int
    limits: Limits
    cases: list[CaseResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def graded(self) -> list[CaseResult]:
        return [c for c in self.cases if c.name != LOAD_CASE]

    @property
    def score(self) -> int:
        return sum(c.passed for c in self.graded)

    @property
    def max_score(self) -> int:
        return len(self.graded)

    @property
    def passed(self) -> bool:
        return self.max_score > 0 and all(c.passed for c in self.cases)

    def to_dict(self) -> dict:
        return {"exercise": self.exercise, "file": self.file, "passed": self.passed,
                "score": self.score, "max_score": self.max_score,
                "seconds": round(self.seconds, 3), "seed": self.seed,
                "limits": {"seconds": self.limits.seconds, "memory_mb": self.limits.memory_mb,
                           "output_bytes": self.limits.output_bytes, "threads": self.limits.threads},
                "cases": [asdict(c) for c in self.cases]}


def _child_env(threads: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(max(1, threads))  # BLAS threads also reserve address space
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8", PYTHONHASHSEED="0")
    env.pop("PYTHONSTARTUP", None)
    return env


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _launch(exercise: str, source: Path, work: Path, n: int, limits: Limits, seed: int,
            seconds: float, cases: list[int] | None, failed: list[int],
            only: tuple[str, ...]) -> tuple[list[dict], int | None, str]:
    """One child run: (events, return code or None when killed at the limit, fd output head)."""
    results, console = work / f"events{n}.jsonl", work / f"console{n}.txt"
    cmd = [sys.executable, "-m", "seqlm.exercises.grading.child", exercise, str(source), str(results),
           "--seed", str(seed), "--memory-mb", str(limits.memory_mb),
           "--output-bytes", str(limits.output_bytes), "--threads", str(limits.threads),
           "--load-seconds", str(max(1.0, min(20.0, seconds))),
           "--failed", ",".join(map(str, failed))]
    if cases is not None:
        cmd += ["--cases", ",".join(map(str, cases))]
    for text in only:
        cmd += ["--only", text]
    with open(console, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                cwd=work, env=_child_env(limits.threads), start_new_session=True)
        try:
            rc: int | None = proc.wait(timeout=max(0.1, seconds))
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
            rc = None
        finally:
            _kill_group(proc)  # whatever the submission started in the background
    events = []
    if results.exists():
        for line in results.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:  # a line torn by the kill
                pass
    with open(console, "rb") as fh:
        head = fh.read(SHOWN_CRASH_OUTPUT * 4).decode("utf-8", "replace")
    return events, rc, head


def _death(rc: int, console: str) -> str:
    if rc < 0:
        try:
            how = f"was killed by {signal.Signals(-rc).name}"
        except ValueError:
            how = f"was killed by signal {-rc}"
    else:
        how = f"exited with status {rc}"
    tail = one_line(console.strip().splitlines()[-1], SHOWN_CRASH_OUTPUT) if console.strip() else ""
    return f"the Python process {how} while running this case" + (f": {tail}" if tail else "")


def grade_source(exercise: str, source: Path, label: str, limits: Limits, seed: int = 0,
                 only: tuple[str, ...] = ()) -> FileResult:
    """Grade the Python file ``source`` (``label`` is the name reported) for ``exercise``;
    ``only``: just the cases whose name contains one of these texts."""
    result = FileResult(exercise, label, seed, limits)
    t0 = time.perf_counter()
    done: dict[str, CaseResult] = {}
    order: list[str] = []  # the case names, from the child's plan
    note = None  # why the cases not done were not run
    todo: list[int] | None = None
    with tempfile.TemporaryDirectory(prefix="seqlm-grade-") as tmp:
        work = Path(tmp)
        for n in range(MAX_LAUNCHES):
            left = limits.seconds - (time.perf_counter() - t0)
            if left <= 0.5:
                note = "not run: the time limit ran out"
                break
            failed = [i for i, name in enumerate(order) if name in done and not done[name].passed]
            events, rc, console = _launch(exercise, source, work, n, limits, seed, left, todo, failed, only)
            running = None
            for e in events:
                if e.get("event") == "plan" and not order:
                    order = list(e["cases"])
                elif e.get("event") == "start":
                    running = e["case"]
                elif e.get("event") == "end":
                    done[e["case"]] = CaseResult(e["case"], e["status"], e["message"], e.get("hint"),
                                                 e.get("tolerance"), e.get("seconds", 0.0), e.get("output", ""))
                    running = None
            if LOAD_CASE in done and not done[LOAD_CASE].passed:
                note = "not run: the file did not load"
                break
            if rc is None:
                if running is not None:
                    done[running] = CaseResult(running, "timeout", f"did not finish: the submission's time "
                                               f"limit of {limits.seconds:g} s ran out during this case")
                note = f"not run: the time limit of {limits.seconds:g} s ran out"
                break
            if running is None and rc == 0:
                break
            done[running or "the grader"] = CaseResult(running or "the grader", "error", _death(rc, console))
            if running in (None, LOAD_CASE):
                note = "not run: the process died"
                break
            todo = [i for i, name in enumerate(order) if name not in done]
            if not todo:
                break
        else:
            note = f"not run: the process died {MAX_LAUNCHES} times"
    for name in order:
        if name not in done:
            done[name] = CaseResult(name, "skipped", note or "not run")
    if LOAD_CASE in done and done[LOAD_CASE].passed:
        del done[LOAD_CASE]
    names = ([LOAD_CASE] if LOAD_CASE in done else []) + order
    result.cases = [done[n] for n in names if n in done] + [c for n, c in done.items() if n not in names]
    result.seconds = time.perf_counter() - t0
    return result
