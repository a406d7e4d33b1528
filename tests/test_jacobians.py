"""Per-step Jacobians, their products, the Pascanu bound, and the LSTM cell-state path."""
from __future__ import annotations

import numpy as np
import pytest

from seqlm.analysis.flow import make_reference
from seqlm.analysis.jacobians import (forget_gate_stats, lstm_cell_path, product_norms,
                                      state_jacobians)
from seqlm.analysis.theory import (fit_decay_rate, pascanu_bound, scale_to_sigma_max, sigma_max,
                                   spectral_radius)
from seqlm.analysis.torch_check import autograd_state_jacobians


def test_rnn_jacobian_products_respect_the_bound():
    rng = np.random.default_rng(0)
    model = make_reference("rnn", 4, 16, rng, init_scale=0.5, sigma_max_hh=0.9)
    assert sigma_max(model.params["W_hh"]) == pytest.approx(0.9, abs=1e-12)
    for seq in range(4):
        xs = rng.standard_normal((40, 4))
        norms = product_norms(state_jacobians(model, xs))
        bound = pascanu_bound(0.9, np.arange(41))
        assert np.all(norms <= bound * (1 + 1e-10) + 1e-15)
        assert norms[10] > 0  # measured, not zero


@pytest.mark.parametrize("cell,variant", [("rnn", "cho"), ("lstm", "cho"), ("gru", "cho"),
                                          ("gru", "reset_after")])
def test_hand_jacobians_match_autograd(cell, variant):
    rng = np.random.default_rng(1)
    model = make_reference(cell, 3, 5, rng, init_scale=0.7, variant=variant)
    xs = rng.standard_normal((6, 3))
    J = state_jacobians(model, xs)
    S = 10 if cell == "lstm" else 5
    assert J.shape == (6, S, S)
    np.testing.assert_allclose(J, autograd_state_jacobians(model, xs), rtol=0, atol=1e-12)


def test_lstm_cell_path():
    rng = np.random.default_rng(2)
    model = make_reference("lstm", 3, 8, rng, init_scale=0.3, forget_bias=1.0)
    xs = rng.standard_normal((30, 3))
    path = lstm_cell_path(model, xs)
    f = path["forget"]
    assert f.shape == (30, 8) and np.all((f > 0) & (f < 1))
    # direct path: max_j ∏ f_t[j] over the last g steps, computed here from scratch
    g = 7
    assert path["direct"][g] == pytest.approx(np.prod(f[-g:], axis=0).max(), rel=1e-12)
    assert np.all(np.diff(path["direct"]) <= 0)  # every factor is < 1
    # the total ∂c_T/∂c_k includes the indirect terms but starts at the identity
    assert path["total"][0] == 1.0 and path["total"][1] > 0
    stats = forget_gate_stats(f)
    assert stats["q10"] <= stats["median"] <= stats["q90"] and stats["min"] > 0


def test_theory_helpers():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((6, 6))
    W2 = scale_to_sigma_max(W, 0.5)
    assert sigma_max(W2) == pytest.approx(0.5)
    assert spectral_radius(W2) <= sigma_max(W2) + 1e-12
    Q, _ = np.linalg.qr(W)
    assert spectral_radius(Q) == pytest.approx(1.0) and sigma_max(Q) == pytest.approx(1.0)
    gaps = np.arange(20)
    fit = fit_decay_rate(gaps, 3.0 * np.exp(-0.4 * gaps))
    assert fit.rate == pytest.approx(-0.4) and fit.intercept == pytest.approx(np.log(3.0))
    # underflowed points (0) are left out, not log(0)
    fit = fit_decay_rate(gaps, np.where(gaps < 10, np.exp(-gaps), 0.0))
    assert fit.rate == pytest.approx(-1.0) and fit.n_points == 10
