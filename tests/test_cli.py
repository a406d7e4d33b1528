"""The command line skeleton: help, version, and how user errors are reported."""
from __future__ import annotations

import subprocess
import sys

import seqlm
from seqlm.cli import COMMANDS


def seqlm_cli(*args):
    return subprocess.run([sys.executable, "-m", "seqlm", *args], capture_output=True, text=True,
                          timeout=120)


def test_help_lists_every_command():
    r = seqlm_cli("--help")
    assert r.returncode == 0
    for name in COMMANDS:
        assert name in r.stdout


def test_version():
    r = seqlm_cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"seqlm {seqlm.__version__}"


def test_data_help():
    r = seqlm_cli("data", "info", "--help")
    assert r.returncode == 0 and "--json" in r.stdout and "synthetic" in r.stdout


def test_user_error_is_one_line_exit_2_and_debug_shows_traceback(tmp_path):
    missing = str(tmp_path / "missing.txt")
    r = seqlm_cli("data", "info", missing)
    assert r.returncode == 2
    assert r.stderr.strip() == f"seqlm data: error: {missing}: no such file or directory"
    assert "Traceback" not in r.stderr and r.stdout == ""
    r = seqlm_cli("--debug", "data", "info", missing)
    assert r.returncode != 0
    assert "Traceback" in r.stderr and "SeqlmError" in r.stderr


def test_bad_flag_is_a_usage_error():
    r = seqlm_cli("data", "info", "synthetic", "--level", "byte")
    assert r.returncode == 2 and "invalid choice" in r.stderr and "Traceback" not in r.stderr


def test_no_help_text_shows_a_doubled_percent_sign():
    """argparse expands %% in argument help but prints descriptions as written."""
    import argparse

    from seqlm.cli import COMMANDS, build_parser
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in COMMANDS:
        text = sub.choices[name].format_help()
        assert "%%" not in text, name
    assert "test error < 1%, guessing gives 75%" in " ".join(sub.choices["longlag"].format_help().split())
