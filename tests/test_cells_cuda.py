"""On a GPU: explicit cells (hand-written backward, on CUDA) vs cuDNN after conversion.
Skipped where there is no CUDA device (CI has none)."""
from __future__ import annotations

import pytest
import torch

from seqlm.nn import RecurrentStack, explicit_to_fused

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture
def no_tf32():
    """cuDNN may use TF32 for float32 RNNs; the 1e-5 comparison needs true float32."""
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_explicit_matches_cudnn(cell, dtype, tol, no_tf32):
    T, B, I, H = 7, 4, 5, 8
    explicit = RecurrentStack(cell, I, H, num_layers=2, variant="reset_after" if cell == "gru" else None,
                              init="uniform", init_scale=0.4, generator=torch.Generator().manual_seed(0),
                              device="cuda", dtype=dtype)
    fused = explicit_to_fused(explicit)
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(T, B, I, generator=g, dtype=dtype).cuda()
    h0 = torch.randn(2, B, H, generator=g, dtype=dtype).cuda()
    state = (h0, torch.randn(2, B, H, generator=g, dtype=dtype).cuda()) if cell == "lstm" else h0
    w = torch.randn(T, B, H, generator=g, dtype=dtype).cuda()
    outs = []
    for m in (explicit, fused):
        x = x0.clone().requires_grad_()
        y, _ = m(x, state)
        (y * w).sum().backward()
        outs.append((y.detach(), x.grad))
    torch.testing.assert_close(outs[0][0], outs[1][0], rtol=tol, atol=tol)
    torch.testing.assert_close(outs[0][1], outs[1][1], rtol=tol, atol=tol)
