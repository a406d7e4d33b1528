"""Grade one file: the cases run here, the learner's code runs in its own process.

:func:`grade_file` prepares a private directory (the submission's copy, the runner, the
exercise's named helpers), starts a :class:`~seqlm.exercises.grading.sandbox.Session`,
loads the submission there, and runs every case of the exercise in *this* process:
a case draws its inputs, computes the expected values with seqlm, and asks the
learner's process only for the learner's outputs. When that process dies or is ended
at a limit, the case it was in fails with the reason, and the next case gets a fresh
process (at most :data:`MAX_LAUNCHES`).
"""
from __future__ import annotations

import importlib
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

import seqlm
from seqlm.exercises.grading import wire
from seqlm.exercises.grading.cases import Case, Context, Fail, Raised
from seqlm.exercises.grading.sandbox import Limits, Lost, Session, install_runtime, unprivileged_uid

LOAD_CASE = "the file loads"
MAX_LAUNCHES = 4
TORCH_EXERCISES = ("P5", "P6")


@dataclass
class CaseResult:
    name: str
    status: str  # passed | failed | error | timeout | skipped
    message: str
    hint: str | None = None
    hint_kind: str | None = None  # mistake | property | neutral: why this hint
    tolerance: str | None = None
    seconds: float = 0.0
    output: str = ""
    points: float = 0.0
    max_points: float = 0.0
    visibility: str = "visible"

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class FileResult:
    """The grade of one file: every case (the load step only when it failed or left
    notes), and the flags: attempts to use seqlm, which cost every point."""

    exercise: str
    file: str
    seed: int
    limits: Limits
    cases: list[CaseResult] = field(default_factory=list)
    seconds: float = 0.0
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def graded(self) -> list[CaseResult]:
        return [c for c in self.cases if c.name != LOAD_CASE]

    @property
    def score(self) -> float:
        return 0.0 if self.flags else float(sum(c.points for c in self.graded if c.passed))

    @property
    def max_score(self) -> float:
        return float(sum(c.max_points for c in self.graded))

    @property
    def passed(self) -> bool:
        return not self.flags and bool(self.graded) and all(c.passed for c in self.cases)

    def to_dict(self) -> dict:
        return {"exercise": self.exercise, "file": self.file, "passed": self.passed,
                "score": self.score, "max_score": self.max_score, "flags": list(self.flags),
                "notes": list(self.notes), "seconds": round(self.seconds, 3), "seed": self.seed,
                "limits": {k: getattr(self.limits, k) for k in ("seconds", "memory_mb", "output_bytes", "threads",
                                                               "load_seconds", "cell_seconds", "processes")},
                "cases": [asdict(c) for c in self.cases]}


# ---------------------------------------------------------------------------- set-up

def checks_of(exercise: str):
    return importlib.import_module(f"seqlm.exercises.checks.{exercise.lower()}")


def _helpers(checks) -> dict[str, str]:
    """{module: source} of the seqlm modules the exercise names for learners to use."""
    out = {}
    for module in getattr(checks, "HELPERS", ()):
        spec = importlib.util.find_spec(module)
        out[module] = Path(spec.origin).read_text(encoding="utf-8")
    out.update(getattr(checks, "STUBS", {}))
    return out


def _allowed(helpers) -> list[str]:
    names = set()
    for module in helpers:
        parts = module.split(".")
        names.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(names)


def _hidden_paths(package: Path) -> list[str]:
    """sys.path entries that hold seqlm and nothing the learner needs (a source tree)."""
    parent = package.parent
    if parent.name in ("site-packages", "dist-packages"):
        return []
    return [os.path.realpath(parent)]


def prepare(exercise: str, path: Path, label: str, root: Path, limits: Limits) -> dict:
    """The runner's configuration for ``path`` under ``root`` (all but the pipes)."""
    from seqlm.exercises.grading.notebook import notebook_cells

    checks = checks_of(exercise)
    helpers = _helpers(checks)
    runtime, shim = install_runtime(root, helpers)
    work = root / "work"
    (work / "tmp").mkdir(parents=True)
    name = Path(label).name
    if path.suffix == ".ipynb":
        cells = notebook_cells(path, name)
        sub = {"kind": "cells", "cells": cells, "path": str(work / name)}
        names = [c["label"] for c in cells]
    else:
        shutil.copyfile(path, work / name)
        sub = {"kind": "py", "path": str(work / name), "label": name}
        names = [name]
    package = Path(seqlm.__file__).resolve().parent
    uid = unprivileged_uid()
    if uid is not None:  # the learner's user owns its working directory, and only that
        os.chmod(root, 0o755)
        for p in [work, *work.rglob("*")]:
            os.chown(p, uid, uid)
    return {"submission": sub, "names": names, "memory_mb": limits.memory_mb,
            "output_bytes": limits.output_bytes, "threads": limits.threads, "cell_seconds": limits.cell_seconds,
            "torch": exercise in TORCH_EXERCISES, "protected": [str(package)],
            "hidden_paths": _hidden_paths(package), "allowed_modules": _allowed(helpers),
            "helpers": str(shim), "runtime": str(runtime), "writable": [str(work)], "work": str(work),
            "nproc": None}


def _tensor(arr, meta):
    import torch
    t = torch.from_numpy(np.array(arr))
    return t.requires_grad_() if meta.get("requires_grad") and t.is_floating_point() else t


# ---------------------------------------------------------------------------- grading

