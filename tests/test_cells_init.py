"""RecurrentStack construction: init options in both backends, states, dropout,
batch_first, errors, determinism."""
from __future__ import annotations

import math

import pytest
import torch

from seqlm.errors import SeqlmError
from seqlm.nn import RecurrentStack, explicit_layers, reference_params

BACKENDS = ["explicit", "fused"]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_uniform_bounds(cell, backend):
    s = RecurrentStack(cell, 5, 7, num_layers=2, backend=backend, init="uniform", init_scale=0.05, generator=gen())
    for name, p in s.named_parameters():
        assert p.abs().max() <= 0.05, name
        if "bias_hh" not in name:                 # fused bias_hh starts at zero (the bias lives in bias_ih)
            assert p.abs().max() > 0.03, name     # and actually uses the range


@pytest.mark.parametrize("backend", BACKENDS)
def test_pytorch_default_bounds(backend):
    H = 16
    s = RecurrentStack("lstm", 4, H, backend=backend, init="pytorch", generator=gen())
    bound = 1 / math.sqrt(H)
    for p in s.parameters():
        assert p.abs().max() <= bound


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_orthogonal_recurrent_blocks(cell, backend):
    H = 6
    s = RecurrentStack(cell, 3, H, num_layers=2, backend=backend, init="orthogonal", generator=gen())
    for t in s.layer_tensors():
        W_h = t["W_hh"].double()
        for k in range(W_h.shape[0] // H):
            block = W_h[k * H:(k + 1) * H]
            torch.testing.assert_close(block @ block.T, torch.eye(H, dtype=torch.float64), atol=1e-6, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_forget_bias_lands_in_the_forget_gate(backend):
    H = 5
    s = RecurrentStack("lstm", 3, H, num_layers=2, backend=backend, init="uniform", init_scale=0.1,
                       forget_bias=1.0, generator=gen())
    for p in reference_params(s):                 # the book's names: only b_f is 1
        assert (p["b_f"] == 1.0).all()
        for g in "ico":
            assert abs(p[f"b_{g}"]).max() <= 0.1
    if backend == "fused":                        # nn.LSTM order i, f, g, o: the second block
        for l in range(2):
            b = getattr(s.rnn, f"bias_ih_l{l}") + getattr(s.rnn, f"bias_hh_l{l}")
            assert (b[H:2 * H] == 1.0).all() and (b[:H].abs() <= 0.1).all() and (b[2 * H:].abs() <= 0.1).all()
    else:                                         # explicit order f, i, o, c: the first block
        for layer in s.layers:
            assert (layer.b[:H] == 1.0).all() and (layer.b[H:].abs() <= 0.1).all()


def test_same_generator_same_function_in_both_backends():
    x = torch.randn(4, 2, 3, generator=gen(1))
    for cell in ("rnn", "lstm", "gru"):
        a = RecurrentStack(cell, 3, 5, num_layers=2, variant="reset_after" if cell == "gru" else None, generator=gen(7))
        b = RecurrentStack(cell, 3, 5, num_layers=2, backend="fused", generator=gen(7))
        with torch.no_grad():
            torch.testing.assert_close(a(x)[0], b(x)[0], rtol=1e-5, atol=1e-6)


def test_global_rng_untouched_and_deterministic():
    before = torch.get_rng_state()
    a = RecurrentStack("lstm", 3, 4, backend="fused", generator=gen(3))
    b = RecurrentStack("lstm", 3, 4, backend="fused", generator=gen(3))
    assert torch.equal(torch.get_rng_state(), before)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("backend", BACKENDS)
def test_states_and_batch_first(backend):
    s = RecurrentStack("lstm", 3, 4, num_layers=2, backend=backend, batch_first=True, generator=gen())
    h, c = s.init_state(5)
    assert h.shape == c.shape == (2, 5, 4) and not h.any()
    x = torch.randn(5, 7, 3, generator=gen(2))                       # (B, T, I)
    y, (hT, cT) = s(x)
    assert y.shape == (5, 7, 4) and hT.shape == (2, 5, 4)
    torch.testing.assert_close(y[:, -1], hT[-1])
    # carrying the state across two halves equals one pass over the whole sequence
    y1, st = s(x[:, :3])
    y2, _ = s(x[:, 3:], st)
    torch.testing.assert_close(torch.cat([y1, y2], 1), y, rtol=1e-6, atol=1e-6)


def test_dropout_between_layers_only():
    s = RecurrentStack("gru", 3, 4, num_layers=2, dropout=0.5, generator=gen())
    x = torch.randn(6, 2, 3, generator=gen(1))
    s.eval()
    y_eval = s(x)[0]
    s.train()
    torch.manual_seed(0)
    y_train = s(x)[0]
    assert not torch.allclose(y_train, y_eval)                      # dropout acted between the layers ...
    assert (y_train != 0).all()                                      # ... but not on the top layer's output
    one = RecurrentStack("gru", 3, 4, num_layers=1, dropout=0.5, generator=gen()).train()
    torch.testing.assert_close(one(x)[0], one.eval()(x)[0])          # one layer: nothing to drop


def test_step_unrolls_to_forward():
    s = RecurrentStack("lstm", 3, 4, generator=gen())
    layer = explicit_layers(s)[0]
    x = torch.randn(5, 2, 3, generator=gen(4))
    state = layer.init_state(2)
    hs = []
    for t in range(5):
        state = layer.step(x[t], state)
        hs.append(state[0])
    torch.testing.assert_close(torch.stack(hs), s(x)[0], rtol=1e-6, atol=1e-7)


def test_user_errors():
    with pytest.raises(SeqlmError, match="cell"):
        RecurrentStack("transformer", 3, 4)
    with pytest.raises(SeqlmError, match="backend"):
        RecurrentStack("lstm", 3, 4, backend="cudnn")
    with pytest.raises(SeqlmError, match="init"):
        RecurrentStack("lstm", 3, 4, init="xavier")
    with pytest.raises(SeqlmError, match="forget_bias"):
        RecurrentStack("gru", 3, 4, forget_bias=1.0)
    with pytest.raises(SeqlmError, match="dropout"):
        RecurrentStack("lstm", 3, 4, dropout=1.5)
    s = RecurrentStack("lstm", 3, 4, num_layers=2)
    with pytest.raises(SeqlmError, match=r"\(T, B, 3\)"):
        s(torch.zeros(2, 2, 5))
    with pytest.raises(SeqlmError, match="tuple"):
        s(torch.zeros(2, 2, 3), torch.zeros(2, 2, 4))
    with pytest.raises(SeqlmError, match=r"\(2, 2, 4\)"):
        s(torch.zeros(2, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(SeqlmError, match="explicit"):
        explicit_layers(RecurrentStack("lstm", 3, 4, backend="fused"))


def test_config_rebuilds_the_same_module():
    s = RecurrentStack("gru", 3, 4, num_layers=2, dropout=0.1, init="uniform", init_scale=0.2)
    t = RecurrentStack(**s.config())
    t.load_state_dict(s.state_dict())
    assert t.config() == s.config()
