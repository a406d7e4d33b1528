"""Every write point, crashed and failed: nothing lost, nothing left, one line, and the
same command completes with the same numbers as an unbroken run.

seqlm writes every file through a few functions of ``seqlm.io`` (atomic_path,
atomic_dir, append_line), each with a *write point* (``seqlm.io.write_point``). With
``SEQLM_FAULT_LOG`` a run lists its points; with ``SEQLM_FAULT=N:ACTION`` its N-th point
kills the process (SIGKILL) or fails as a full disk would (ENOSPC). For each command
below the test walks every point it finds, both ways, through the real CLI.
A second test reads the source with ``ast`` and fails when a file is written anywhere
but through those functions (a new write without a point).
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "seqlm"
SOL = Path(__file__).parent / "exercise_solutions" / "p1.py"

COMMANDS = {
    "train": ["train", "--data", "synthetic", "--preset", "tiny", "--max-steps", "10", "--log-interval", "5",
              "--checkpoint-every", "10", "--no-progress", "--out", "OUT/run"],
    "ngram": ["ngram", "--data", "synthetic", "--order", "3", "--arpa", "OUT/m.arpa"],
    "data-synth": ["data", "synth", "--out", "OUT/syn"],
    "compare": ["compare", "--preset", "tiny", "--stop-after", "ngram", "--out", "OUT/cmp"],
    "exercises": ["exercises", "check", "P1", str(SOL), "--json", "--out", "OUT/grade.json"],
}


def _run(argv, out: Path, env=None, timeout=300):
    argv = [a.replace("OUT", str(out)) for a in argv]
    return subprocess.run([sys.executable, "-m", "seqlm", *argv], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, cwd=out)


def _points(name: str, tmp: Path) -> list[str]:
    out = tmp / "listing"
    out.mkdir()
    log = tmp / "points.log"
    r = _run(COMMANDS[name], out, {"SEQLM_FAULT_LOG": str(log)})
    assert r.returncode == 0, r.stderr
    main = [ln.split("\t") for ln in log.read_text().splitlines()]
    pid = main[0][0]
    return [p for q, _, p in main if q == pid]  # the command's own process (not helpers)


def _leftovers(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")]


TIMES = ("seconds", "wall_time", "tokens_per_s", "time")


def _timeless(obj):
    if isinstance(obj, dict):
        return {k: _timeless(v) for k, v in obj.items() if not any(t in k for t in TIMES)}
    if isinstance(obj, list):
        return [_timeless(v) for v in obj]
    return obj


def _fingerprint(out: Path) -> dict:
    """What a run's numbers are: every artifact's bytes (a JSON file's content less the
    times it records), less what holds times, paths or pids."""
    skip = ("metrics.jsonl", "grade.json", ".seqlm.lock")
    return {str(p.relative_to(out)): (_timeless(json.loads(p.read_text())) if p.suffix == ".json" else p.read_bytes())
            for p in sorted(out.rglob("*")) if p.is_file() and p.name not in skip and not p.name.startswith(".")}


def _intact(out: Path) -> None:
    for p in out.rglob("*.json"):
        json.loads(p.read_text())  # no torn JSON anywhere
    for p in out.rglob("metrics.jsonl"):
        for line in p.read_text().splitlines():
            json.loads(line)


def _continue(name: str, out: Path):
    """The same command again (a training run resumes its checkpoint, as its message says)."""
    argv = list(COMMANDS[name])
    run = out / "run"
    if name == "train" and (run / "checkpoint" / "trainer_state.json").exists():
        state = json.loads((run / "checkpoint" / "trainer_state.json").read_text())
        step = state["tree"]["step"] if "tree" in state else state.get("step")
        argv = (["train", "--resume", "OUT/run", "--no-progress"] if step < 10 else argv + ["--force"])
    elif name == "train" and run.exists():
        argv += ["--force"]
    return _run(argv, out)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_write_point_killed_and_failed(name, tmp_path):
    points = _points(name, tmp_path)
    assert points, name
    ref = tmp_path / "unbroken"
    ref.mkdir()
    assert _run(COMMANDS[name], ref).returncode == 0
    want = _fingerprint(ref)
    jobs = [(i, point, action) for i, point in enumerate(points, start=1) for action in ("enospc", "kill")]
    with ThreadPoolExecutor(max_workers=2) as pool:  # each walk step is its own processes and folder
        list(pool.map(lambda job: _walk_one(name, tmp_path, want, *job), jobs))


def _walk_one(name: str, tmp_path: Path, want: dict, i: int, point: str, action: str) -> None:
    out = tmp_path / f"p{i}-{action}"
    out.mkdir()
    r = _run(COMMANDS[name], out, {"SEQLM_FAULT": f"{i}:{action}"})
    if action == "kill":
        assert r.returncode == -9, (point, r.returncode, r.stderr[-500:])
    else:
        assert r.returncode == 2, (point, r.returncode, r.stderr[-500:])
        err = r.stderr.strip().splitlines()  # progress lines may come first; the error is one line
        assert sum("error:" in e for e in err) == 1 and "error:" in err[-1], (point, r.stderr)
        assert "Traceback" not in r.stderr and "No space left on device" in err[-1], (point, err)
        shown = Path(point).name if ".tmp" not in point else Path(point).parent.name.split(".")[1]
        assert shown in err[-1], (point, err[-1])
        assert not _leftovers(out), (point, _leftovers(out))
    _intact(out)
    done = _continue(name, out)
    assert done.returncode == 0, (point, action, done.stderr[-800:])
    assert not _leftovers(out), (point, action, _leftovers(out))
    assert _fingerprint(out) == want, (point, action, "numbers differ from an unbroken run")
    shutil.rmtree(out)


# Writes outside seqlm.io that are not the product's artifacts: each with its reason.
ALLOWED = {
    ("exercises/grading/runner.py", "open"): "the learner's process, under the grader's write rules",
    ("exercises/grading/drivers.py", "open"): "the learner's process",
    ("exercises/grading/sandbox.py", "open"): "the grader's private console file in its own temporary directory",
    ("exercises/grading/sandbox.py", "write_text"): "the runner's config, in the grader's temporary directory",
    ("exercises/grading/grader.py", "write_text"): "the grader's temporary directory",
    ("figures/tikz.py", "write_text"): "a TeX source in a temporary directory (render_package, a maintainer's tool)",
    ("data/registry.py", "open"): "a download streamed into the atomic_dir being built",
    ("cli.py", "open"): "os.devnull after a broken pipe",
    ("exercises/grading/wire.py", "savez"): "arrays into an in-memory buffer for the pipe",
}
WRITERS = ("write_text", "write_bytes", "save_file", "savefig", "savez", "save")
MODULE_WRITERS = ("save", "savez")  # only as np.save / torch.save: a method .save() may be seqlm's own


def _writes(tree: ast.AST):
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
        if name == "open" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and any(c in str(node.args[1].value) for c in "wax+"):
            yield "open", node.lineno
        elif name == "open" and any(k.arg == "mode" for k in node.keywords):
            yield "open", node.lineno
        elif name in WRITERS and isinstance(f, ast.Attribute):
            owner = f.value.id if isinstance(f.value, ast.Name) else None
            if name in MODULE_WRITERS and owner not in ("np", "numpy", "torch"):
                continue
            yield name, node.lineno


def _inside_atomic(tree: ast.AST, lineno: int) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and node.lineno <= lineno <= node.end_lineno:
            for item in node.items:
                call = item.context_expr
                fn = getattr(call, "func", None)
                name = getattr(fn, "id", None) or getattr(fn, "attr", None)
                if name in ("atomic_path", "atomic_open", "atomic_dir"):
                    return True
    return False


def test_every_file_write_goes_through_a_write_point():
    unguarded = []
    for path in SRC.rglob("*.py"):
        rel = str(path.relative_to(SRC))
        if rel == "io.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for kind, line in _writes(tree):
            if (rel, kind) in ALLOWED or _inside_atomic(tree, line):
                continue
            if kind in ("write_text",) and "from seqlm.io import" in path.read_text():
                # seqlm.io.write_text(path, text), called by name, is itself a point
                src_line = path.read_text().splitlines()[line - 1]
                if "write_text(" in src_line and ".write_text(" not in src_line:
                    continue
            unguarded.append(f"{rel}:{line} {kind}")
    assert not unguarded, "files written outside seqlm.io's write points: " + "; ".join(unguarded)
