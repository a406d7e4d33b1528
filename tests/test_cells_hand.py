"""One time step of every cell on tiny numbers (I = 1, H = 2), computed here by
hand from the equations, against every implementation that can run it."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seqlm.nn import RecurrentStack, load_reference_params
from seqlm.reference import GRU, LSTM, RNN


def sig(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


x = [2.0]
h_prev = [0.5, -0.5]
c_prev = [1.0, -1.0]

CASES = {}

# (5.1) W_hh h + W_xh x + b: row 1: 0.5·0.5 + (-0.3)(-0.5) + 1.0·2 + 0.1 = 2.5
#                            row 2: 0.2·0.5 + 0.1·(-0.5) + (-2.0)·2 - 0.1 = -4.05
CASES["rnn"] = dict(
    params={"W_hh": [[0.5, -0.3], [0.2, 0.1]], "W_xh": [[1.0], [-2.0]], "b_h": [0.1, -0.1]},
    h=[math.tanh(2.5), math.tanh(-4.05)])

# LSTM, W_· on [h1, h2, x] = [0.5, -0.5, 2]
#   f pre-activations [0.1·0.5, 0.2·(-0.5) + 0.5] = [0.05, 0.4]          (5.4)
#   i pre-activations [0.5·2, -0.5·2]             = [1.0, -1.0]          (5.5)
#   c̃ pre-activations [0.5 - 0.5 + 0.2, 0.25·2]   = [0.2, 0.5]           (5.6)
#   o pre-activations [0.3, 1·0.5]                 = [0.3, 0.5]           (5.8)
_f, _i = [sig(0.05), sig(0.4)], [sig(1.0), sig(-1.0)]
_ct, _o = [math.tanh(0.2), math.tanh(0.5)], [sig(0.3), sig(0.5)]
_c = [_f[k] * c_prev[k] + _i[k] * _ct[k] for k in range(2)]                # (5.7)
CASES["lstm"] = dict(
    params={"W_f": [[0.1, 0, 0], [0, 0.2, 0]], "b_f": [0, 0.5],
            "W_i": [[0, 0, 0.5], [0, 0, -0.5]], "b_i": [0, 0],
            "W_c": [[1, 1, 0], [0, 0, 0.25]], "b_c": [0.2, 0],
            "W_o": [[0, 0, 0], [1, 0, 0]], "b_o": [0.3, 0]},
    h=[_o[k] * math.tanh(_c[k]) for k in range(2)], c=_c)                   # (5.8)

# GRU (book, "cho"):
#   z pre-activations [0.5·2, 0.4·0.5 + 0.1] = [1.0, 0.3]                  (5.9)
#   r pre-activations [0.5, -0.5]                                          (5.10)
#   r ⊙ h_{t-1} = [σ(0.5)·0.5, σ(-0.5)·(-0.5)]
#   candidate pre-activations [rh1 + 0.6·rh2 + 0.1·2, 0.3·rh1 - rh2 + 0.05]  (5.11)
# W_h's h-block is NOT diagonal: with a diagonal block r ⊙ (W h) = W (r ⊙ h), and
# the case could not tell the book's reset (before the product) from one after it.
_z, _r = [sig(1.0), sig(0.3)], [sig(0.5), sig(-0.5)]
_rh = [_r[0] * 0.5, _r[1] * -0.5]
_hc = [math.tanh(_rh[0] + 0.6 * _rh[1] + 0.2), math.tanh(0.3 * _rh[0] - _rh[1] + 0.05)]
GATES_ZR = {"W_z": [[0, 0, 0.5], [0.4, 0, 0]], "b_z": [0, 0.1],
            "W_r": [[1, 0, 0], [0, 1, 0]], "b_r": [0, 0]}
CASES["gru_cho"] = dict(
    params=GATES_ZR | {"W_h": [[1, 0.6, 0.1], [0.3, -1, 0]], "b_h": [0, 0.05]},
    h=[(1 - _z[k]) * h_prev[k] + _z[k] * _hc[k] for k in range(2)])        # (5.11)

# GRU (PyTorch, "reset_after"): n = tanh(W_xn x + b_xn + r ⊙ (W_hn h + b_hn))
#   W_hn h + b_hn = [0.5 + 0.2, 0.5 - 0.1] = [0.7, 0.4];  W_xn x + b_xn = [0.2, 0.05]
_n = [math.tanh(0.2 + _r[0] * 0.7), math.tanh(0.05 + _r[1] * 0.4)]
CASES["gru_reset_after"] = dict(
    params=GATES_ZR | {"W_xn": [[0.1], [0]], "W_hn": [[1, 0], [0, -1]], "b_xn": [0, 0.05], "b_hn": [0.2, -0.1]},
    h=[(1 - _z[k]) * _n[k] + _z[k] * h_prev[k] for k in range(2)])


def _np_params(case):
    return {k: np.array(v, dtype=np.float64) for k, v in case["params"].items()}


def _run_reference(name, case):
    p = _np_params(case)
    xs = np.array(x).reshape(1, 1, 1)
    if name == "rnn":
        hs, cache = RNN(p).forward(xs, np.array([h_prev]))
        return hs[0, 0], None
    if name == "lstm":
        hs, cache = LSTM(p).forward(xs, (np.array([h_prev]), np.array([c_prev])))
        return hs[0, 0], cache["c"][1, 0]
    hs, _ = GRU(p, name[4:]).forward(xs, np.array([h_prev]))
    return hs[0, 0], None


def _stack(name, backend):
    cell, variant = (name, None) if not name.startswith("gru") else ("gru", name[4:])
    stack = RecurrentStack(cell, 1, 2, backend=backend, variant=variant, dtype=torch.float64)
    load_reference_params(stack, [_np_params(CASES[name])])
    return stack


def _state(name):
    h = torch.tensor([[h_prev]], dtype=torch.float64)
    return (h, torch.tensor([[c_prev]], dtype=torch.float64)) if name == "lstm" else h


def _run_torch(name, backend, how):
    stack = _stack(name, backend)
    xt = torch.tensor([[x]], dtype=torch.float64)
    with torch.no_grad():
        if how == "step":
            s = _state(name)
            s = stack.layers[0].step(xt[0], (s[0][0], s[1][0]) if name == "lstm" else s[0])
            return (s[0][0].numpy(), s[1][0].numpy()) if name == "lstm" else (s[0].numpy(), None)
        y, s = stack(xt, _state(name))
        return y[0, 0].numpy(), (s[1][0, 0].numpy() if name == "lstm" else None)


IMPLS = ["reference", "explicit-step", "explicit", "explicit-autograd", "fused"]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", list(CASES))
def test_single_step_by_hand(name, impl):
    case = CASES[name]
    if impl == "fused" and name == "gru_cho":
        pytest.skip("torch.nn.GRU has no 'cho' variant")
    if impl == "reference":
        h, c = _run_reference(name, case)
    elif impl == "explicit-autograd":
        stack = _stack(name, "explicit")
        stack.layers[0].autograd = True
        with torch.no_grad():
            y, s = stack(torch.tensor([[x]], dtype=torch.float64), _state(name))
        h, c = y[0, 0].numpy(), (s[1][0, 0].numpy() if name == "lstm" else None)
    else:
        backend, how = ("fused", "run") if impl == "fused" else ("explicit", "step" if impl == "explicit-step" else "run")
        h, c = _run_torch(name, backend, how)
    np.testing.assert_allclose(h, case["h"], rtol=1e-14, atol=1e-15)
    if name == "lstm":
        np.testing.assert_allclose(c, case["c"], rtol=1e-14, atol=1e-15)


def test_the_gru_case_catches_a_reset_applied_after_the_product():
    """The book's candidate tanh(W_h [r ⊙ h, x] + b) against the slip
    tanh(r ⊙ (W_hh h) + W_hx x + b), both run on the case's weights: the case
    separates them by far more than its tolerance."""
    p = _np_params(CASES["gru_cho"])
    W_hh, W_hx = p["W_h"][:, :2], p["W_h"][:, 2:]
    r = np.array(_r)
    slip = np.tanh(r * (W_hh @ h_prev) + W_hx @ x + p["b_h"])
    book = np.tanh(W_hh @ (r * h_prev) + W_hx @ x + p["b_h"])
    np.testing.assert_allclose(book, _hc, rtol=1e-14)
    assert np.abs(slip - book).max() > 1e-2


def test_the_two_gru_variants_differ_on_the_same_weights():
    """Same gate weights, different equations: the two variants, as implemented,
    are not interchangeable."""
    p = _np_params(CASES["gru_cho"])
    ra = dict(p)
    W_h = ra.pop("W_h")
    ra |= {"W_hn": W_h[:, :2], "W_xn": W_h[:, 2:], "b_xn": ra.pop("b_h"), "b_hn": np.zeros(2)}
    xs, h0 = np.array(x).reshape(1, 1, 1), np.array([h_prev])
    h_cho = GRU(p, "cho").forward(xs, h0)[0][0, 0]
    h_ra = GRU(ra, "reset_after").forward(xs, h0)[0][0, 0]
    np.testing.assert_allclose(h_cho, CASES["gru_cho"]["h"], rtol=1e-14)
    assert np.abs(h_cho - h_ra).max() > 1e-2
