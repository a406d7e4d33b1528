"""The NumPy reference: hand-written BPTT against central differences, eq. (5.3)
against the explicit Jacobian product, and the small helpers."""
from __future__ import annotations

import numpy as np
import pytest

from seqlm.errors import SeqlmError
from seqlm.reference import (GRU, LSTM, RNN, SoftmaxOutput, Stack, check_gradients,
                             numerical_grad, rel_error, scale_to_sigma_max,
                             scale_to_spectral_radius, softmax)

CELLS = ["rnn", "lstm", "gru_cho", "gru_reset_after"]


def make(cell: str, I: int, H: int, rng: np.random.Generator, scale: float = 0.5):
    if cell == "rnn":
        return RNN.init(I, H, rng, scale)
    if cell == "lstm":
        return LSTM.init(I, H, rng, scale)
    return GRU.init(I, H, rng, scale, variant=cell[4:])


def random_state(cell: str, B: int, H: int, rng: np.random.Generator):
    if cell == "lstm":
        return (rng.standard_normal((B, H)), rng.standard_normal((B, H)))
    return rng.standard_normal((B, H))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("T,B,layers", [(1, 2, 1), (3, 3, 2), (6, 2, 1)])
def test_bptt_matches_central_differences(cell, T, B, layers):
    """Every parameter of every layer, the output layer (5.2), the inputs, the
    initial states and an incoming gradient at the final state (TBPTT carry)."""
    rng = np.random.default_rng(100 * T + B)
    I, H, V = 3, 4, 5
    stack = Stack([make(cell, I if l == 0 else H, H, rng) for l in range(layers)])
    out = SoftmaxOutput.init(H, V, rng, 0.5)
    xs = rng.standard_normal((T, B, I))
    targets = rng.integers(0, V, size=(T, B))
    states0 = [random_state(cell, B, H, rng) for _ in range(layers)]
    carry = [random_state(cell, B, H, rng) for _ in range(layers)]   # ∂L/∂(final state) from beyond

    def loss() -> float:
        hs, caches = stack.forward(xs, states0)
        L, _ = out.forward(hs, targets)
        for layer, cache, g in zip(stack.layers, caches, carry):     # L += <g, final state>
            if cell == "lstm":
                L += float(np.sum(cache["h"][-1] * g[0]) + np.sum(cache["c"][-1] * g[1]))
            else:
                L += float(np.sum(cache["h"][-1] * g))
        return L

    hs, caches = stack.forward(xs, states0)
    _, ocache = out.forward(hs, targets)
    ograds, dhs = out.backward(ocache)
    grads = stack.backward(dhs, caches, carry)

    arrays = dict(stack.params) | dict(out.params) | {"xs": xs}
    analytic = {f"{l}.{k}": v for l, g in enumerate(grads) for k, v in g.items()} | ograds
    analytic["xs"] = grads[0].dxs
    for l in range(layers):
        if cell == "lstm":
            arrays[f"h0_{l}"], arrays[f"c0_{l}"] = states0[l]
            analytic[f"h0_{l}"], analytic[f"c0_{l}"] = grads[l].dh0, grads[l].dc0
        else:
            arrays[f"h0_{l}"] = states0[l]
            analytic[f"h0_{l}"] = grads[l].dh0
    errors = check_gradients(loss, arrays, analytic, eps=1e-5)
    assert set(errors) == set(arrays)
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-6, (worst, errors[worst])


def test_eq_5_3_jacobian_product():
    """With the loss on h_T only, ∂L/∂h_k = ∂L/∂h_T ∏_{t=k+1}^{T} diag(1 - h_t²) W_hh (5.3)."""
    rng = np.random.default_rng(3)
    T, B, I, H = 7, 2, 3, 4
    rnn = RNN.init(I, H, rng, 0.6)
    hs, cache = rnn.forward(rng.standard_normal((T, B, I)), rng.standard_normal((B, H)))
    dhs = np.zeros_like(hs)
    dhs[-1] = rng.standard_normal((B, H))
    g = rnn.backward(dhs, cache)
    J = rnn.jacobians(cache)                       # J[t-1] = ∂h_t/∂h_{t-1}
    for k in range(T + 1):
        expected = dhs[-1].copy()
        for t in range(T, k, -1):                  # row vector times J_T J_{T-1} ... J_{k+1}
            expected = np.einsum("bi,bij->bj", expected, J[t - 1])
        np.testing.assert_allclose(g.dh[k], expected, rtol=1e-12, atol=1e-14)


