"""Long-lag tasks: data generators, determinism, and an LSTM solving the adding problem at T=10."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from seqlm.analysis.longlag import LongLagConfig, results_markdown, train_longlag
from seqlm.analysis.tasks import ADDING_MEAN_MSE, ORDER_SYMBOLS, adding_batch, order_batch


pytestmark = pytest.mark.usefixtures("one_thread")


def test_adding_batch():
    x, y = adding_batch(50, 4000, torch.Generator().manual_seed(0))
    assert x.shape == (50, 4000, 2) and y.shape == (4000, 1)
    markers = x[:, :, 1]
    assert torch.all(markers.sum(0) == 2)
    assert torch.all(markers[:25].sum(0) == 1) and torch.all(markers[25:].sum(0) == 1)
    assert torch.allclose((x[:, :, 0] * markers).sum(0), y[:, 0])
    assert float(((y - 1.0) ** 2).mean()) == pytest.approx(ADDING_MEAN_MSE, abs=0.01)
    x2, _ = adding_batch(50, 4000, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)


def test_order_batch():
    T = 100
    x, y = order_batch(T, 500, torch.Generator().manual_seed(1))
    assert x.shape == (T, 500, len(ORDER_SYMBOLS)) and torch.all(x.sum(-1) == 1)
    sym = x.argmax(-1)
    X, Y = ORDER_SYMBOLS.index("X"), ORDER_SYMBOLS.index("Y")
    for b in range(500):
        pos = [t for t in range(T) if int(sym[t, b]) in (X, Y)]
        assert len(pos) == 2 and 10 <= pos[0] < 20 and 50 <= pos[1] < 60
        cls = 2 * (int(sym[pos[0], b]) == Y) + (int(sym[pos[1], b]) == Y)
        assert cls == int(y[b])
    assert set(y.tolist()) == {0, 1, 2, 3}


def test_training_is_deterministic():
    cfg = LongLagConfig(task="adding", length=12, cell="gru", steps=20, eval_every=10, hidden=8)
    a, b = train_longlag(cfg), train_longlag(cfg)
    assert [p["test"] for p in a.curve] == [p["test"] for p in b.curve]


def test_lstm_solves_adding_at_T10():
    cfg = LongLagConfig(task="adding", length=10, cell="lstm", hidden=32, steps=1500, eval_every=50)
    r = train_longlag(cfg)
    assert r.solved and r.final_test < 0.01, results_markdown([r])
    assert r.curve[0]["test"] > 0.1  # it was not solved before training


def test_cli_longlag(tmp_path):
    out = tmp_path / "ll"
    proc = subprocess.run([sys.executable, "-m", "seqlm", "longlag", "--task", "adding", "--length", "10,12",
                           "--cells", "rnn,gru", "--steps", "20", "--hidden", "8", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "longlag.json").read_text())
    assert [(r["config"]["length"], r["config"]["cell"]) for r in data["results"]] == \
        [(10, "rnn"), (10, "gru"), (12, "rnn"), (12, "gru")]
    md = (out / "longlag.md").read_text()
    assert "seqlm longlag --task adding --length 10,12" in md and "| adding | 12 | gru |" in md
    assert (out / "longlag_adding.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "longlag_adding.pdf").read_bytes().startswith(b"%PDF")
    bad = subprocess.run([sys.executable, "-m", "seqlm", "longlag", "--task", "order", "--length", "5",
                          "--out", str(tmp_path / "bad")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and not (tmp_path / "bad").exists()
