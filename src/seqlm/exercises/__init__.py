"""The chapter's ten exercises: four theory, six programming, each one checkable.

    from seqlm import exercises
    exercises.EXERCISES                      # T1–T4, P1–P6: objective, section, time
    print(exercises.statement("P1"))         # Markdown with LaTeX math
    exercises.verify("T1")                   # every claim of T1's worked solution, measured
    exercises.start("P1", "work/")           # the starter file (never the reference solution)
    results = exercises.check("P1", ["work/p1_rnn_forward.py"])   # graded in a sandboxed child

Ground truth is seqlm's own code (the NumPy reference with hand-written BPTT,
the gradient lab, the n-grams, the synthetic corpus and its oracle); see
docs/exercises.md.
"""
from __future__ import annotations

import importlib
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from seqlm.errors import SeqlmError
from seqlm.exercises.catalog import (EXERCISES, OBJECTIVES, Exercise, get, solution,
                                     starter_text, statement)
from seqlm.exercises.grading.grader import CaseResult, FileResult, checks_of, grade_file
from seqlm.exercises.grading.sandbox import Limits
from seqlm.io import write_text

__all__ = ["EXERCISES", "OBJECTIVES", "Exercise", "get", "statement", "solution", "verify",
           "start", "check", "limits_for", "FileResult", "CaseResult", "Limits"]


def verify(exercise_id: str):
    """Measure every claim of a theory exercise's worked solution: a list of
    :class:`seqlm.exercises.theory.Claim` (``holds`` is True for each when it is right)."""
    ex = get(exercise_id)
    if ex.kind != "theory":
        raise SeqlmError(f"{ex.id} is a programming exercise: `seqlm exercises check {ex.id} FILE` grades it")
    return importlib.import_module(f"seqlm.exercises.theory.{ex.id.lower()}").verify()


def start(exercise_id: str, directory: str | Path, force: bool = False) -> Path:
    """Write the starter file of a programming exercise into ``directory``; returns its path.
    An existing file is kept unless ``force``."""
    name, text = starter_text(exercise_id)
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise SeqlmError(f"{directory}: exists and is not a directory")
    path = directory / name
    if path.exists() and not force:
        raise SeqlmError(f"{path}: already exists; keep your work, or pass --force to overwrite it")
    write_text(path, text)
    return path


def limits_for(exercise_id: str, seconds: float | None = None, memory_mb: int | None = None,
               output_bytes: int | None = None, threads: int | None = None,
               load_seconds: float | None = None, processes: int | None = None) -> Limits:
    """The exercise's default limits, with any given value instead."""
    ex = get(exercise_id)
    for name, value in (("time limit", seconds), ("memory limit", memory_mb),
                        ("output limit", output_bytes), ("threads", threads),
                        ("load limit", load_seconds), ("process limit", processes)):
        if value is not None and not (value > 0 and math.isfinite(value)):  # nan too
            raise SeqlmError(f"the {name} must be positive, got {value}")
    base = Limits(float(ex.seconds), int(ex.memory_mb))
    return Limits(float(seconds or ex.seconds), int(memory_mb or ex.memory_mb),
                  int(output_bytes or base.output_bytes), int(threads or 1),
                  float(load_seconds or base.load_seconds), base.cell_seconds,
                  int(processes or base.processes))


def _check_path(ex: Exercise, f: str | Path) -> Path:
    p = Path(f)
    if not p.exists():
        raise SeqlmError(f"{p}: no such file")
    if p.is_dir():
        raise SeqlmError(f"{p}: is a directory; pass the files (e.g. {p}/*.py)")
    if p.suffix not in (".py", ".ipynb"):
        raise SeqlmError(f"{p}: a submission is a .py file or a Jupyter notebook (.ipynb)")
    return p


def check(exercise_id: str, files, seed: int = 0, limits: Limits | None = None,
          only: tuple[str, ...] = (), jobs: int = 1, weights: dict | None = None) -> list[FileResult]:
    """Grade each file (``.py`` or ``.ipynb``) for a programming exercise, each in its
    own process tree; returns one :class:`FileResult` per file, in order. ``only``
    grades just the cases whose name contains one of these texts; ``jobs`` files are
    graded at a time; ``weights``: {case name: (points, visibility)} (see
    :func:`seqlm.exercises.grading.config.load_config`)."""
    ex = get(exercise_id)
    if ex.kind != "programming":
        raise SeqlmError(f"{ex.id} is a theory exercise: `seqlm exercises verify {ex.id}` checks "
                         "its worked solution")
    paths = [_check_path(ex, f) for f in files]
    if not paths:
        raise SeqlmError("no files to grade")
    names = [c.name for c in checks_of(ex.id).CASES]
    if only and not any(o.lower() in n.lower() for o in only for n in names):
        raise SeqlmError(f"no case of {ex.id} has a name containing {' or '.join(map(repr, only))}; "
                         f"its cases are: {'; '.join(names)}")
    unknown = [n for n in (weights or {}) if n not in names]
    if unknown:
        raise SeqlmError(f"the grading config names a case {ex.id} does not have: {unknown[0]!r}; "
                         f"its cases are: {'; '.join(names)}")
    if not (isinstance(jobs, int) and jobs >= 1):
        raise SeqlmError(f"--jobs must be a positive integer, got {jobs}")
    limits = limits or limits_for(ex.id)
    if any(p.suffix == ".ipynb" for p in paths):
        from seqlm.exercises.grading.notebook import require_extra
        require_extra(paths[0])

    def one(p: Path) -> FileResult:
        return grade_file(ex.id, p, str(p), limits, seed, tuple(only), weights)
    if jobs == 1 or len(paths) == 1:
        return [one(p) for p in paths]
    with ThreadPoolExecutor(max_workers=jobs) as pool:  # each file's work is its own processes
        return list(pool.map(one, paths))
