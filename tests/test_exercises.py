"""`seqlm exercises`: the catalog, statements, worked solutions and their numerical
checks, starters, the command line, the JSON schema, Gradescope output, notebooks."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from seqlm import exercises
from seqlm.errors import SeqlmError
from seqlm.exercises.grading.report import schema

PKG = Path(exercises.__file__).parent
SOLUTIONS = Path(__file__).parent / "exercise_solutions"  # not in the wheel: see its README
THEORY = [e for e, x in exercises.EXERCISES.items() if x.kind == "theory"]


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "seqlm", "exercises", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def test_ten_exercises_listed_with_objective_section_and_time():
    r = cli("list", "--json")
    assert r.returncode == 0
    d = json.loads(r.stdout)
    ids = [e["id"] for e in d["exercises"]]
    assert ids == ["T1", "T2", "T3", "T4", "P1", "P2", "P3", "P4", "P5", "P6"]
    assert {e["objective"] for e in d["exercises"]} == {1, 2, 3, 4}
    for e in d["exercises"]:
        assert e["sections"] and all(s.split(".")[0] == "5" and "5.1" <= s <= "5.5.9" for s in e["sections"])
        assert 10 <= e["minutes"] <= 180 and e["objective_text"] == exercises.OBJECTIVES[e["objective"]]
        assert (e["starter"] is None) == (e["kind"] == "theory")
    text = cli("list").stdout
    assert all(i in text for i in ids)


@pytest.mark.parametrize("ex", list(exercises.EXERCISES))
def test_every_statement_shows_with_its_header_and_math(ex):
    text = exercises.statement(ex)
    e = exercises.get(ex)
    assert text.startswith(f"# {ex}. {e.title}") and f"learning objective {e.objective}" in text
    assert "$" in text and "seqlm exercises" in text
    if e.kind == "theory":
        sol = exercises.solution(ex)
        assert "[C1]" in sol and "$" in sol
    else:
        with pytest.raises(SeqlmError, match="programming exercise"):
            exercises.solution(ex)


@pytest.mark.parametrize("ex", THEORY)
def test_verify_every_claim_of_the_worked_solution_holds(ex):
    claims = exercises.verify(ex)
    assert len(claims) >= 5
    assert all(c.holds for c in claims), [c for c in claims if not c.holds]
    sol = exercises.solution(ex)
    for c in claims:  # every claim measured is a claim the solution makes
        assert f"[{c.label}]" in sol and c.measured and "\n" not in c.measured


def test_verify_through_the_cli():
    r = cli("verify", "T3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("T3: 5/5 claims hold") and "FAILS" not in r.stdout


def test_start_writes_the_starter_never_the_solution(tmp_path):
    r = cli("start", "p1", str(tmp_path / "work"))
    assert r.returncode == 0 and "seqlm exercises check P1" in r.stdout
    written = tmp_path / "work" / "p1_rnn_forward.py"
    text = written.read_text()
    assert text == (PKG / "starters" / "p1_rnn_forward.py").read_text()
    assert "raise NotImplementedError" in text and "np.tanh" not in text
    assert list((tmp_path / "work").iterdir()) == [written]
    r = cli("start", "P1", str(tmp_path / "work"))  # keeps the learner's work
    assert r.returncode == 2 and "already exists" in r.stderr and r.stderr.count("\n") == 1
    assert cli("start", "P1", str(tmp_path / "work"), "--force").returncode == 0
    for ex, e in exercises.EXERCISES.items():
        if e.kind == "programming":
            starter = (PKG / "starters" / e.starter).read_text()
            assert "NotImplementedError" in starter and f"check {ex}" in starter


@pytest.mark.parametrize("args, message", [
    (("show", "P9"), "unknown exercise 'P9'"),
    (("check", "T1", "x.py"), "T1 is a theory exercise"),
    (("check", "P1", "missing.py"), "missing.py: no such file"),
    (("check", "P1", "."), "is a directory"),
    (("verify", "P2"), "P2 is a programming exercise"),
    (("start", "T2", "d"), "T2 is a theory exercise"),
    (("check", "P1", "missing.py", "--time-limit", "0"), "--time-limit: must be a finite number > 0"),
    (("check", "P1", str(SOLUTIONS / "p1.py"), "--only", "nomatch"),
     "no case of P1 has a name containing 'nomatch'; its cases are: forward, T = 1, B = 1;"),
])
def test_user_errors_are_one_line_exit_2(args, message, tmp_path):
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_check_json_validates_against_the_shipped_schema_and_gradescope(tmp_path):
    jsonschema.Draft202012Validator.check_schema(schema())
    starter = exercises.start("P1", tmp_path)
    ref = SOLUTIONS / "p1.py"
    r = cli("check", "P1", str(ref), str(starter), "--json")
    assert r.returncode == 1  # the starter fails
    doc = json.loads(r.stdout)
    jsonschema.Draft202012Validator(schema()).validate(doc)
    assert [x["passed"] for x in doc["results"]] == [True, False]
    assert doc["results"][0]["score"] == doc["results"][0]["max_score"] == 10
    with pytest.raises(jsonschema.ValidationError):  # the schema is not vacuous
        jsonschema.validate({**doc, "results": [{**doc["results"][0], "score": -1}]}, schema())
    out = tmp_path / "results.json"
    r = cli("check", "P1", str(ref), "--format", "gradescope", "--out", str(out))
    assert r.returncode == 0 and "report written" in r.stderr
    gs = json.loads(out.read_text())
    assert gs["score"] == 10.0 and len(gs["tests"]) == 8
    # only the keys Gradescope's autograder specification documents
    assert set(gs) <= {"score", "execution_time", "output", "output_format", "test_output_format",
                       "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
    for t in gs["tests"]:
        assert set(t) <= {"score", "max_score", "status", "name", "name_format", "number", "output",
                          "output_format", "tags", "visibility", "extra_data"}
        assert t["score"] == t["max_score"] in (1.0, 2.0) and t["visibility"] == "visible"
    assert sum(t["max_score"] for t in gs["tests"]) == 10.0
    r = cli("check", "P1", str(ref))
    assert r.returncode == 0 and "10/10 points, all passed" in r.stdout


def test_a_teachers_config_sets_points_visibility_and_a_secret_seed(tmp_path):
    ref = SOLUTIONS / "p1.py"
    cfg = tmp_path / "grading.toml"
    cfg.write_text('seed = 987654321\n[cases."forward, variable lengths"]\npoints = 5\nvisibility = "hidden"\n')
    out = tmp_path / "gs.json"
    r = cli("check", "P1", str(ref), "--config", str(cfg), "--format", "gradescope", "--out", str(out))
    assert r.returncode == 0, r.stderr
    gs = json.loads(out.read_text())
    test = [t for t in gs["tests"] if t["name"].endswith("variable lengths")][0]
    assert test["max_score"] == test["score"] == 5.0 and test["visibility"] == "hidden"
    assert gs["score"] == 13.0
    a = json.loads(cli("check", "P1", str(ref), "--config", str(cfg), "--json").stdout)
    b = json.loads(cli("check", "P1", str(ref), "--json").stdout)
    assert a["results"][0]["seed"] == 987654321 and b["results"][0]["seed"] == 0
    assert a["results"][0]["cases"][3]["message"] != b["results"][0]["cases"][3]["message"]  # other inputs
    cfg.write_text('[cases."forward, varaible lengths"]\npoints = 5\n')
    r = cli("check", "P1", str(ref), "--config", str(cfg))
    assert r.returncode == 2 and "did you mean 'forward, variable lengths'?" in r.stderr
    assert r.stderr.count("\n") == 1
    r = cli("show", "P1", "--cases")
    assert r.returncode == 0 and "forward, variable lengths" in r.stdout and "total" in r.stdout


def _notebook(path, cells):
    import nbformat  # in the dev extra: a missing one must fail here, not skip
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# P1")] + [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(path))
    return path


def test_a_notebook_as_students_write_it_grades_like_the_same_code_in_a_py(tmp_path):
    from seqlm.exercises.grading.sandbox import Limits
    src = (SOLUTIONS / "p1.py").read_text()
    head, tail = src.split("\n\n\ndef rnn_output")
    cells = ["%matplotlib inline\nimport numpy as np\nnp.concatenate?\nx = !ls\n" + head,
             "%%bash\necho this is not Python\n",
             "%%time\ndef rnn_output" + tail,
             "if True:\n    !echo indented\n    files = !ls\ndisplay(rnn_output)\nrnn_output?\n",
             "import time\nwhile True:  # the 'compare further' experiment, at top level\n    time.sleep(0.1)\n",
             "h = rnn_forward(np.zeros((2, 1, 3)), [2], np.zeros((4, 3)), np.zeros((4, 4)), np.zeros(4))\n"
             "print(undefined_name)\n"]
    nb = _notebook(tmp_path / "p1.ipynb", cells)
    py = tmp_path / "p1.py"
    py.write_text(src)
    limits = Limits(60, 2048, cell_seconds=2)
    r_nb, r_py = exercises.check("P1", [nb, py], limits=limits)
    assert r_nb.passed and r_nb.score == r_py.score == r_py.max_score, [(c.name, c.message) for c in r_nb.cases]
    assert r_nb.file == str(nb)
    notes = " ".join(r_nb.notes)
    assert "p1.ipynb cell 5: stopped after 2 s" in notes
    assert "p1.ipynb cell 6: raised NameError: name 'undefined_name' is not defined (p1.ipynb cell 6, line 2)" in notes
    assert "skipped %%bash" in notes and "skipped !echo indented" in notes


def test_a_notebook_error_points_to_its_cell_and_line(tmp_path):
    nb = _notebook(tmp_path / "p1.ipynb", ["import numpy as np", "x = 1\n\ndef rnn_forward(*a):\n    return 1 / 0\n",
                                          "rnn_output = rnn_forward"])
    r = exercises.check("P1", [nb], only=("T = 1, B = 1",))[0]
    assert r.cases[0].message == "raised ZeroDivisionError: division by zero (p1.ipynb cell 2, line 4)"
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{not json")
    r = exercises.check("P1", [bad])[0]
    assert not r.passed and r.cases[0].name == "the file loads" and "not a readable notebook" in r.cases[0].message


def test_a_notebook_without_nbformat_is_one_line_naming_the_extra(tmp_path):
    path = tmp_path / "p1.ipynb"
    path.write_text("{}")
    code = ("import sys; sys.modules['nbformat'] = None; from seqlm.cli import main; "
            f"sys.exit(main(['exercises', 'check', 'P1', {str(path)!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "needs nbformat and IPython: pip install 'seqlm[notebook]'" in r.stderr
