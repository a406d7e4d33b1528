"""Nothing lost, nothing mixed, nothing followed — through the real CLI.

Settings that say ``none`` mean none; lock files and run entries that are links, other
users' or other kinds' files are refused, never followed or truncated; ``--force``
never deletes another command's directory; helper processes die with their parent;
a crafted checkpoint is refused before anything is allocated; a file that says a
probability is above 1, a damaged named dataset, a NUL byte are refused; signals
give 130/143 and leave no temporary file; a long generation streams.
(The crash-point walk is tests/test_crash_points.py.)
"""
from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_helpers import one_line_error as assert_user_error
from cli_helpers import seqlm

TINY = ["--data", "synthetic", "--preset", "tiny", "--no-progress", "--no-final-eval"]


def _config(run: Path) -> dict:
    return json.loads((run / "checkpoint" / "config.json").read_text())


@pytest.mark.parametrize("flag, field", [("--clip", "clip"), ("--early-stopping", "early_stopping"),
                                         ("--min-lr", None)])
def test_a_flag_that_says_none_is_none_not_absent(flag, field, tmp_path):
    if field is None:  # a setting that has no "none" refuses it in one line
        assert_user_error(seqlm("train", *TINY, "--out", str(tmp_path / "r"), flag, "none"), "--min-lr")
        return
    r = seqlm("train", *TINY, "--max-steps", "2", "--out", str(tmp_path / "r"), flag, "none")
    assert r.returncode == 0, r.stderr
    assert _config(tmp_path / "r")["train"][field] is None  # not the preset's value


def test_max_steps_none_on_resume_is_applied_and_said(tmp_path):
    run = tmp_path / "r"
    assert seqlm("train", *TINY, "--max-steps", "2", "--out", str(run)).returncode == 0
    assert _config(run)["train"]["max_steps"] == 2
    r = seqlm("train", "--resume", str(run), "--max-steps", "none", "--epochs", "1", "--no-progress",
              "--no-final-eval")
    assert r.returncode == 0, r.stderr
    assert "max_steps 2 -> none" in r.stderr
    assert _config(run)["train"]["max_steps"] is None


def test_settings_that_contradict_each_other_are_refused(tmp_path):
    assert_user_error(seqlm("train", *TINY, "--cell", "lstm", "--variant", "cho", "--out", str(tmp_path / "a")),
                      "variant='cho' is a GRU setting")
    assert_user_error(seqlm("train", *TINY, "--lr", "0.1", "--min-lr", "0.5", "--out", str(tmp_path / "b")),
                      "min_lr 0.5 is above lr 0.1")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("command", ["train", "compare"])
