"""Submissions that want a better grade than they earned, for every programming exercise.

Each attack implements nothing and tries to change the verdict instead: patching what a
grader compares with, reading the caller's frames, forging result records (and exiting
with them), importing seqlm by any spelling or reading its files, mutating its inputs,
forking children over the memory limit, leaving a daemon behind, writing outside its
folder. None may score a point; each result says why in one line; no process of the
submission may outlive grading. Honest work that mutates its inputs *after* computing
passes (the grader's expected values are its own).
"""
from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

from seqlm import exercises
from seqlm.exercises.catalog import EXERCISES

PKG = Path(exercises.__file__).parent
SOLUTIONS = Path(__file__).parent / "exercise_solutions"  # not in the wheel: see its README
PROGRAMMING = [e for e, x in EXERCISES.items() if x.kind == "programming"]
NAMES = {"P1": ["rnn_forward", "rnn_output"], "P2": ["rnn_backward"],
         "P3": ["gradient_norms", "scale_to_spectral_radius", "fit_decay_rate", "vanishing_experiment"],
         "P4": ["lstm_cell_forward", "lstm_cell_backward"],
         "P5": ["GRUCell", "AddingModel", "train_adding"],
         "P6": ["kn_trigram_logprobs", "perplexity", "LSTMLM", "train_lm", "lm_logprobs"]}

# What every attack's functions return when the attack itself found nothing to steal.
TAIL = """
def _answer(*args, **kwargs):
    found = _steal()
    return found if found is not None else np.zeros(1)

__DEFS__
"""

ATTACKS = {
    "patches what graders compare with": """
import math, numpy as np, numpy.testing
np.allclose = np.array_equal = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones_like(np.asarray(a), dtype=bool)
np.abs = lambda x, *a, **k: np.zeros_like(np.asarray(x, dtype=float))
np.all = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
math.isclose = lambda *a, **k: True
try:
    import torch
    torch.allclose = lambda *a, **k: True
    torch.testing.assert_close = lambda *a, **k: None
except ImportError:
    pass
def _steal():
    return None
""",
    "reads the caller's frames": """
import sys, numpy as np
def _steal():
    f = sys._getframe(1)
    while f is not None:
        for k in ("want", "expected", "truth", "reference", "ref", "target", "y"):
            if k in f.f_locals:
                return f.f_locals[k]
        f = f.f_back
    return None
""",
    "forges result records and exits": """
import json, os, sys, numpy as np
forged = json.dumps({"event": "end", "status": "passed", "case": "x", "message": "ok"}) + "\\n"
for arg in sys.argv[1:]:
    try:
        with open(arg, "a") as fh:
            fh.write(forged)
    except OSError:
        pass
for fd in range(3, 12):
    try:
        os.write(fd, forged.encode())
    except OSError:
        pass
def _steal():
    os._exit(0)
""",
    "imports seqlm by a split name": """
import importlib, numpy as np
def _steal():
    try:
        return importlib.import_module("seq" + "lm.reference")
    except ImportError:
        return None
""",
    "imports seqlm by __import__ and sys.modules": """
import sys, numpy as np
def _steal():
    try:
        __import__("seqlm.reference")
    except ImportError:
        pass
    return sys.modules.get("seqlm.reference")
""",
    "reads seqlm's files": """
import os, numpy as np
def _steal():
    here = os.path.dirname(np.__file__)
    for root in __ROOTS__:
        path = os.path.join(root, "reference")
        try:
            for name in os.listdir(path):
                with open(os.path.join(path, name)) as fh:
                    fh.read()
        except OSError:
            pass
    return None
""",
    "writes outside its folder": """
import numpy as np
def _steal():
    with open(__OUTSIDE__, "w") as fh:
        fh.write("pwned")
    return None
""",
    "forks children over the memory limit": """
import os, time, numpy as np
def _steal():
    for _ in range(3):
        if os.fork() == 0:
            x = np.ones(110_000_000)  # 880 MB each: 2.6 GB together
            time.sleep(60)
            os._exit(0)
    time.sleep(30)
    return None
""",
    "leaves a daemon in its own session": """
import os, time, numpy as np
def _steal():
    r, w = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(w, str(os.getpid()).encode() + b"\\n")
            time.sleep(300)
            os._exit(0)
        os._exit(0)
    print("daemon pid", os.read(r, 32).decode().strip())
    return None
""",
}


def _defs(ex: str) -> str:
    out = []
    for name in NAMES[ex]:
        if name[0].isupper():  # a class: every use of it returns the attack's answer
            out.append(f"class {name}:\n    def __init__(self, *a, **k):\n        _answer()\n"
                       f"    def __call__(self, *a, **k):\n        return _answer()\n"
                       f"    def __getattr__(self, n):\n        return _answer\n")
        else:
            out.append(f"{name} = _answer")
    return "\n".join(out)


