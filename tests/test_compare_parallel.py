"""`seqlm compare --workers 2`: neural stages side by side give the serial run's numbers,
and a signal keeps every finished stage and each running stage's checkpoint.

Real subprocesses of the CLI on the tiny preset (seconds per stage)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqlm.compare.presets import get_preset

TIMING = ("train_seconds", "tokens_per_s", "resumed")


def compare(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "seqlm", "compare", "--preset", "tiny", "--out", str(out),
            "--device", "cpu", "--no-figures", *extra]


def rows(out: Path) -> list[dict]:
    models = json.loads((out / "results.json").read_text())["models"]
    out = []
    for m in models:
        m = {k: v for k, v in m.items() if k not in TIMING}
        if m.get("history"):
            m["history"] = [{k: v for k, v in h.items() if k != "wall_time"} for h in m["history"]]
        out.append(m)
    return out


def test_two_workers_give_the_serial_numbers_bit_for_bit(tmp_path):
    serial = subprocess.run(compare(tmp_path / "serial", "--workers", "1"), capture_output=True,
                            text=True, timeout=300)
    assert serial.returncode == 0, serial.stderr
    assert "at a time" not in serial.stderr
    parallel = subprocess.run(compare(tmp_path / "parallel", "--workers", "2"), capture_output=True,
                              text=True, timeout=300)
    assert parallel.returncode == 0, parallel.stderr
    assert "stages ffnn, rnn, lstm, gru: 2 at a time, 1 thread each" in parallel.stderr
    got, want = rows(tmp_path / "parallel"), rows(tmp_path / "serial")
    assert [m["name"] for m in got] == [m["name"] for m in want]  # stage order, not finishing order
    assert got == want
    for name in ("ffnn", "rnn", "lstm", "gru"):
        assert len(list((tmp_path / "parallel" / "stages").glob(f"{name}-*.json"))) == 1


def test_sigterm_keeps_what_finished_and_the_same_command_completes(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(compare(out, "--workers", "2"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "models").is_dir():  # the workers have started their first stages
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err  # SIGTERM: 128 + 15, as in every command
    assert "run the same command again to resume" in err
    assert "Traceback" not in err
    assert not (out / "results.json").exists()
    done = {p.name.split("-")[0] for p in (out / "stages").glob("*.json")}
    assert "ngram" in done and not {"ffnn", "rnn", "lstm", "gru"} <= done  # it stopped early
    again = subprocess.run(compare(out, "--workers", "2"), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    for name in done:
        assert f"{name} skipped" in again.stderr
    assert len(rows(out)) == 10


def test_ptb_quick_trains_two_at_a_time_longest_first():
    cfg = get_preset("ptb-quick")
    assert cfg["workers"] == 2 and cfg["threads"] == 1
    assert sorted(cfg["parallel_order"]) == sorted(cfg["neural"])
    for spec in cfg["neural"].values():  # scored in sentence mode, trained so
        assert spec["train"]["unit"] == "sentence" and spec["train"]["fused_loss"] is True


def test_ptb_quick_recurrent_rows_differ_only_in_the_cell():
    neural = get_preset("ptb-quick")["neural"]
    shape = {(neural[c]["model"]["num_layers"], neural[c]["model"]["hidden_size"],
              neural[c]["model"]["embed_size"], neural[c]["model"]["dropout"])
             for c in ("rnn", "lstm", "gru")}
    assert shape == {(1, 200, 200, 0.1)}
    for spec in neural.values():
        # torch's SGD weight decay is an L2 term scaled by the learning rate (20 here):
        # the AdamW models' 0.1 there would multiply every weight by 1 - 20 * 0.1 = -1 per step
        if spec["train"]["optimizer"] == "sgd":
            assert spec["train"]["weight_decay"] * spec["train"]["lr"] < 1e-3


@pytest.mark.parametrize("bad", ["0", "-1", "two"])
def test_workers_must_be_a_positive_integer(tmp_path, bad):
    got = subprocess.run(compare(tmp_path / "x", "--workers", bad), capture_output=True, text=True,
                         timeout=60)
    assert got.returncode == 2 and "--workers" in got.stderr and "Traceback" not in got.stderr
    assert not (tmp_path / "x").exists()


def test_compare_benchmark_runs_in_its_quick_mode_and_writes_its_numbers(tmp_path):
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_ptb.py"
    out = tmp_path / "c.json"
    got = subprocess.run([sys.executable, str(script), "--quick", "--json", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert got.returncode == 0, got.stderr
    report = json.loads(out.read_text())
    assert report["preset"] == "tiny" and report["data"] == "synthetic"
    assert report["wall_seconds"] > 0 and report["peak_rss_bytes"] > 50 * 2**20
    assert report["baseline"]["name"] == "trigram"  # the best MKN n-gram of tiny
    names = [r["name"] for r in report["rows"]]
    assert names == ["trigram", "ffnn", "rnn", "lstm", "gru"]
    for r in report["rows"][1:]:
        assert r["tokens_per_s"] > 0 and r["stage_seconds"] > 0
        assert r["beats_baseline"] == (r["test_ppl"] < report["baseline"]["test_ppl"])
    assert set(report["stage_seconds"]) == {"ngram", "ffnn", "rnn", "lstm", "gru"}
    assert "--workers 2" in report["command"] and "seqlm compare" in got.stdout
