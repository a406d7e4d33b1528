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
import tempfile
from pathlib import Path

from seqlm.errors import SeqlmError
from seqlm.exercises.catalog import (EXERCISES, OBJECTIVES, Exercise, get, solution,
                                     starter_text, statement)
from seqlm.exercises.grading.sandbox import CaseResult, FileResult, Limits, grade_source
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
               output_bytes: int | None = None, threads: int | None = None) -> Limits:
    """The exercise's default limits, with any given value instead."""
    ex = get(exercise_id)
    for name, value in (("time limit", seconds), ("memory limit", memory_mb),
                        ("output limit", output_bytes), ("threads", threads)):
        if value is not None and not (value > 0 and math.isfinite(value)):  # nan too
            raise SeqlmError(f"the {name} must be positive, got {value}")
    return Limits(float(seconds or ex.seconds), int(memory_mb or ex.memory_mb),
                  int(output_bytes or (1 << 20)), int(threads or 1))


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
          only: tuple[str, ...] = ()) -> list[FileResult]:
    """Grade each file (``.py`` or ``.ipynb``) for a programming exercise, one child
    process each; returns one :class:`FileResult` per file, in order. ``only``
    grades just the cases whose name contains one of these texts."""
    from seqlm.exercises.grading.child import LOAD_CASE
    from seqlm.exercises.grading.notebook import notebook_source

    ex = get(exercise_id)
    if ex.kind != "programming":
        raise SeqlmError(f"{ex.id} is a theory exercise: `seqlm exercises verify {ex.id}` checks "
                         "its worked solution")
    paths = [_check_path(ex, f) for f in files]
    if not paths:
        raise SeqlmError("no files to grade")
    if only:
        names = [c.name for c in importlib.import_module(f"seqlm.exercises.checks.{ex.id.lower()}").CASES]
        if not any(o.lower() in n.lower() for o in only for n in names):
            raise SeqlmError(f"no case of {ex.id} has a name containing {' or '.join(map(repr, only))}; "
                             f"its cases are: {'; '.join(names)}")
    limits = limits or limits_for(ex.id)
    results = []
    with tempfile.TemporaryDirectory(prefix="seqlm-nb-") as tmp:
        for i, p in enumerate(paths):
            source = p.resolve()
            if p.suffix == ".ipynb":
                try:
                    text = notebook_source(p)
                except ValueError as err:
                    results.append(FileResult(ex.id, str(p), seed, limits,
                                              [CaseResult(LOAD_CASE, "error", str(err))]))
                    continue
                source = Path(tmp) / str(i) / (p.name + ".py")
                source.parent.mkdir()
                source.write_text(text, encoding="utf-8")
            results.append(grade_source(ex.id, source, str(p), limits, seed, tuple(only)))
    return results
