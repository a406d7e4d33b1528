"""`seqlm gradients --checkpoint`: gradient flow through a saved language model."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from seqlm.analysis.checkpoint import checkpoint_flow, reference_stack
from seqlm.data.vocab import Vocabulary
from seqlm.lm.build import build_model
from seqlm.train import save_checkpoint


def _save(tmp_path, cell: str, backend: str = "fused"):
    vocab = Vocabulary(["<unk>", "<eos>"] + [f"w{i}" for i in range(10)])
    cfg = {"kind": "rnn", "vocab_size": len(vocab), "cell": cell, "backend": backend, "num_layers": 2,
           "embed_size": 8, "hidden_size": 8, "init": "uniform", "init_scale": 0.3}
    model = build_model(cfg, seed=0)
    return save_checkpoint(tmp_path / f"ck_{cell}", model, vocab), model


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_reference_twin_computes_the_same_function(tmp_path, cell):
    _, model = _save(tmp_path, cell)
    x = torch.randn(7, 3, 8, generator=torch.Generator().manual_seed(0))
    y, _ = model.rnn(x)
    ref_y, _ = reference_stack(model.rnn).forward(x.double().numpy())
    np.testing.assert_allclose(ref_y, y.detach().double().numpy(), atol=1e-5)


def test_checkpoint_flow_and_cli(tmp_path):
    path, _ = _save(tmp_path, "lstm")
    res = checkpoint_flow(path, length=30, n_seqs=8)
    cf = res.cells["lstm"]
    assert cf.norms.shape == (8, 31) and np.all(cf.norms > 0)
    assert cf.extra["layers"] == 2 and 0 < cf.extra["forget_gate"]["mean"] < 1
    out = tmp_path / "fig"
    proc = subprocess.run([sys.executable, "-m", "seqlm", "gradients", "--checkpoint", str(path),
                           "--length", "30", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "checkpoint" in proc.stdout
    assert json.loads((out / "gradient_flow.json").read_text())["cells"]["lstm"]["layers"] == 2
    assert (out / "fig5_2_vanishing_gradients.png").stat().st_size > 10_000
    bad = subprocess.run([sys.executable, "-m", "seqlm", "gradients", "--checkpoint", str(tmp_path / "nope"),
                          "--out", str(tmp_path / "x")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
