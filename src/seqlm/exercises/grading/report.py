"""How a grade is shown: a text table, the JSON record per file, Gradescope's results.json.

The JSON output follows ``check.schema.json`` (JSON Schema draft 2020-12), shipped in
the package beside this module's parent. Gradescope's uses only the keys its
autograder specification documents (``score``, ``execution_time``, ``output``,
``tests`` with ``name``, ``score``, ``max_score``, ``status``, ``output``, ``visibility``).
"""
from __future__ import annotations

import json
from importlib import resources

from seqlm import __version__
from seqlm.exercises.grading.grader import LOAD_CASE, FileResult

SCHEMA_VERSION = 2
KIND = "seqlm.exercises.check"
MARK = {"passed": "pass", "failed": "FAIL", "error": "FAIL", "timeout": "TIME", "skipped": "skip"}


def schema() -> dict:
    """The JSON schema of ``seqlm exercises check --json``."""
    text = (resources.files("seqlm.exercises") / "check.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def _points(x: float) -> str:
    return f"{x:g}"


def text_report(results: list[FileResult], titles: dict[str, str]) -> str:
    """One block per file: a line per case (hints indented below failures), then the score."""
    out = []
    for r in results:
        out.append(f"{r.exercise} ({titles.get(r.exercise, '')}): {r.file}")
        for flag in r.flags:
            out.append(f"  FLAGGED  tried to use seqlm: {flag} — graded code must not; no points")
        for note in r.notes:
            out.append(f"  note  {note}")
        width = max((len(c.name) for c in r.cases), default=10)
        for c in r.cases:
            tol = (f" [tolerance {c.tolerance}]" if c.tolerance and c.status == "failed"
                   and "tolerance" not in c.message else "")
            pts = f" ({_points(c.points)}/{_points(c.max_points)})" if c.name != LOAD_CASE else ""
            out.append(f"  {MARK.get(c.status, c.status)}  {c.name.ljust(width)}{pts}  {c.message}{tol}")
            if c.hint and not c.passed and c.status != "skipped":
                out.append(f"        hint: {c.hint}")
        verdict = "all passed" if r.passed else "not passed"
        out.append(f"  {_points(r.score)}/{_points(r.max_score)} points, {verdict} ({r.seconds:.1f} s; limits "
                   f"{r.limits.seconds:g} s, {r.limits.memory_mb} MiB, seed {r.seed})")
        out.append("")
    return "\n".join(out)


def json_report(results: list[FileResult]) -> dict:
    """One record per file, for a spreadsheet or CI (validates against :func:`schema`)."""
    return {"schema_version": SCHEMA_VERSION, "kind": KIND, "seqlm_version": __version__,
            "passed": all(r.passed for r in results), "results": [r.to_dict() for r in results]}


def _case_output(c, flags) -> str:
    lines = [f"{c.status}: {c.message}"]
    if c.tolerance:
        lines.append(f"tolerance: {c.tolerance}")
    if c.hint and not c.passed:
        lines.append(f"hint: {c.hint}")
    lines += [f"flagged: tried to use seqlm ({f})" for f in flags]
    if c.output:
        lines.append("printed:\n" + c.output)
    return "\n".join(lines)


def gradescope_report(results: list[FileResult]) -> dict:
    """Gradescope's ``results.json``: one test per case (its points and visibility), and
    the total. With several files (a folder graded at once) each test name starts with the file."""
    many = len(results) > 1
    tests = []
    for r in results:
        for c in r.cases:
            if c.name == LOAD_CASE and c.passed:
                continue
            tests.append({"name": (f"{r.file}: " if many else "") + f"{r.exercise}: {c.name}",
                          "score": 0.0 if r.flags else float(c.points), "max_score": float(c.max_points),
                          "status": "passed" if c.passed else "failed", "visibility": c.visibility,
                          "output": _case_output(c, r.flags)})
    notes = [f"{r.file}: {n}" for r in results for n in r.notes]
    return {"score": float(sum(r.score for r in results)),
            "execution_time": round(sum(r.seconds for r in results), 3),
            "output": "\n".join([f"graded by seqlm {__version__}"] + notes),
            "tests": tests}
