"""The h_T bottleneck: data, greedy decoding, the collapse with T, the command."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from seqlm.analysis.bottleneck import (BottleneckConfig, Seq2Seq, evaluate, results_markdown,
                                       task_batch, train_bottleneck)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_task_batch():
    src, tgt = task_batch("copy", 7, 300, 5, torch.Generator().manual_seed(0))
    assert src.shape == (7, 300) and torch.equal(src, tgt)
    assert int(src.min()) == 0 and int(src.max()) == 4
    src2, rev = task_batch("reverse", 7, 300, 5, torch.Generator().manual_seed(0))
    assert torch.equal(src, src2)  # the same draws for both tasks
    assert all(int(rev[j, b]) == int(src[6 - j, b]) for j in range(7) for b in range(0, 300, 37))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("backend", ["fused", "explicit"])
def test_greedy_is_teacher_forcing_on_its_own_output(cell, backend):
    """Step-by-step greedy decoding (state carried by hand) equals one teacher-forced
    pass over the greedy output: the same decoder, started from the same h_T."""
    model = Seq2Seq(cell, 6, 12, torch.Generator().manual_seed(1), backend)
    src, _ = task_batch("copy", 9, 40, 6, torch.Generator().manual_seed(2))
    pred = model.greedy(src)
    with torch.no_grad():
        assert torch.equal(model(src, pred).argmax(-1), pred)
    pos, seq = evaluate(model, src, pred)
    assert pos == [1.0] * 9 and seq == 1.0


def test_copy_accuracy_falls_with_length():
    """At fixed H and budget, a sequence of 5 symbols passes through h_T, one of 20 does not."""
    short, long_ = (train_bottleneck(BottleneckConfig(task="copy", length=T, cell="rnn", hidden=32,
                                                      steps=200, eval_every=100, test_size=300))
                    for T in (5, 20))
    table = results_markdown([short, long_])
    assert short.token_accuracy > 0.9 and short.sequence_accuracy > 0.7, table
    assert long_.token_accuracy < 0.35 and long_.sequence_accuracy < 0.01, table
    assert long_.curve[0]["token_accuracy"] < 0.25  # untrained: near chance (1/8)


def test_training_is_deterministic():
    cfg = BottleneckConfig(task="reverse", length=6, cell="gru", hidden=8, steps=15, eval_every=5,
                           test_size=50)
    a, b = train_bottleneck(cfg), train_bottleneck(cfg)
    assert [p["train_loss"] for p in a.curve] == [p["train_loss"] for p in b.curve]
    assert a.position_accuracy == b.position_accuracy


def test_cli_bottleneck(tmp_path):
    """Two worker processes give what one in-process run gives; files; a wrong input exits 2."""
    out = tmp_path / "bn"
    args = ["--task", "reverse", "--length", "4,6", "--cells", "rnn,lstm", "--hidden", "8,12",
            "--steps", "10", "--eval-every", "5", "--test-size", "40", "--seed", "3"]
    proc = subprocess.run([sys.executable, "-m", "seqlm", "bottleneck", *args, "--jobs", "2",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "bottleneck.json").read_text())
    got = [(r["config"]["hidden"], r["config"]["length"], r["config"]["cell"]) for r in data["results"]]
    assert got == [(H, T, c) for H in (8, 12) for T in (4, 6) for c in ("rnn", "lstm")]
    first = train_bottleneck(BottleneckConfig(task="reverse", length=4, cell="rnn", hidden=8, steps=10,
                                              eval_every=5, test_size=40, seed=3))
    assert data["results"][0]["position_accuracy"] == first.position_accuracy
    assert [p["train_loss"] for p in data["results"][0]["curve"][1:]] == \
        [p["train_loss"] for p in first.curve[1:]]
    assert "seqlm bottleneck --task reverse --length 4,6" in (out / "bottleneck.md").read_text()
    csv = (out / "bottleneck.csv").read_text().splitlines()
    assert csv[0] == "task,hidden,length,cell,position,accuracy" and len(csv) == 1 + 2 * 2 * (4 + 6)
    for stem in ("bottleneck_reverse", "bottleneck_reverse_positions"):
        assert (out / f"{stem}.png").read_bytes().startswith(b"\x89PNG")
        assert (out / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
    bad = subprocess.run([sys.executable, "-m", "seqlm", "bottleneck", "--symbols", "1",
                          "--out", str(tmp_path / "bad")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and not (tmp_path / "bad").exists()
    assert len(bad.stderr.strip().splitlines()) == 1
