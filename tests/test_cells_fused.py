"""Explicit cells vs torch.nn.RNN(tanh)/LSTM/GRU after exact weight conversion."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seqlm.errors import SeqlmError
from seqlm.reference import GRU, LSTM, RNN
from seqlm.nn import (RecurrentStack, explicit_to_fused, explicit_to_torch_weights,
                      fused_to_explicit, torch_to_explicit_weights)

CELLS = [("rnn", None), ("lstm", None), ("gru", "reset_after")]


def run(stack, x0, s0, w, cell):
    x = x0.clone().requires_grad_()
    st = [s.clone().requires_grad_() for s in s0]
    y, s = stack(x, (st[0], st[1]) if cell == "lstm" else st[0])
    if cell == "lstm":
        L = (y * w[0]).sum() + (s[0] * w[1]).sum() + (s[1] * w[2]).sum()
    else:
        L = (y * w[0]).sum() + (s * w[1]).sum()
    L.backward()
    gstate = [st[0].grad] + ([st[1].grad] if cell == "lstm" else [])
    return y.detach(), s, x.grad, gstate


def layer_grads(stack):
    """Per layer, the parameter gradients in the explicit layout (fused ones converted)."""
    if stack.backend == "explicit":
        names = ["W_xh", "W_hh", "b"] + (["b_hn"] if stack.variant == "reset_after" else [])
        return [{k: getattr(layer, k).grad for k in names} for layer in stack.layers]
    out = []
    for l in range(stack.num_layers):
        w = {k: getattr(stack.rnn, f"{k}_l{l}").grad for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        # b enters once, like bias_ih: ∂L/∂b is ∂L/∂bias_ih permuted (not bias_ih + bias_hh)
        g = torch_to_explicit_weights(stack.cell, w["weight_ih"], w["weight_hh"], w["bias_ih"], None)
        if stack.cell == "gru":
            g["b_hn"] = w["bias_hh"][2 * stack.hidden_size:]
        out.append(g)
    return out


@pytest.mark.parametrize("cell,variant", CELLS)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
@pytest.mark.parametrize("backend_impl", ["function", "autograd"])
def test_explicit_matches_fused(cell, variant, dtype, tol, backend_impl):
    T, B, I, H, L = 5, 3, 4, 6, 2
    explicit = RecurrentStack(cell, I, H, num_layers=L, variant=variant, init="uniform", init_scale=0.4,
                              generator=torch.Generator().manual_seed(5), dtype=dtype,
                              autograd=backend_impl == "autograd")
    fused = explicit_to_fused(explicit)
    assert isinstance(fused.rnn, {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell])
    g = torch.Generator().manual_seed(6)
    x0 = torch.randn(T, B, I, generator=g, dtype=dtype)
    s0 = [torch.randn(L, B, H, generator=g, dtype=dtype) for _ in range(2)]   # non-zero initial state
    w = [torch.randn(T, B, H, generator=g, dtype=dtype)] + [torch.randn(L, B, H, generator=g, dtype=dtype) for _ in range(2)]
    ye, se, gxe, gse = run(explicit, x0, s0, w, cell)
    yf, sf, gxf, gsf = run(fused, x0, s0, w, cell)
    close = dict(rtol=tol, atol=tol)
    torch.testing.assert_close(ye, yf, **close)
    for a, b in zip(se if cell == "lstm" else [se], sf if cell == "lstm" else [sf]):
        torch.testing.assert_close(a.detach(), b.detach(), **close)
    torch.testing.assert_close(gxe, gxf, **close)
    for a, b in zip(gse, gsf):
        torch.testing.assert_close(a, b, **close)
    for l, (ge, gf) in enumerate(zip(layer_grads(explicit), layer_grads(fused))):
        for k in ge:
            torch.testing.assert_close(ge[k], gf[k], **close, msg=f"layer {l} {k}")


@pytest.mark.parametrize("cell,variant", CELLS)
def test_conversion_round_trips_bitwise(cell, variant):
    explicit = RecurrentStack(cell, 3, 4, num_layers=2, variant=variant, init="uniform",
                              generator=torch.Generator().manual_seed(1))
    back = fused_to_explicit(explicit_to_fused(explicit))
    for (na, a), (nb, b) in zip(explicit.named_parameters(), back.named_parameters()):
        assert na == nb and torch.equal(a, b), na
    # fused -> explicit -> fused: exact when bias_hh carries nothing but b_hn (our convention) ...
    fused = explicit_to_fused(explicit)
    again = explicit_to_fused(fused_to_explicit(fused))
    for (na, a), (nb, b) in zip(fused.named_parameters(), again.named_parameters()):
        assert torch.equal(a, b), na


def test_fused_with_both_biases_converts_to_the_same_function():
    """A stock nn.LSTM/nn.GRU has two non-zero bias vectors; after conversion
    they are merged (GRU: except b_hn) and the function is unchanged."""
    for cell, variant in CELLS:
        fused = RecurrentStack(cell, 3, 4, num_layers=2, backend="fused", dtype=torch.float64)
        with torch.no_grad():
            for name, p in fused.rnn.named_parameters():
                if name.startswith("bias_hh"):
                    p.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(len(name)))
        explicit = fused_to_explicit(fused)
        x = torch.randn(4, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(explicit(x)[0], fused(x)[0], rtol=1e-12, atol=1e-12)


def test_weight_layout_of_torch():
    """Gate order i, f, g, o in nn.LSTM; the explicit order is f, i, o, c."""
    W_x = torch.arange(8.0).view(8, 1)                   # block k holds 2k, 2k+1
    w = explicit_to_torch_weights("lstm", W_x, torch.zeros(8, 2), torch.arange(8.0))
    assert w["weight_ih"].view(-1).tolist() == [2, 3, 0, 1, 6, 7, 4, 5]   # i, f, g(=c), o
    assert w["bias_hh"].abs().sum() == 0
    back = torch_to_explicit_weights("lstm", w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"])
    assert torch.equal(back["W_xh"], W_x)
    gw = explicit_to_torch_weights("gru", torch.arange(6.0).view(6, 1), torch.zeros(6, 2), torch.zeros(6),
                                   torch.tensor([7.0, 8.0]))
    assert gw["weight_ih"].view(-1).tolist() == [2, 3, 0, 1, 4, 5]        # r, z, n
    assert gw["bias_hh"].tolist() == [0, 0, 0, 0, 7, 8]


def test_fused_gru_refuses_cho():
    with pytest.raises(SeqlmError, match="reset_after"):
        RecurrentStack("gru", 3, 4, backend="fused", variant="cho")
    with pytest.raises(SeqlmError, match="reset_after"):
        explicit_to_fused(RecurrentStack("gru", 3, 4, variant="cho"))
    assert RecurrentStack("gru", 3, 4, backend="fused").variant == "reset_after"
    assert RecurrentStack("gru", 3, 4).variant == "cho"


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_one_fused_layer_with_dropout_is_quiet_and_keeps_its_setting(cell):
    # Inter-layer dropout is a no-op with one layer; torch warns when it is passed
    # anyway, which would print on every one-layer model with dropout.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stack = RecurrentStack(cell, 4, 5, num_layers=1, dropout=0.3, backend="fused")
    assert stack.dropout == 0.3 and stack.rnn.dropout == 0.0
    two = RecurrentStack(cell, 4, 5, num_layers=2, dropout=0.3, backend="fused")
    assert two.rnn.dropout == 0.3


def test_the_layout_module_is_the_one_home_of_the_gate_order():
    """seqlm.reference.layout owns the block orders; PyTorch's follow from it."""
    from seqlm.reference import layout
    assert layout.torch_block_order("lstm") == [1, 0, 3, 2]      # i, f, g, o <- f, i, o, c
    assert layout.torch_block_order("gru") == [1, 0, 2]          # r, z, n <- z, r, n
    rng = np.random.default_rng(0)
    for cell, variant in (("rnn", None), ("lstm", None), ("gru", "cho"), ("gru", "reset_after")):
        ref = {"rnn": RNN, "lstm": LSTM}.get(cell)
        layer = ref.init(3, 4, rng) if ref else GRU.init(3, 4, rng, variant=variant)
        stacked = layout.stack(cell, variant, layer.params)
        back = layout.unstack(cell, variant, **stacked)
        assert list(back) == list(layer.param_names)
        assert all(np.array_equal(back[k], layer.params[k]) for k in back)


def test_a_state_dict_with_the_old_parameter_names_still_loads():
    """Explicit layers were W_x / W_h before they became W_xh / W_hh."""
    a = RecurrentStack("lstm", 3, 4, num_layers=2, backend="explicit")
    old = {k.replace(".W_xh", ".W_x").replace(".W_hh", ".W_h"): v for k, v in a.state_dict().items()}
    assert any(k.endswith(".W_x") for k in old)
    b = RecurrentStack("lstm", 3, 4, num_layers=2, backend="explicit", generator=torch.Generator().manual_seed(5))
    b.load_state_dict(old)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
