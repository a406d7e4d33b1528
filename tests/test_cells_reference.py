"""NumPy reference vs float64 PyTorch autograd of the same equations (the
explicit cells), and the explicit cells' hand-written layer backward vs autograd."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seqlm.nn import RecurrentStack, explicit_to_reference, load_reference_params, reference_params
from seqlm.reference import GRU, LSTM, RNN, Stack

CELLS = ["rnn", "lstm", "gru_cho", "gru_reset_after"]
TOL = 1e-10


def split(name):
    return (name, None) if not name.startswith("gru") else ("gru", name[4:])


def reference_layer(name, params):
    if name == "rnn":
        return RNN(params)
    if name == "lstm":
        return LSTM(params)
    return GRU(params, name[4:])


def t64(a):
    return torch.tensor(a, dtype=torch.float64)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("T,B", [(1, 2), (5, 3)])
def test_reference_matches_autograd(name, T, B):
    """Outputs, all parameter gradients, ∂L/∂x_t, ∂L/∂(initial state) and the
    total ∂L/∂h_k (and ∂L/∂c_k) for every k."""
    cell, variant = split(name)
    I, H = 3, 4
    gen = torch.Generator().manual_seed(T * 10 + B)
    stack = RecurrentStack(cell, I, H, variant=variant, init="uniform", init_scale=0.6,
                           autograd=True, generator=gen, dtype=torch.float64)
    layer = stack.layers[0]
    rng = np.random.default_rng(T)
    xs = rng.standard_normal((T, B, I))
    dhs = rng.standard_normal((T, B, H))          # L = Σ_t <dhs[t], h_t>
    h0 = rng.standard_normal((B, H))
    c0 = rng.standard_normal((B, H))

    ref = reference_layer(name, reference_params(layer))
    state0 = (h0, c0) if cell == "lstm" else h0
    hs_ref, cache = ref.forward(xs, state0)
    g_ref = ref.backward(dhs, cache)

    # autograd, unrolled with layer.step so every h_k (and c_k) can retain its gradient
    x = t64(xs).requires_grad_()
    h = t64(h0).requires_grad_()
    c = t64(c0).requires_grad_()
    state = (h, c) if cell == "lstm" else h
    hk, ck = [h], [c]
    for t in range(T):
        state = layer.step(x[t], state)
        if cell == "lstm":
            state[0].retain_grad(), state[1].retain_grad()
            hk.append(state[0]), ck.append(state[1])
        else:
            state.retain_grad()
            hk.append(state)
    hs = torch.stack(hk[1:])
    (hs * t64(dhs)).sum().backward()

    np.testing.assert_allclose(hs.detach().numpy(), hs_ref, rtol=0, atol=TOL)
    named = {k: getattr(layer, k).grad for k in ("W_xh", "W_hh", "b")}
    if variant == "reset_after":
        named["b_hn"] = layer.b_hn.grad
    g_torch = explicit_to_reference(cell, variant, **named)
    assert set(g_torch) == set(g_ref)
    for k in g_ref:
        np.testing.assert_allclose(g_torch[k].numpy(), g_ref[k], rtol=0, atol=TOL, err_msg=k)
    np.testing.assert_allclose(x.grad.numpy(), g_ref.dxs, rtol=0, atol=TOL)
    np.testing.assert_allclose(torch.stack([v.grad for v in hk]).numpy(), g_ref.dh, rtol=0, atol=TOL)
    if cell == "lstm":
        np.testing.assert_allclose(torch.stack([v.grad for v in ck]).numpy(), g_ref.dc, rtol=0, atol=TOL)


@pytest.mark.parametrize("name", CELLS)
def test_reference_stack_matches_explicit_stack(name):
    """Two layers: the reference Stack against the explicit RecurrentStack (hand-written backward)."""
    cell, variant = split(name)
    T, B, I, H = 4, 2, 3, 5
    stack = RecurrentStack(cell, I, H, num_layers=2, variant=variant, init="uniform", init_scale=0.5,
                           generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    ref = Stack([reference_layer(name, p) for p in reference_params(stack)])
    rng = np.random.default_rng(1)
    xs, dhs = rng.standard_normal((T, B, I)), rng.standard_normal((T, B, H))
    hs_ref, caches = ref.forward(xs)
    grads = ref.backward(dhs, caches)
    x = t64(xs).requires_grad_()
    y, _ = stack(x)
    (y * t64(dhs)).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), hs_ref, rtol=0, atol=TOL)
    np.testing.assert_allclose(x.grad.numpy(), grads[0].dxs, rtol=0, atol=TOL)
    for l, layer in enumerate(stack.layers):
        named = {k: getattr(layer, k).grad for k in ("W_xh", "W_hh", "b")}
        if variant == "reset_after":
            named["b_hn"] = layer.b_hn.grad
        for k, v in explicit_to_reference(cell, variant, **named).items():
            np.testing.assert_allclose(v.numpy(), grads[l][k], rtol=0, atol=TOL, err_msg=f"{l}.{k}")


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_layer_backward_matches_autograd(name, dtype, tol):
    """The hand-written whole-layer backward (seqlm.nn.functional) against
    autograd through ``step``: outputs, final states, every gradient."""
    cell, variant = split(name)
    T, B, I, H = 6, 3, 4, 5
    kw = dict(num_layers=2, variant=variant, init="uniform", init_scale=0.5, dtype=dtype)
    fast = RecurrentStack(cell, I, H, generator=torch.Generator().manual_seed(2), **kw)
    slow = RecurrentStack(cell, I, H, generator=torch.Generator().manual_seed(2), autograd=True, **kw)
    g = torch.Generator().manual_seed(3)
    x0 = torch.randn(T, B, I, generator=g, dtype=dtype)
    s0 = [torch.randn(2, B, H, generator=g, dtype=dtype) for _ in range(2)]
    w = [torch.randn(T, B, H, generator=g, dtype=dtype), torch.randn(2, B, H, generator=g, dtype=dtype),
         torch.randn(2, B, H, generator=g, dtype=dtype)]
    results = []
    for m in (fast, slow):
        x = x0.clone().requires_grad_()
        st = [s.clone().requires_grad_() for s in s0]
        y, s = m(x, (st[0], st[1]) if cell == "lstm" else st[0])
        L = (y * w[0]).sum() + ((s[0] * w[1]).sum() + (s[1] * w[2]).sum() if cell == "lstm" else (s * w[1]).sum())
        L.backward()
        grads = [x.grad, st[0].grad] + ([st[1].grad] if cell == "lstm" else []) + [p.grad for p in m.parameters()]
        results.append((y.detach(), grads))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=tol)
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


def test_reference_params_round_trip_is_exact():
    for name in CELLS:
        cell, variant = split(name)
        stack = RecurrentStack(cell, 3, 4, num_layers=2, variant=variant, dtype=torch.float64)
        params = reference_params(stack)
        other = RecurrentStack(cell, 3, 4, num_layers=2, variant=variant, dtype=torch.float64,
                               generator=torch.Generator().manual_seed(99))
        load_reference_params(other, params)
        for a, b in zip(stack.parameters(), other.parameters()):
            assert torch.equal(a, b)
        again = reference_params(other)
        for p, q in zip(params, again):
            for k in p:
                assert np.array_equal(p[k], q[k])
