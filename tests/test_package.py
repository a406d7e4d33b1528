"""A package a stranger can live with: help on every option, no markup in help, the
nearest name for a mistyped setting, weights others can read, a licence and types.
(The wheel itself is built, installed into a new venv and run from an empty directory by
tools/wheel_smoke.sh, which CI runs.)"""
from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import seqlm
from cli_helpers import one_line_error, seqlm as run_seqlm
from seqlm.cli import build_parser

REPO = Path(__file__).resolve().parents[1]


def _options():
    def walk(p, path):
        yield path, p
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sp in a.choices.items():
                    yield from walk(sp, path + [name])
    for path, p in walk(build_parser(), []):
        for a in p._actions:
            if a.option_strings and a.help != argparse.SUPPRESS and not {"-h", "--version"} & set(a.option_strings):
                yield " ".join(path), p, a


def test_every_option_of_every_command_has_help_with_its_default():
    missing, no_default = [], []
    for where, _, a in _options():
        if not a.help:
            missing.append(f"{where} {a.option_strings[-1]}")
        elif (a.default not in (None, False, [], argparse.SUPPRESS)
              and not isinstance(a, (argparse._StoreTrueAction, argparse.BooleanOptionalAction))
              and "default" not in a.help.lower()):
            no_default.append(f"{where} {a.option_strings[-1]} (default {a.default!r})")
    assert not missing, "options without help: " + "; ".join(missing)
    assert not no_default, "help that does not say the default: " + "; ".join(no_default)


def test_help_is_plain_text_and_every_command_describes_itself():
    seen = set()
    for where, parser, _ in _options():
        if where in seen:
            continue
        seen.add(where)
        text = parser.format_help()
        assert "``" not in text, f"RST markup in `seqlm {where} --help`"
        if where:
            assert parser.description, f"`seqlm {where}` has no description"


def test_another_tools_name_for_a_setting_gets_seqlms(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text("learning_rate = 0.1\n")
    one_line_error(run_seqlm("train", "--data", "synthetic", "--config", str(cfg), "--out", str(tmp_path / "r")),
                   "unknown setting 'learning_rate' (did you mean 'lr'?)")
    r = run_seqlm("train", "--data", "synthetic", "--learning-rate", "0.1", "--out", str(tmp_path / "r"))
    assert r.returncode == 2 and "did you mean --lr?" in r.stderr
    r = run_seqlm("train", "--data", "synthetic", "--hiden-size", "8", "--out", str(tmp_path / "r"))
    assert r.returncode == 2 and "did you mean --hidden?" in r.stderr


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_every_file_a_run_writes_gets_the_mode_the_umask_gives(umask, mode, tmp_path):
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "seqlm", "train", "--data", "synthetic", "--preset", "tiny",
                        "--max-steps", "5", "--no-progress", "--no-final-eval", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, preexec_fn=lambda: os.umask(umask))
    assert r.returncode == 0, r.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "model.safetensors" for p in files)
    wrong = {str(p.relative_to(out)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files
             if stat.S_IMODE(p.stat().st_mode) != mode}
    assert not wrong, wrong  # safetensors writes 0600 itself: the weights included


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as a second user")
def test_a_second_user_can_read_a_shared_runs_weights(tmp_path):
    import pwd
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    shared = Path("/tmp") / f"seqlm-shared-{os.getpid()}"
    try:
        r = subprocess.run([sys.executable, "-m", "seqlm", "train", "--data", "synthetic", "--preset", "tiny",
                            "--max-steps", "5", "--no-progress", "--no-final-eval", "--out", str(shared)],
                           capture_output=True, text=True, timeout=300, preexec_fn=lambda: os.umask(0o022))
        assert r.returncode == 0, r.stderr
        weights = shared / "checkpoint" / "model.safetensors"
        read = subprocess.run(["cat", str(weights)], capture_output=True, user=nobody.pw_uid, group=nobody.pw_gid)
        assert read.returncode == 0 and read.stdout == weights.read_bytes(), read.stderr
    finally:
        subprocess.run(["rm", "-rf", str(shared)])


def test_the_package_carries_its_licence_and_types():
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    assert (Path(seqlm.__file__).parent / "py.typed").exists()
    text = (REPO / "pyproject.toml").read_text()
    assert 'license-files = ["LICENSE"]' in text and '"py.typed"' in text and "Typing :: Typed" in text
    manifest = (REPO / "MANIFEST.in").read_text()
    for needed in ("recursive-include tests", "recursive-include docs", "include LICENSE"):
        assert needed in manifest
