"""Every backend x precision x cell x variant x device a user can ask for trains
a few steps or is refused in one line (issue: the explicit backend crashed under
the default bf16 autocast)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lm_helpers import tiny_model_config, toy_corpus

from seqlm.errors import SeqlmError
from seqlm.train import TrainConfig, train
from seqlm.train.devices import bf16_supported

CPU_BF16 = bf16_supported(torch.device("cpu"))
COMBOS = [(backend, cell, variant)
          for backend in ("explicit", "fused")
          for cell, variants in (("rnn", [None]), ("lstm", [None]), ("gru", [None, "cho", "reset_after"]))
          for variant in variants]


@pytest.fixture(scope="module")
def corpus():
    return toy_corpus(n_train=60, n_eval=10)


def _refusal(backend, cell, variant, precision, device):
    """The one-line reason a combination is refused, or None when it must train."""
    if device == "cuda" and not torch.cuda.is_available():
        return "no CUDA device"
    if cell == "gru" and backend == "fused" and variant == "cho":
        return "reset_after"
    if precision == "bf16" and device == "cpu" and not CPU_BF16:
        return "not supported"
    return None


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("precision", ["fp32", "bf16", "auto"])
@pytest.mark.parametrize("backend,cell,variant", COMBOS)
def test_every_combination_trains_or_is_refused_in_one_line(tmp_path, corpus, one_thread, backend, cell,
                                                            variant, precision, device):
    mc = tiny_model_config(len(corpus.vocab), cell=cell, backend=backend, variant=variant, num_layers=2,
                           embed_size=8, hidden_size=8)
    tc = TrainConfig(epochs=1, batch_size=4, bptt=6, lr=1.0, max_steps=3, precision=precision, log_interval=1,
                     schedule="constant")
    refusal = _refusal(backend, cell, variant, precision, device)
    if refusal is not None:
        with pytest.raises(SeqlmError) as e:
            train(corpus, mc, tc, tmp_path, seed=0, progress=False, device=device)
        assert refusal in str(e.value) and "\n" not in str(e.value)
        return
    r = train(corpus, mc, tc, tmp_path, seed=0, progress=False, device=device)
    assert r.steps == 3
    events = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    losses = [m["train_loss"] for m in events if m["event"] == "train"]
    assert losses and all(math.isfinite(v) for v in losses)
    notes = [m["note"] for m in events if m["event"] == "note"]
    ran_bf16 = precision == "bf16" or (precision == "auto" and device == "cpu" and CPU_BF16)
    # the explicit layers run in fp32 under bf16 autocast, and the run says so
    assert bool(notes) == (ran_bf16 and backend == "explicit")


def test_the_books_gru_trains_from_the_cli_with_default_precision(tmp_path):
    """The exact command of the report: it used to die with a BFloat16-vs-Float traceback."""
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "seqlm", "train", "--data", "synthetic", "--cell", "gru",
                        "--variant", "cho", "--backend", "explicit", "--preset", "tiny", "--precision", "auto",
                        "--max-steps", "5", "--out", str(out), "--no-progress", "--no-final-eval"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert (out / "checkpoint" / "model.safetensors").exists()


def test_explicit_layer_under_autocast_equals_fp32(one_thread):
    """fp32 inside autocast: the explicit layer's numbers do not change."""
    from seqlm.nn import RecurrentStack
    for cell in ("rnn", "lstm", "gru"):
        s = RecurrentStack(cell, 5, 7, num_layers=2, backend="explicit")
        x = torch.randn(6, 3, 5, generator=torch.Generator().manual_seed(1))
        y32, _ = s(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            yac, _ = s(x.bfloat16())
        assert yac.dtype == torch.float32
        torch.testing.assert_close(yac, s(x.bfloat16().float())[0])
        assert (y32 - yac).abs().max() < 0.05