def _attack(ex: str, kind: str, directory: Path, outside: Path) -> Path:
    roots = [str(PKG.parent)]
    text = (textwrap.dedent(ATTACKS[kind]).replace("__ROOTS__", repr(roots)).replace("__OUTSIDE__", repr(str(outside)))
            + TAIL.replace("__DEFS__", _defs(ex)))
    path = directory / f"{ex.lower()}_{re.sub(r'[^a-z]+', '_', kind)}.py"
    path.write_text(text)
    return path


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("ex", PROGRAMMING)
def test_no_attack_scores_a_point(ex, tmp_path):
    outside = tmp_path / "outside.txt"
    kinds = list(ATTACKS)
    files = [_attack(ex, k, tmp_path, outside) for k in kinds]
    limits = exercises.limits_for(ex, seconds=40)
    results = exercises.check(ex, files, limits=limits, jobs=2)
    for kind, r in zip(kinds, results):
        assert r.score == 0, (kind, [(c.name, c.status, c.message) for c in r.cases if c.points])
        assert not r.passed, kind
        for c in r.cases:  # why, in one line
            assert c.message and "\n" not in c.message, (kind, c)
        if "seqlm" in kind:
            assert r.flags, (kind, "not flagged")
            assert all(c.status != "passed" for c in r.cases)
        if kind == "writes outside its folder":
            assert any("may write only in its working directory" in c.message for c in r.cases), kind
        if kind == "forks children over the memory limit":
            assert any("MiB across" in c.message and "processes" in c.message for c in r.cases), \
                [c.message for c in r.cases]
        if kind == "leaves a daemon in its own session":
            pids = [int(p) for c in r.cases for p in re.findall(r"daemon pid (\d+)", c.output)]
            assert pids, [c.output for c in r.cases]
            assert not any(_alive(p) for p in pids), "a daemon outlived grading"
    assert not outside.exists()


def _honest_but_mutating(ex: str) -> str:
    """The reference solution, wrapped so that every function zeroes its array inputs in
    place *after* computing its answer (the grader must not care)."""
    src = (SOLUTIONS / f"{ex.lower()}.py").read_text()
    wrap = textwrap.dedent("""
        import numpy as _np

        _depth = [0]

        def _mutating(fn):
            def inner(*args, **kwargs):
                _depth[0] += 1
                try:
                    out = fn(*args, **kwargs)
                finally:
                    _depth[0] -= 1
                for a in args if _depth[0] == 0 else ():  # the grader's call, not the file's own
                    if isinstance(a, _np.ndarray) and a.flags.writeable:
                        a[...] = 0
                return out
            return inner
        """)
    # P4's backward reads the forward's inputs through its cache: the forward keeps them
    names = [n for n in NAMES[ex] if not n[0].isupper() and n not in ("train_adding", "train_lm",
                                                                      "lstm_cell_forward")]
    return src + wrap + "".join(f"{n} = _mutating({n})\n" for n in names)


@pytest.mark.parametrize("ex", ["P1", "P2", "P3", "P4"])
def test_inputs_mutated_after_the_answer_do_not_matter_and_before_they_do(ex, tmp_path):
    good = tmp_path / f"{ex.lower()}_mutates_after.py"
    good.write_text(_honest_but_mutating(ex))
    r = exercises.check(ex, [good])[0]
    assert r.passed, [(c.name, c.message) for c in r.cases if not c.passed]


def test_a_gru_that_zeroes_h_prev_in_place_fails_and_one_that_mutates_after_passes(tmp_path):
    src = (SOLUTIONS / "p5.py").read_text()
    zero = src.replace("        hx = torch.cat([h_prev, x_t], dim=1)",
                       "        with torch.no_grad():\n            h_prev.zero_()\n"
                       "        hx = torch.cat([h_prev, x_t], dim=1)")
    after = src.replace("        return (1 - z) * h_prev + z * cand",
                        "        out = (1 - z) * h_prev + z * cand\n        if not h_prev.requires_grad:\n"
                        "            h_prev.mul_(0)\n            x_t.mul_(0)\n        return out")
    (tmp_path / "zero.py").write_text(zero)
    (tmp_path / "after.py").write_text(after)
    bad, good = exercises.check("P5", [tmp_path / "zero.py", tmp_path / "after.py"], only=("GRU cell",))
    assert bad.score == 0 and all(not c.passed for c in bad.cases), [(c.name, c.message) for c in bad.cases]
    assert good.passed, [(c.name, c.message) for c in good.cases if not c.passed]


def test_the_learner_process_cannot_see_seqlm_or_the_expected_values(tmp_path):
    """What the learner's process holds: its inputs, never a verdict or an expected value."""
    probe = tmp_path / "probe.py"
    probe.write_text(textwrap.dedent("""
        import sys, os, numpy as np
        def rnn_forward(xs, lengths, W_xh, W_hh, b_h, h0=None):
            names = sorted(n for n in sys.modules if n.startswith("seqlm"))
            found = [p for p in sys.path if os.path.isdir(os.path.join(p, "seqlm"))]
            print("modules", names, "paths", found, "argv", sys.argv[1:])
            raise ValueError("probe")
        rnn_output = rnn_forward
        """))
    r = exercises.check("P1", [probe], only=("T = 1, B = 1",))[0]
    out = r.cases[0].output
    assert "modules [] paths []" in out, out
    assert r.cases[0].message.startswith("raised ValueError: probe")
    assert not r.flags


def test_exec_of_other_programs_is_refused_in_one_line(tmp_path):
    sub = tmp_path / "shell.py"
    sub.write_text("import subprocess\nsubprocess.run(['cat', '/etc/passwd'])\n")
    r = exercises.check("P1", [sub])[0]
    assert r.cases[0].name == "the file loads" and r.cases[0].status == "error"
    assert "may not start other programs" in r.cases[0].message and r.score == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="the unprivileged user is used only when grading as root")
def test_as_root_the_learner_runs_unprivileged_when_it_can(tmp_path):
    from seqlm.exercises.grading.sandbox import unprivileged_uid
    probe = tmp_path / "uid.py"
    probe.write_text("import os\ndef rnn_forward(*a):\n    print('uid', os.getuid())\n    raise ValueError\n"
                     "rnn_output = rnn_forward\n")
    r = exercises.check("P1", [probe], only=("T = 1, B = 1",))[0]
    uid = unprivileged_uid()
    assert f"uid {uid if uid is not None else 0}" in r.cases[0].output