@pytest.mark.parametrize("kind", ["symlink", "hardlink", "foreign"])
def test_a_lock_that_is_not_seqlms_is_refused_and_its_target_untouched(command, kind, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "run"
    out.mkdir()
    lock = out / ".seqlm.lock"
    if kind == "symlink":
        lock.symlink_to(victim)
    elif kind == "hardlink":
        os.link(victim, lock)
    else:
        lock.write_text("my notes\n")
    argv = (["train", *TINY, "--max-steps", "2"] if command == "train" else ["compare", "--preset", "tiny",
                                                                             "--stop-after", "ngram"])
    assert_user_error(seqlm(*argv, "--out", str(out)), ".seqlm.lock")
    assert victim.read_text() == "precious\n"
    assert lock.is_symlink() or lock.exists()  # not deleted either
    if kind == "foreign":
        assert lock.read_text() == "my notes\n"


def test_force_never_deletes_a_comparison_and_links_in_a_run_are_refused(tmp_path):
    cmp = tmp_path / "cmp"
    assert seqlm("compare", "--preset", "tiny", "--stop-after", "ngram", "--out", str(cmp)).returncode == 0
    (cmp / "results.json").write_text('{"kind": "seqlm-compare-results"}\n')
    before = {p: p.read_bytes() for p in cmp.rglob("*") if p.is_file()}
    for extra in ([], ["--force"]):
        assert_user_error(seqlm("train", *TINY, "--out", str(cmp), *extra), "a comparison's outputs")
    assert {p: p.read_bytes() for p in cmp.rglob("*") if p.is_file()} == before
    run = tmp_path / "run"
    run.mkdir()
    elsewhere = tmp_path / "elsewhere.jsonl"
    elsewhere.write_text("mine\n")
    (run / "metrics.jsonl").symlink_to(elsewhere)
    for extra in ([], ["--force"]):
        assert_user_error(seqlm("train", *TINY, "--out", str(run), *extra), "is a symbolic link")
    assert elsewhere.read_text() == "mine\n"


def test_a_run_cannot_be_nested_inside_the_checkpoint_it_resumes(tmp_path):
    run = tmp_path / "r"
    assert seqlm("train", *TINY, "--max-steps", "2", "--out", str(run)).returncode == 0
    assert_user_error(seqlm("train", "--resume", str(run / "checkpoint"), "--out", str(run / "checkpoint" / "x"),
                            "--max-steps", "4"), "inside the checkpoint")


def test_output_places_that_are_not_places(tmp_path):
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere" / "deeper")
    assert_user_error(seqlm("data", "synth", "--out", str(dangling)), "which does not exist")
    assert_user_error(seqlm("data", "synth", "--out", "/dev/seqlm-test"), "virtual filesystem /dev")


def _children(pid: int) -> list[int]:
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(p))
            except (OSError, ValueError, IndexError):
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_compare_workers_die_with_their_parent(tmp_path):
    out = tmp_path / "cmp"
    proc = subprocess.Popen([sys.executable, "-m", "seqlm", "compare", "--preset", "tiny", "--workers", "2",
                             "--out", str(out), "--no-figures"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    workers: list[int] = []
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        # the pool's helpers are children of the parent; the workers run python too
        workers = [c for c in _children(proc.pid) if "python" in Path(f"/proc/{c}/cmdline").read_bytes().decode(
            "utf-8", "replace")]
        if len(workers) >= 2 and (out / "models").is_dir():
            break
        time.sleep(0.1)
    assert len(workers) >= 2, "no workers seen"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers), "an orphaned worker kept running"


def test_sigterm_during_a_write_exits_143_and_leaves_no_temporary_file(tmp_path):
    r = seqlm("ngram", "--data", "synthetic", "--order", "3", "--arpa", str(tmp_path / "m.arpa"),
              env={"SEQLM_FAULT": "1:term"})
    assert r.returncode == 143, r.stderr
    assert "terminated" in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_crafted_config_is_refused_before_anything_is_allocated(tmp_path):
    run = tmp_path / "r"
    assert seqlm("train", *TINY, "--max-steps", "2", "--out", str(run)).returncode == 0
    cfg = run / "checkpoint" / "config.json"
    d = json.loads(cfg.read_text())
    d["model"]["hidden_size"] = 60_000  # 60000² floats per matrix: tens of GB if built
    cfg.write_text(json.dumps(d))
    r = seqlm("eval", "--checkpoint", str(run / "checkpoint"), "--data", "synthetic")
    assert_user_error(r, "config.json implies")
    for field, value, what in (("counts", "x", "counts"), ("min_freq", "3", "min_freq"),
                               ("tokens", ["<unk>", "<eos>", 7], "tokens[2]")):
        shutil.rmtree(tmp_path / "v", ignore_errors=True)
        shutil.copytree(run / "checkpoint", tmp_path / "v")
        (tmp_path / "v" / "config.json").write_text(json.dumps({**d, "model": {**d["model"], "hidden_size": 16}}))
        vf = tmp_path / "v" / "vocab.json"
        vocab = json.loads(vf.read_text())
        vocab[field] = value
        vf.write_text(json.dumps(vocab))
        assert_user_error(seqlm("eval", "--checkpoint", str(tmp_path / "v"), "--data", "synthetic"), what)


def test_an_arpa_file_that_makes_a_probability_above_one_is_refused(tmp_path):
    from seqlm.errors import SeqlmError
    from seqlm.ngram import load_arpa
    arpa = tmp_path / "big-backoff.arpa"
    arpa.write_text("\\data\\\nngram 1=4\nngram 2=1\n\n\\1-grams:\n-1.0\t<unk>\t0\n-0.5\t</s>\t0\n"
                    "-99\t<s>\t6.0\n-0.3\ta\t0\n\n\\2-grams:\n-0.2\t<s> a\n\n\\end\\\n")
    with pytest.raises(SeqlmError, match="gives a probability above 1"):
        load_arpa(arpa)


def test_nul_bytes_are_refused_and_control_characters_mapped_and_said(tmp_path):
    bad = tmp_path / "nul.txt"
    bad.write_bytes(b"a b\nc\x00d\n" * 30)
    assert_user_error(seqlm("data", "info", str(bad)), "nul.txt:2: contains a NUL byte")
    ctl = tmp_path / "ctl.txt"
    ctl.write_bytes(b"a b\x0c c\x1b d\n" * 60)
    r = seqlm("ngram", "--data", str(ctl), "--order", "2", "--arpa", str(tmp_path / "m.arpa"))
    assert r.returncode == 0, r.stderr
    assert "control characters" in r.stderr and "mapped to spaces" in r.stderr
    assert "\x0c" not in (tmp_path / "m.arpa").read_text() and "\x1b" not in (tmp_path / "m.arpa").read_text()


def test_a_long_generation_streams_its_output(tmp_path):
    run = tmp_path / "r"
    assert seqlm("train", *TINY, "--max-steps", "2", "--out", str(run)).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "seqlm", "generate", "--checkpoint", str(run),
                             "--max-tokens", "100000000"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready and proc.stdout.readline().strip(), "no line before the end"
        assert proc.poll() is None  # it is still generating: the line came while it ran
    finally:
        proc.kill()
        proc.wait()


def test_debug_is_accepted_after_the_command_too(tmp_path):
    r = seqlm("data", "info", str(tmp_path / "missing.txt"), "--debug")
    assert r.returncode != 0 and "Traceback" in r.stderr and "--mode" not in r.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0,
                    reason="needs root to mount a small tmpfs")
