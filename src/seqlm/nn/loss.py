"""The output layer and its loss as one autograd node: z = h Wᵀ + b, then
cross-entropy, without the (N, V) logits ever existing as a tensor.

Why: with a 10,000-word vocabulary the softmax is most of a CPU training step.
Profiled on one core (2×200 LSTM, batch 64, bf16 autocast): the decoder GEMMs take
about a quarter of the step, and more than as much again goes to passes over the
(N, V) logits that do no arithmetic worth the name — the bf16 → fp32 copy of the
logits, log-softmax forward, zero-filling the logits' gradient, log-softmax
backward, each reading or writing N·V floats. Fused, the output layer runs 1.66×
as fast under bf16 (benchmarks/output_layer.py, docs/benchmarks.md).

What: rows are processed in chunks that stay in cache. For each chunk the forward
computes the logits, their log-sum-exp and the loss, and at once the gradient
(softmax − one-hot) / n, which it multiplies out into ∂L/∂h, ∂L/∂W and ∂L/∂b (the
loss is a scalar, so its gradient is known up to the incoming factor before
backward is called; Liger-Kernel's fused linear cross-entropy does the same on
GPUs). Backward only scales the three saved gradients. The GEMMs are those of the
unfused layer, the model and the loss are the same functions
(tests/test_loss.py: values and gradients against float64 autograd, and the bf16
path against the unfused bf16 one); the memory held is O(chunk · V), not O(N · V).

Under CPU autocast the GEMMs run in its dtype (bf16) like the unfused layer's,
with logits, softmax and the accumulated ∂L/∂W, ∂L/∂b in fp32.
"""
from __future__ import annotations

import torch
from torch import Tensor

IGNORE_INDEX = -100  # cross-entropy's ignore_index: the padding of sentence batches
CHUNK_ROWS = 512     # 512 × 10k fp32 logits = 20 MB at a time; smaller chunks measured slower


class LinearCrossEntropyFn(torch.autograd.Function):
    """mean over non-ignored rows of −log softmax(h Wᵀ + b)[y], and its gradient."""

    @staticmethod
    def forward(ctx, h: Tensor, W: Tensor, b: Tensor, y: Tensor, dtype: torch.dtype, chunk: int):
        valid = y != IGNORE_INDEX                                         # (N,)
        n = max(int(valid.sum()), 1)
        grads = any(ctx.needs_input_grad[:3])
        acc = torch.promote_types(dtype, torch.float32)                   # fp32, or fp64 in tests
        gh = torch.empty_like(h) if grads else None                       # (N, H)
        gW = torch.zeros(W.shape, dtype=acc, device=W.device) if grads else None
        gb = torch.zeros(b.shape, dtype=acc, device=b.device) if grads else None
        Wd, b_acc = W.to(dtype), b.to(acc)
        total = torch.zeros((), dtype=torch.float64, device=h.device)
        for s in range(0, h.size(0), chunk):
            hc, yc = h[s:s + chunk].to(dtype), y[s:s + chunk].clamp_min(0)  # (c, H), (c,)
            weight = valid[s:s + chunk].to(acc)                           # 0 on padding
            z = (hc @ Wd.t()).to(acc).add_(b_acc)                         # (c, V) logits
            lse = torch.logsumexp(z, dim=1)                               # (c,)
            nll = lse - z.gather(1, yc[:, None]).squeeze(1)               # −log p(y)
            total += (nll * weight).sum(dtype=torch.float64)
            if grads:
                dz = z.sub_(lse[:, None]).exp_()                          # softmax, in place
                dz[torch.arange(dz.size(0), device=dz.device), yc] -= 1.0  # − one-hot
                dz.mul_((weight / n)[:, None])                            # mean; padding rows → 0
                dzd = dz.to(dtype)
                gh[s:s + chunk] = dzd @ Wd                                # ∂L/∂h
                gW.add_(dzd.t() @ hc)                                     # ∂L/∂W
                gb.add_(dz.sum(0))                                        # ∂L/∂b
        if grads:
            ctx.save_for_backward(gh, gW.to(W.dtype), gb.to(b.dtype))
        return (total / n).to(acc)

    @staticmethod
    def backward(ctx, g: Tensor):
        gh, gW, gb = ctx.saved_tensors
        return gh * g.to(gh.dtype), gW * g, gb * g, None, None, None


def linear_cross_entropy(h: Tensor, weight: Tensor, bias: Tensor, targets: Tensor,
                         chunk: int = CHUNK_ROWS) -> Tensor:
    """``F.cross_entropy(F.linear(h, weight, bias).float(), targets, ignore_index=-100)``
    for ``h`` (..., H) and ``targets`` (...), fused on the CPU (see the module
    docstring). On other devices the unfused form: cuDNN/cuBLAS and CUDA's fused
    softmax kernels are already what this does by hand."""
    h2, y = h.reshape(-1, h.size(-1)), targets.reshape(-1)
    if h.device.type != "cpu":
        z = torch.nn.functional.linear(h2, weight, bias)
        return torch.nn.functional.cross_entropy(z.float(), y, ignore_index=IGNORE_INDEX)
    dtype = (torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu")
             else torch.float32 if weight.dtype in (torch.bfloat16, torch.float16) else weight.dtype)
    with torch.autocast("cpu", enabled=False):  # the dtype is explicit inside
        return LinearCrossEntropyFn.apply(h2, weight, bias, y, dtype, chunk)
