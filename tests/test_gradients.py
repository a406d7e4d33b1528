"""Gradient flow through time: reference BPTT vs autograd, decay rates vs the Pascanu bound, CLI."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from seqlm.analysis import gradient_flow
from seqlm.analysis.flow import hidden_grads, make_reference
from seqlm.analysis.torch_check import autograd_hidden_grads
from seqlm.reference import SoftmaxOutput

CELLS = [("rnn", "cho"), ("lstm", "cho"), ("gru", "cho"), ("gru", "reset_after")]


@pytest.mark.parametrize("cell,variant", CELLS)
@pytest.mark.parametrize("loss", ["last", "all"])
def test_reference_bptt_matches_autograd(cell, variant, loss):
    rng = np.random.default_rng(7)
    model = make_reference(cell, 5, 6, rng, init_scale=0.6, variant=variant)
    output = SoftmaxOutput.init(6, 4, rng, scale=0.6)
    xs = rng.standard_normal((15, 3, 5))
    targets = rng.integers(0, 4, size=(15, 3))
    ref = hidden_grads(model, xs, output, targets, loss)
    auto = autograd_hidden_grads(model, xs, output, targets, loss)
    assert ref.shape == auto.shape == (16, 3, 6)
    assert np.abs(ref).max() > 1e-3  # a real gradient, not zeros on both sides
    np.testing.assert_allclose(ref, auto, rtol=0, atol=1e-10)


def test_last_step_loss_reaches_only_earlier_states():
    rng = np.random.default_rng(0)
    model = make_reference("rnn", 3, 4, rng)
    output = SoftmaxOutput.init(4, 5, rng)
    dh = hidden_grads(model, rng.standard_normal((8, 2, 3)), output, rng.integers(0, 5, (8, 2)))
    assert np.all(np.linalg.norm(dh, axis=-1) > 0)  # every h_k, k = 0..T, gets gradient


def test_sigma_half_rate_respects_bound():
    res = gradient_flow(cells=("rnn",), length=60, hidden=32, n_seqs=16, sigma_max_hh=0.5, seed=1)
    cf = res.cells["rnn"]
    assert cf.sigma_max == pytest.approx(0.5)
    assert cf.fit.rate <= math.log(0.5) + 1e-12
    # and per sequence, every gap: ‖∂L/∂h_k‖ ≤ 0.5^(T−k) ‖∂L/∂h_T‖
    assert np.all(cf.relative <= 0.5 ** cf.gaps * (1 + 1e-9))


def test_large_sigma_explodes_and_lstm_decays_slowly():
    res = gradient_flow(cells=("rnn",), length=60, hidden=64, n_seqs=16, sigma_max_hh=5.0, seed=0)
    assert res.cells["rnn"].fit.rate > 0.05  # grows with the gap
    res = gradient_flow(length=60, hidden=64, n_seqs=16, sigma_max_hh=0.9, forget_bias=1.0, seed=0)
    rnn, lstm = res.cells["rnn"].fit.rate, res.cells["lstm"].fit.rate
    assert rnn < math.log(0.9) and lstm > rnn / 2  # the LSTM loses less than half as fast
    fg = res.cells["lstm"].extra["forget_gate"]
    assert 0.6 < fg["mean"] < 0.85  # σ(1) ≈ 0.73 at initialisation


def test_gradient_flow_is_deterministic():
    a = gradient_flow(length=20, hidden=8, n_seqs=4, seed=3)
    b = gradient_flow(length=20, hidden=8, n_seqs=4, seed=3)
    for c in a.cells:
        np.testing.assert_array_equal(a.cells[c].norms, b.cells[c].norms)


def test_cli_writes_figure_and_numbers(tmp_path):
    out = tmp_path / "fig"
    proc = subprocess.run([sys.executable, "-m", "seqlm", "gradients", "--cells", "rnn,lstm,gru",
                           "--length", "100", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "fitted rate" in proc.stdout and "respects the Pascanu bound" in proc.stdout
    png = (out / "fig5_2_vanishing_gradients.png").read_bytes()
    pdf = (out / "fig5_2_vanishing_gradients.pdf").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and 20_000 < len(png) < 2_000_000
    assert pdf.startswith(b"%PDF") and 5_000 < len(pdf) < 2_000_000
    summary = json.loads((out / "gradient_flow.json").read_text())
    assert set(summary["cells"]) == {"rnn", "lstm", "gru"}
    rnn = summary["cells"]["rnn"]
    assert rnn["sigma_max"] == pytest.approx(0.9) and rnn["fitted_rate"] <= rnn["bound_rate"]
    lines = (out / "gradient_flow.csv").read_text().splitlines()
    assert lines[0].startswith("cell,gap,") and len(lines) == 1 + 3 * 101


def test_cli_rejects_bad_input(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "seqlm", "gradients", "--length", "1", "--out",
                           str(tmp_path / "x")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "--length" in proc.stderr
    assert not (tmp_path / "x").exists()
