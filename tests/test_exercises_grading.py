"""The grader is trustworthy and survives the learner.

For P1–P6: the reference solution passes, the untouched starter fails cleanly,
and every typical wrong solution (tests/exercise_submissions/mutations.py: one
edit of the reference each) fails with the hint that names its mistake — or, when
no known mistake computes its answer, the neutral hint — and never with a hint that
names a mistake it does not make. Misbehaving submissions (endless loops, crashes,
missing imports, megabytes of output, wrong shapes, NaN, memory) each fail with one
line of reason, in time.
"""
from __future__ import annotations

import importlib
import importlib.util
import tempfile
import time
from pathlib import Path

import pytest

from seqlm import exercises
from seqlm.exercises.catalog import EXERCISES
from seqlm.exercises.grading import cases as grading_cases
from seqlm.exercises.grading.grader import LOAD_CASE

HERE = Path(__file__).parent / "exercise_submissions"
PKG = Path(exercises.__file__).parent
SOLUTIONS = Path(__file__).parent / "exercise_solutions"  # not in the wheel: see its README
PROGRAMMING = [e for e, x in EXERCISES.items() if x.kind == "programming"]


def _mutations():
    spec = importlib.util.spec_from_file_location("exercise_mutations", HERE / "mutations.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.MUTATIONS


MUTATIONS = _mutations()


def submission(name: str, directory: Path) -> Path:
    """The file ``name`` of tests/exercise_submissions as graded: one that says
    '# base: PN' gets the reference solution of PN before its own code."""
    text = (HERE / name).read_text()
    first = [ln for ln in text.splitlines() if ln.startswith("# base: ")]
    if first:
        ex = first[0].split()[2]
        text = (SOLUTIONS / f"{ex.lower()}.py").read_text() + "\n\n" + text
    path = directory / name
    path.write_text(text)
    return path


def _one_line(result):
    for c in result.cases:
        assert "\n" not in c.message and c.message, c
        assert c.hint is None or "\n" not in c.hint


@pytest.mark.slow
@pytest.mark.parametrize("ex", PROGRAMMING)
def test_reference_solution_passes_and_starter_fails_cleanly(ex, tmp_path):
    starter = exercises.start(ex, tmp_path)
    ref, st = exercises.check(ex, [SOLUTIONS / f"{ex.lower()}.py", starter])
    assert ref.passed, [(c.name, c.message) for c in ref.cases if not c.passed]
    assert ref.score == ref.max_score >= 5
    for c in ref.cases:
        assert c.tolerance is None or c.tolerance  # stated where a number is compared
    assert not st.passed and st.score == 0 and st.max_score == ref.max_score
    for c in st.cases:  # fails cleanly: not implemented, or not run because of that
        assert c.status in ("error", "skipped"), c
        assert c.message.startswith(("not implemented yet", "not run")), c
    _one_line(ref)
    _one_line(st)


@pytest.mark.parametrize("ex", PROGRAMMING)
def test_every_wrong_solution_fails_with_its_hint(ex, tmp_path):
    source = (SOLUTIONS / f"{ex.lower()}.py").read_text()
    checks = importlib.import_module(f"seqlm.exercises.checks.{ex.lower()}")
    variants = [m for m in MUTATIONS if m[0] == ex]
    assert len(variants) >= 3
    by_only: dict[tuple, list] = {}
    for i, (_, name, old, new, hint, only) in enumerate(variants):
        assert source.count(old) == 1, f"{ex} {name}: the edit must match the reference exactly once"
        path = tmp_path / f"{ex.lower()}_wrong_{i}.py"
        path.write_text(source.replace(old, new))
        expected = None if hint == "NEUTRAL" else getattr(checks, hint, None) or getattr(grading_cases, hint)
        by_only.setdefault(only, []).append((name, expected, path))
    for only, group in by_only.items():  # several wrong variants per grader call
        results = exercises.check(ex, [p for _, _, p in group], only=only, jobs=2)
        for (name, hint, _), r in zip(group, results):
            assert not r.passed and r.score < r.max_score, f"{ex} {name}: graded as passing"
            failed = [c for c in r.cases if c.status in ("failed", "error", "timeout")]
            hints = [c.hint for c in failed if c.hint]
            named = [c.hint for c in failed if c.hint_kind == "mistake"]
            if hint is None:  # no known mistake computes it: only what differs is said
                assert not named, f"{ex} {name}: a mistake named without being made: {named}"
                assert any(c.hint_kind == "neutral" for c in failed) or not hints, f"{ex} {name}: {hints}"
            else:
                assert hint in hints, f"{ex} {name}: hints {hints} {[(c.status, c.message) for c in r.cases]}"
                assert set(named) <= {hint}, f"{ex} {name}: another mistake named: {named}"
            _one_line(r)


def _grade(name, seconds=60.0, ex="P1", tmp=None):
    t0 = time.perf_counter()
    path = submission(name, Path(tempfile.mkdtemp(prefix="seqlm-sub-")))
    r = exercises.check(ex, [path], limits=exercises.limits_for(ex, seconds=seconds))[0]
    _one_line(r)
    return r, time.perf_counter() - t0


def test_state_carried_across_the_batch_gets_its_hint():
    r, _ = _grade("p1_carry_state.py")
    from seqlm.exercises.checks.p1 import H_CARRY
    assert not r.passed and H_CARRY in [c.hint for c in r.cases]
    assert r.cases[0].passed  # T = 1, B = 1: nothing to carry


def test_endless_loop_fails_its_case_and_the_rest_still_run_within_the_limit():
    r, elapsed = _grade("p1_endless_loop.py", seconds=14)
    status = {c.name: c.status for c in r.cases}
    assert [s for n, s in status.items() if n.startswith("forward")] == ["passed"] * 5
    assert status["output, T = 1, B = 1"] == "timeout"
    assert "did not finish within 10 s" in r.cases[5].message
    assert elapsed < 14 + 5


def test_a_loop_that_swallows_the_timer_is_killed_at_the_wall_limit():
    r, elapsed = _grade("p1_stubborn_loop.py", seconds=4)
    assert r.cases[0].status == "timeout" and "did not finish" in r.cases[0].message
    assert all(c.status == "skipped" and "time limit of 4 s ran out" in c.message for c in r.cases[1:])
    assert elapsed < 4 + 5


def test_a_crash_fails_the_cases_it_hits_and_the_others_are_graded():
    r, _ = _grade("p1_crash.py")
    status = [c.status for c in r.cases]
    assert status[:5] == ["passed"] * 5
    assert status[5] == "error" and "killed by SIGABRT" in r.cases[5].message
    assert r.score == 6 and not r.passed  # the forward's points


def test_a_missing_import_is_one_failed_case():
    r, _ = _grade("p1_missing_import.py")
    failed = [c for c in r.cases if c.status in ("failed", "error", "timeout")]
    assert [c.name for c in failed] == [LOAD_CASE]
    assert "ModuleNotFoundError" in failed[0].message and "seqlm_no_such_module" in failed[0].message
    assert "line 3" in failed[0].message
    assert r.score == 0 and r.max_score == 10 and all(c.status == "skipped" for c in r.cases[1:])


def test_megabytes_printed_fail_the_case_that_printed_them():
    r, elapsed = _grade("p1_loud.py")
    forward = [c for c in r.cases if c.name.startswith("forward")]
    assert all(c.status == "error" and "printed more than 1024 KiB" in c.message for c in forward)
    assert all(c.status == "passed" for c in r.cases if c.name.startswith("output"))
    assert all(len(c.output) <= 2000 for c in r.cases)


def test_wrong_shape_nan_memory_and_exit_are_each_a_failed_case():
    r, _ = _grade("p1_wrong_shape.py")
    bad = [c for c in r.cases if not c.passed]
    assert bad and all("hs has shape" in c.message for c in bad)
    r, _ = _grade("p1_nan.py")
    bad = [c for c in r.cases if not c.passed]
    assert [c.name[:6] for c in bad] == ["output"] * 3 and all("contains NaN" in c.message for c in bad)
    r, _ = _grade("p1_memory_hog.py")
    bad = [c for c in r.cases if not c.passed]
    assert len(bad) == 5 and all("ran out of memory (the limit is 2048 MiB)" in c.message for c in bad)
    r, _ = _grade("p1_exits.py")
    assert "exited with status 3" in r.cases[0].message
    assert all(c.status != "passed" for c in r.cases)


def test_a_wrong_dtype_and_float32_rounding_are_named_as_such():
    from seqlm.exercises.grading.cases import H_PRECISION
    r, _ = _grade("p1_wrong_dtype.py")
    bad = [c for c in r.cases if not c.passed]
    assert [c.name[:7] for c in bad] == ["forward"] * 5
    assert all("hs has dtype complex128, expected a float array" in c.message for c in bad)
    r, _ = _grade("p1_float32.py")
    bad = [c for c in r.cases if not c.passed]
    assert [c.name[:7] for c in bad] == ["forward"] * 5 and r.score == 4
    assert all(c.hint == H_PRECISION for c in bad), [c.hint for c in bad]  # not "eq. (5.1) is wrong"


@pytest.mark.slow
@pytest.mark.parametrize("ex", PROGRAMMING)
def test_the_reference_solution_passes_on_ten_seeds(ex, tmp_path):
    """Every randomised case (shapes, inputs, test sets, the P6 corpus) drawn from ten
    seeds a teacher might keep secret: the correct solution passes each time."""
    from seqlm.exercises.grading.report import json_report, schema
    import jsonschema
    path = SOLUTIONS / f"{ex.lower()}.py"
    results = [exercises.check(ex, [path], seed=s)[0] for s in range(10)]
    for s, r in enumerate(results):
        assert r.passed and r.score == r.max_score, (s, [(c.name, c.message) for c in r.cases if not c.passed])
    jsonschema.Draft202012Validator(schema()).validate(json_report(results))
    messages = {r.cases[1].message for r in results}
    assert len(messages) > 1  # the seed changes the case, not only its label