class Remote:
    """The learner's process for one file, started again after it is lost."""

    def __init__(self, prepared: dict, root: Path, limits: Limits, torch: bool) -> None:
        self.prepared, self.root, self.limits, self.torch = prepared, root, limits, torch
        self.session: Session | None = None
        self.launches, self.flags, self.case_started = 0, [], False
        self.load: CaseResult | None = None
        self.budget = 0.0  # learner seconds left in the current case

    def _start(self) -> None:
        if self.launches >= MAX_LAUNCHES:
            raise Lost("error", f"not run: the process died {MAX_LAUNCHES} times")
        self.launches += 1
        self.session = Session(self.prepared, self.root, self.limits, self.launches)
        self.session.start()
        try:
            head, _ = self.session.request({"op": "load"}, None, self.limits.load_seconds)
        except Lost as err:
            self.close()
            self.load = CaseResult(LOAD_CASE, err.status, err.message)
            raise Lost("error", "not run: the file did not load") from None
        if head.get("status") != "ok":
            self.close()
            self.load = CaseResult(LOAD_CASE, head.get("status", "error"), str(head.get("message", "")),
                                   output=str(head.get("output", ""))[:2000])
            raise Lost("error", "not run: the file did not load")
        if self.load is None:
            notes = [str(n) for n in head.get("notes", [])][:20]
            self.load = CaseResult(LOAD_CASE, "passed", "; ".join(notes) or "imported",
                                   output=str(head.get("output", ""))[:2000])

    def __call__(self, driver: str, args: dict):
        if self.session is None:
            self._start()
        seconds = max(0.05, self.budget)
        tree, arrays = wire.encode(args)
        t0 = time.monotonic()
        try:
            head, got = self.session.request({"op": "call", "driver": driver, "args": tree,
                                              "new_case": not self.case_started}, arrays, seconds)
        except Lost:
            self.close()
            raise
        finally:
            self.budget -= time.monotonic() - t0
        self.case_started = True
        self.output += str(head.get("output", ""))
        if head.get("status") != "ok":
            raise Raised(str(head.get("status")), str(head.get("message", ""))[:500])
        try:
            return wire.decode(head.get("value"), got, _tensor if self.torch else None)
        except wire.WireError as err:
            raise Raised("error", f"its answer could not be read: {err}") from None

    def begin(self, seconds: float) -> None:
        self.case_started, self.budget, self.output = False, seconds, ""

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.flags += [f for f in self.session.flags if f not in self.flags]
            self.session = None


def _run_case(case: Case, ctx: Context, remote: Remote) -> CaseResult:
    t0 = time.perf_counter()
    hint = kind = None
    try:
        message, status = case.run(ctx), "passed"
    except Fail as f:
        status, message, hint, kind = "failed", f.message, f.hint, f.kind
    except Raised as err:
        status, message = ("timeout" if err.status == "timeout" else "error"), err.message
    except Lost as err:
        status, message = err.status, err.message
        if remote.load is not None and not remote.load.passed:
            status = "skipped"
    return CaseResult(case.name, status, message, hint, kind, case.tolerance, round(time.perf_counter() - t0, 4),
                      remote.output[:2000], 0.0, case.points, case.visibility)


def grade_file(exercise: str, path: Path, label: str, limits: Limits, seed: int = 0,
               only: tuple[str, ...] = (), weights: dict | None = None) -> FileResult:
    """Grade ``path`` (a .py file or a notebook; ``label`` is the name reported);
    ``only``: just the cases whose name contains one of these texts; ``weights``:
    {case name: (points, visibility)} from a teacher's configuration."""
    checks = checks_of(exercise)
    result = FileResult(exercise, label, seed, limits)
    t0 = time.perf_counter()
    cases = [c for c in checks.CASES if not only or any(o.lower() in c.name.lower() for o in only)]
    with tempfile.TemporaryDirectory(prefix="seqlm-grade-") as tmp:
        root = Path(tmp)
        try:
            prepared = prepare(exercise, path, label, root, limits)
        except ValueError as err:  # a notebook that is not one
            result.cases = [CaseResult(LOAD_CASE, "error", str(err))]
            return result
        remote = Remote(prepared, root, limits, exercise in TORCH_EXERCISES)
        status: dict[str, str] = {}
        try:
            for case in cases:
                index = checks.CASES.index(case)
                points, visibility = (weights or {}).get(case.name, (case.points, case.visibility))
                case = Case(case.name, case.run, case.equations, case.tolerance, case.requires, case.seconds,
                            points, visibility)
                left = limits.seconds - (time.perf_counter() - t0)
                missing = [r for r in case.requires if status.get(r, "passed") != "passed"]
                if remote.load is not None and not remote.load.passed:
                    res = CaseResult(case.name, "skipped", "not run: the file did not load", max_points=points,
                                     visibility=visibility)
                elif missing:
                    res = CaseResult(case.name, "skipped", f"not run: it needs '{missing[0]}' to pass first",
                                     max_points=points, visibility=visibility, tolerance=case.tolerance)
                elif left <= 0.5:
                    res = CaseResult(case.name, "skipped", f"not run: the time limit of {limits.seconds:g} s "
                                     "ran out", max_points=points, visibility=visibility)
                else:
                    remote.begin(min(case.seconds, left))
                    res = _run_case(case, Context(remote, seed, index, Path(label).name), remote)
                    if res.passed:
                        res.points = points
                status[case.name] = res.status
                result.cases.append(res)
        finally:
            remote.close()
    result.flags = remote.flags
    if remote.load is not None and (not remote.load.passed or remote.load.message != "imported"):
        if remote.load.passed:
            result.notes = remote.load.message.split("; ")
        else:
            result.cases.insert(0, remote.load)
    if result.flags:
        for c in result.cases:
            if c.passed:
                c.status, c.points = "failed", 0.0
                c.message = "not counted: the submission tried to use seqlm (" + result.flags[0] + ")"
    result.seconds = time.perf_counter() - t0
    return result