def test_total_dh_includes_direct_and_carried_gradient():
    rng = np.random.default_rng(4)
    rnn = RNN.init(2, 3, rng, 0.5)
    hs, cache = rnn.forward(rng.standard_normal((4, 1, 2)))
    dhs = rng.standard_normal(hs.shape)
    carry = rng.standard_normal((1, 3))
    g = rnn.backward(dhs, cache, carry)
    np.testing.assert_allclose(g.dh[4], dhs[3] + carry, rtol=0, atol=0)   # nothing after h_T
    assert g.dh.shape == (5, 1, 3)


def test_grads_container():
    rng = np.random.default_rng(5)
    lstm = LSTM.init(2, 3, rng)
    hs, cache = lstm.forward(rng.standard_normal((3, 2, 2)))
    g = lstm.backward(np.ones_like(hs), cache)
    assert list(g) == list(lstm.param_names)
    assert g["dxs"] is g.dxs and g.dxs.shape == (3, 2, 2)
    assert g.dc.shape == (4, 2, 3) and g.dstate0[1] is not None
    with pytest.raises(KeyError):
        g["nope"]


def test_softmax_output_hand_computed():
    out = SoftmaxOutput({"W_hy": np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]]), "b_y": np.zeros(3)})
    h = np.array([[[1.0, 0.5]]])                    # (T=1, B=1, H=2): logits [1, 1, 0]
    e = np.e
    np.testing.assert_allclose(out.probs(h)[0, 0], [e / (2 * e + 1), e / (2 * e + 1), 1 / (2 * e + 1)])
    loss, _ = out.forward(h, np.array([[2]]))
    assert loss == pytest.approx(np.log(2 * e + 1), rel=1e-14)
    assert softmax(np.array([1000.0, 1000.0]))[0] == pytest.approx(0.5)   # no overflow


def test_scaling_helpers():
    rng = np.random.default_rng(6)
    W = rng.standard_normal((5, 5))
    for s in (0.5, 0.9, 2.0):
        assert np.linalg.norm(scale_to_sigma_max(W, s), 2) == pytest.approx(s, rel=1e-12)
        assert np.max(np.abs(np.linalg.eigvals(scale_to_spectral_radius(W, s)))) == pytest.approx(s, rel=1e-10)
    rnn = RNN.init(3, 6, rng, 0.1, sigma_max=0.9)
    assert np.linalg.norm(rnn.params["W_hh"], 2) == pytest.approx(0.9, rel=1e-12)
    rnn = RNN.init(3, 6, rng, orthogonal_hh=True)
    np.testing.assert_allclose(rnn.params["W_hh"] @ rnn.params["W_hh"].T, np.eye(6), atol=1e-12)


def test_init_uniform_bounds_and_forget_bias():
    rng = np.random.default_rng(7)
    lstm = LSTM.init(4, 8, rng, scale=0.05, forget_bias=1.0)
    assert all(np.abs(v).max() <= 0.05 for k, v in lstm.params.items() if k != "b_f")
    np.testing.assert_array_equal(lstm.params["b_f"], np.ones(8))


def test_gradcheck_helpers():
    x = np.array([1.0, -2.0, 0.5])
    num = numerical_grad(lambda: float(np.sum(x ** 3)), x)
    np.testing.assert_allclose(num, 3 * x ** 2, rtol=1e-9)
    np.testing.assert_array_equal(x, [1.0, -2.0, 0.5])             # restored
    assert rel_error(np.ones(3), np.ones(3)) == 0.0
    assert rel_error(np.ones(3), 2 * np.ones(3)) == pytest.approx(1 / 3)


def test_bad_shapes_are_user_errors():
    rng = np.random.default_rng(8)
    gru = GRU.init(3, 4, rng)
    with pytest.raises(SeqlmError, match=r"\(T, B, 3\)"):
        gru.forward(np.zeros((2, 3)))
    with pytest.raises(SeqlmError, match="h0"):
        gru.forward(np.zeros((2, 1, 3)), np.zeros((2, 4)))
    with pytest.raises(SeqlmError, match="variant"):
        GRU.init(3, 4, rng, variant="bogus")
    p = dict(gru.params)
    p["b_z"] = np.zeros(5)
    with pytest.raises(SeqlmError, match="b_z"):
        GRU(p)
    with pytest.raises(SeqlmError, match="input size"):
        Stack([RNN.init(3, 4, rng), RNN.init(5, 4, rng)])
