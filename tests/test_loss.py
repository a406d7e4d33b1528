"""seqlm.nn.loss.linear_cross_entropy: the fused output layer is the unfused one.

References: float64 autograd of F.cross_entropy(F.linear(...)) for values and all
three gradients; the unfused bf16-autocast computation for the bf16 path; and the
language models' ``targets=`` forward against their own logits.
"""
import pytest
import torch
import torch.nn.functional as F

from seqlm.lm.build import build_model
from seqlm.nn.loss import linear_cross_entropy


def _case(n=300, h=24, v=97, seed=0, ignore=40):
    g = torch.Generator().manual_seed(seed)
    H = torch.randn(n, h, generator=g, dtype=torch.float64)
    W = torch.randn(v, h, generator=g, dtype=torch.float64) * 0.3
    b = torch.randn(v, generator=g, dtype=torch.float64) * 0.1
    y = torch.randint(0, v, (n,), generator=g)
    y[torch.randperm(n, generator=g)[:ignore]] = -100  # padding rows
    return H, W, b, y


def _grads(fn, *tensors):
    leaves = [t.detach().clone().requires_grad_() for t in tensors[:3]]
    loss = fn(*leaves, tensors[3])
    loss.backward()
    return loss.detach(), [t.grad for t in leaves]


def _reference(H, W, b, y):
    return F.cross_entropy(F.linear(H, W, b), y, ignore_index=-100)


@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
def test_float64_values_and_gradients_equal_autograd(chunk):
    H, W, b, y = _case()
    ref_loss, ref_grads = _grads(_reference, H, W, b, y)
    loss, grads = _grads(lambda *a: linear_cross_entropy(*a, chunk=chunk), H, W, b, y)
    assert loss.dtype == torch.float64
    torch.testing.assert_close(loss, ref_loss, rtol=1e-12, atol=1e-12)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_float32_close_to_float64_and_padding_gets_no_gradient():
    H, W, b, y = _case(seed=1)
    ref_loss, ref_grads = _grads(_reference, H, W, b, y)
    loss, grads = _grads(linear_cross_entropy, *(t.float() for t in (H, W, b)), y)
    assert loss.dtype == torch.float32
    assert abs(loss.item() - ref_loss.item()) < 1e-5
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-6)
    assert torch.all(grads[0][y == -100] == 0)  # ignored rows: no gradient into h


def test_bf16_autocast_matches_the_unfused_bf16_layer():
    H, W, b, y = (t.float() if t.is_floating_point() else t for t in _case(n=200, h=32, v=500, seed=2))

    def unfused(H, W, b, y):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            z = F.linear(H, W, b)
        return F.cross_entropy(z.float(), y, ignore_index=-100)

    def fused(H, W, b, y):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return linear_cross_entropy(H, W, b, y)

    (ref_loss, ref_grads), (loss, grads) = _grads(unfused, H, W, b, y), _grads(fused, H, W, b, y)
    assert abs(loss.item() - ref_loss.item()) < 2e-3 * ref_loss.item()
    for got, want in zip(grads, ref_grads):
        assert got.dtype == want.dtype == torch.float32
        assert (got - want).norm() < 2e-2 * want.norm()


@pytest.mark.parametrize("model", [
    {"kind": "rnn", "cell": "lstm", "num_layers": 2, "embed_size": 16, "hidden_size": 16, "tie_weights": True},
    {"kind": "rnn", "cell": "gru", "num_layers": 1, "embed_size": 8, "hidden_size": 12},
    {"kind": "ffnn", "context": 3, "embed_size": 8, "hidden_size": 12},
    {"kind": "ffnn", "context": 2, "embed_size": 8, "hidden_size": 12, "direct": True},
])
def test_model_targets_forward_is_the_cross_entropy_of_its_logits(model):
    torch.manual_seed(0)
    m = build_model({**model, "vocab_size": 50}).double().eval()
    x = torch.randint(0, 50, (9, 4))
    y = torch.randint(0, 50, (9, 4))
    y[6:, 1] = -100
    logits, state = m(x, m.init_state(4))
    loss, state2 = m(x, m.init_state(4), targets=y)
    want = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=-100)
    torch.testing.assert_close(loss, want, rtol=1e-10, atol=1e-12)
    for a, b in zip(torch.utils._pytree.tree_leaves(state), torch.utils._pytree.tree_leaves(state2)):
        assert torch.equal(a, b)


def test_output_layer_benchmark_runs_and_writes_its_rows(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "output_layer.py"
    out = tmp_path / "o.json"
    subprocess.run([sys.executable, str(script), "--quick", "--rounds", "1", "--json", str(out)],
                   check=True, capture_output=True, timeout=120)
    rows = json.loads(out.read_text())["rows"]
    assert {(r["precision"], r["impl"]) for r in rows} == {
        (p, i) for p in ("fp32", "bf16") for i in ("fused", "unfused")}
    assert all(r["tokens_per_s"] > 0 and r["speedup"] > 0 for r in rows)