def test_a_full_disk_during_training_is_one_line_naming_the_file(tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24k", "tmpfs", str(small)]).returncode != 0:
        pytest.skip("tmpfs could not be mounted here")
    try:
        r = seqlm("train", *TINY, "--max-steps", "3", "--out", str(small / "run"))
        assert r.returncode == 2, r.stderr
        line = r.stderr.strip().splitlines()[-1]
        assert "No space left on device" in line and str(small / "run") in line and "Traceback" not in r.stderr
        assert not [p for p in small.rglob("*") if p.name.endswith(".tmp")]
    finally:
        subprocess.run(["umount", str(small)])


def test_training_leaves_the_callers_global_rngs_alone_and_identical_runs_write_identical_files(tmp_path):
    import random

    import numpy as np

    from seqlm.data.synthetic import synthetic_corpus
    from seqlm.train import TrainConfig, train
    corpus = synthetic_corpus(0, train_tokens=2_000, valid_tokens=300, test_tokens=300)
    random.seed(123)
    np.random.seed(123)
    py, npy = random.getstate(), np.random.get_state()[1].copy()
    cfg = TrainConfig(epochs=1, batch_size=4, bptt=10, max_steps=6, checkpoint_every=3)
    train(corpus, {"cell": "gru", "hidden_size": 8, "embed_size": 8}, cfg, out_dir=tmp_path / "a", seed=1,
          progress=False)
    assert random.getstate() == py and np.array_equal(np.random.get_state()[1], npy)
    random.random(), np.random.rand()  # the caller's own draws change nothing in a run
    train(corpus, {"cell": "gru", "hidden_size": 8, "embed_size": 8}, cfg, out_dir=tmp_path / "b", seed=1,
          progress=False)
    for name in ("model.safetensors", "trainer_state.json", "trainer_state.safetensors"):
        a = (tmp_path / "a" / "checkpoint" / name).read_bytes()
        assert a == (tmp_path / "b" / "checkpoint" / name).read_bytes(), name
