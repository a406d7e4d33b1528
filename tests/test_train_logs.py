"""Logs for people who don't watch a terminal: plain lines while a batch job runs, and
TensorBoard event files that read back."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from cli_helpers import seqlm

TINY = ["--data", "synthetic", "--preset", "tiny", "--no-final-eval", "--log-interval", "10"]


def test_a_batch_job_log_shows_a_line_per_interval_while_it_runs(tmp_path):
    log = tmp_path / "log"
    with open(log, "w") as fh:  # seqlm train ... > log 2>&1
        proc = subprocess.Popen([sys.executable, "-m", "seqlm", "train", *TINY, "--max-steps", "60",
                                 "--sleep-per-step", "0.05", "--out", str(tmp_path / "run")],
                                stdout=fh, stderr=subprocess.STDOUT)
        seen, deadline = [], time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            seen = [ln for ln in log.read_text().splitlines() if ln.startswith("seqlm train: step ")]
            if len(seen) >= 2:
                break
            time.sleep(0.1)
        running = proc.poll() is None
        proc.wait(timeout=120)
    assert running and len(seen) >= 2, log.read_text()  # two lines before the end
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("seqlm train: step ")]
    assert [ln.split()[3] for ln in lines] == ["10", "20", "30", "40", "50", "60"]
    for field in ("loss", "ppl", "lr", "grad norm", "tokens/s"):
        assert all(field in ln for ln in lines), field


def test_tensorboard_event_files_read_back_with_their_tags_and_steps(tmp_path):
    pytest.importorskip("tensorboard")  # in the dev extra: CI has it
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    r = seqlm("train", *TINY, "--epochs", "1", "--max-steps", "40", "--tensorboard", str(tmp_path / "tb"),
              "--out", str(tmp_path / "run"), "--no-log-lines")
    assert r.returncode == 0, r.stderr
    assert "seqlm train: step" not in r.stderr  # --no-log-lines
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/ppl", "train/lr", "train/grad_norm", "train/tokens_per_s"} <= tags
    assert [e.step for e in acc.Scalars("train/loss")] == [10, 20, 30, 40]
    import json
    logged = [json.loads(ln) for ln in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [rec["train_loss"] for rec in logged if rec.get("event") == "train"]
    assert [round(e.value, 4) for e in acc.Scalars("train/loss")] == [round(v, 4) for v in losses]
