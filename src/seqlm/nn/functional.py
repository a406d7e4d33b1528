"""Whole-layer autograd Functions with hand-written backward passes.

The micrograd idea applied for speed: instead of letting autograd record ~10
nodes per time step, each layer is one node whose backward is the BPTT of the
NumPy reference (``seqlm.reference``), written in torch. Besides removing the
per-step bookkeeping, the backward does every weight gradient as ONE GEMM over
all T·B rows after the time loop, and precomputes every factor that does not
depend on the incoming gradient (σ', tanh', ...) as whole-segment tensors, so
the sequential loop does only the few ops that must be sequential.

Layouts as in ``seqlm.nn.cells``: time-major x (T, B, I), stacked W_xh (G·H, I),
W_hh (G·H, H), b (G·H,). Double backward is not supported (use
``autograd=True`` on the layer for that).
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


def _hprev(h0: Tensor, y: Tensor) -> Tensor:
    """[h_0, h_1, ..., h_{T-1}] as (T·B, H)."""
    return torch.cat([h0.unsqueeze(0), y[:-1]]).reshape(-1, h0.shape[-1])


def _weight_grad(da2: Tensor, inp: Tensor) -> Tensor:
    """Σ_t da_tᵀ inp_t = da2ᵀ inp as ONE GEMM over all T·B rows. Computed as
    (inpᵀ da2)ᵀ: the same numbers, but MKL runs this operand order markedly
    faster for these tall-skinny shapes (benchmarks/cells.py)."""
    return (inp.t() @ da2).t()


def _tcontig(W: Tensor) -> Tensor:
    """Wᵀ stored contiguously. The backward's per-step product (B, G·H) @ W is
    then an "NT" GEMM like the forward's; MKL runs that about 1.4× faster
    for small B at H = 650 (it need not repack W at every step)."""
    return W.t().contiguous()


def _input_grads(ctx, da2: Tensor, x: Tensor, W_xh: Tensor) -> tuple[Tensor | None, Tensor | None]:
    """∂L/∂x and ∂L/∂W_xh from the pre-activation gradients da2 (T·B, G·H)."""
    T, B, I = x.shape
    dx = (da2 @ W_xh).view(T, B, I) if ctx.needs_input_grad[0] else None
    dW_xh = _weight_grad(da2, x.reshape(T * B, I)) if ctx.needs_input_grad[2 if ctx.n_state == 1 else 3] else None
    return dx, dW_xh


class RNNLayerFn(torch.autograd.Function):
    """h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h) (5.1) over a segment, and its BPTT (5.3)."""

    @staticmethod
    def forward(ctx, x: Tensor, h0: Tensor, W_xh: Tensor, W_hh: Tensor, b: Tensor):
        T, B, I = x.shape
        y = torch.addmm(b, x.reshape(T * B, I), W_xh.t()).view(T, B, -1)  # x-parts, one GEMM
        W_hhT, h = W_hh.t(), h0
        for t in range(T):
            y[t].addmm_(h, W_hhT).tanh_()                                  # (5.1)
            h = y[t]
        ctx.n_state = 1
        ctx.save_for_backward(x, h0, W_xh, W_hh, y)
        return y, y[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dy: Tensor, dh_T: Tensor):
        x, h0, W_xh, W_hh, y = ctx.saved_tensors
        T = x.shape[0]
        K = 1 - y * y                                                     # tanh'(a_t), all t
        da = torch.empty_like(y)
        W_hhT = _tcontig(W_hh)
        g = dy[T - 1] + dh_T                                              # total ∂L/∂h_T
        for t in range(T - 1, -1, -1):
            torch.mul(g, K[t], out=da[t])
            if t > 0:
                torch.addmm(dy[t - 1], da[t], W_hhT.t(), out=g)            # (5.3)
        g = da[0] @ W_hhT.t()
        da2 = da.view(T * x.shape[1], -1)
        dx, dW_xh = _input_grads(ctx, da2, x, W_xh)
        dW_hh = _weight_grad(da2, _hprev(h0, y)) if ctx.needs_input_grad[3] else None
        return dx, g, dW_xh, dW_hh, da2.sum(0)


class LSTMLayerFn(torch.autograd.Function):
    """LSTM (5.4)-(5.8) over a segment; gate blocks f, i, o, c."""

    @staticmethod
    def forward(ctx, x: Tensor, h0: Tensor, c0: Tensor, W_xh: Tensor, W_hh: Tensor, b: Tensor):
        T, B, I = x.shape
        H = W_hh.shape[1]
        G = torch.addmm(b, x.reshape(T * B, I), W_xh.t()).view(T, B, 4 * H)  # becomes the gates
        y = x.new_empty(T, B, H)
        c = x.new_empty(T + 1, B, H)
        tanh_c = x.new_empty(T, B, H)
        c[0] = c0
        W_hhT, h = W_hh.t(), h0
        for t in range(T):
            g = G[t]
            g.addmm_(h, W_hhT)
            g[:, :3 * H].sigmoid_()                                       # f, i, o (5.4, 5.5, 5.8)
            g[:, 3 * H:].tanh_()                                          # c̃ (5.6)
            torch.mul(g[:, :H], c[t], out=c[t + 1]).addcmul_(g[:, H:2 * H], g[:, 3 * H:])  # (5.7)
            torch.tanh(c[t + 1], out=tanh_c[t])
            torch.mul(g[:, 2 * H:3 * H], tanh_c[t], out=y[t])             # (5.8)
            h = y[t]
        ctx.n_state = 2
        ctx.save_for_backward(x, h0, W_xh, W_hh, y)
        ctx.G, ctx.c, ctx.tanh_c = G, c, tanh_c
        return y, y[-1].clone(), c[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dy: Tensor, dh_T: Tensor, dc_T: Tensor):
        x, h0, W_xh, W_hh, y = ctx.saved_tensors
        G, c, tanh_c = ctx.G, ctx.c, ctx.tanh_c
        T, B, _ = x.shape
        H = W_hh.shape[1]
        f, i, o, ct = G[..., :H], G[..., H:2 * H], G[..., 2 * H:3 * H], G[..., 3 * H:]
        dsig = G[..., :3 * H] * (1 - G[..., :3 * H])                      # σ' of f, i, o
        # P[t]: ∂(pre-activation)/∂c_t for f, i, c̃ and ∂/∂h_t for o, all t at once
        P = torch.empty_like(G)
        torch.mul(dsig[..., :H], c[:-1], out=P[..., :H])                  # (5.7): c_{t-1} σ'(f)
        torch.mul(dsig[..., H:2 * H], ct, out=P[..., H:2 * H])            # (5.7): c̃_t σ'(i)
        torch.mul(dsig[..., 2 * H:], tanh_c, out=P[..., 2 * H:3 * H])     # (5.8): tanh(c_t) σ'(o)
        torch.mul(i, 1 - ct * ct, out=P[..., 3 * H:])                     # (5.7): i_t tanh'(c̃)
        K = o * (1 - tanh_c * tanh_c)                                     # ∂h_t/∂c_t (5.8)
        da = torch.empty_like(G)
        W_hhT = _tcontig(W_hh)
        gh = dy[T - 1] + dh_T                                             # total ∂L/∂h_t
        gc = dc_T.clone(memory_format=torch.contiguous_format)            # running ∂L/∂c_t
        for t in range(T - 1, -1, -1):
            gc.addcmul_(gh, K[t])                                         # total ∂L/∂c_t
            torch.mul(P[t].view(B, 4, H), gc.unsqueeze(1), out=da[t].view(B, 4, H))
            torch.mul(P[t, :, 2 * H:3 * H], gh, out=da[t, :, 2 * H:3 * H])  # the o-gate sees h, not c
            gc.mul_(f[t])                                                 # (5.7): ∂c_t/∂c_{t-1} = f_t
            if t > 0:
                torch.addmm(dy[t - 1], da[t], W_hhT.t(), out=gh)
        gh = da[0] @ W_hhT.t()
        da2 = da.view(T * B, 4 * H)
        dx, dW_xh = _input_grads(ctx, da2, x, W_xh)
        dW_hh = _weight_grad(da2, _hprev(h0, y)) if ctx.needs_input_grad[4] else None
        return dx, gh, gc, dW_xh, dW_hh, da2.sum(0)


class GRUChoLayerFn(torch.autograd.Function):
    """GRU, the book's eqs. (5.9)-(5.11); gate blocks z, r, h."""

    @staticmethod
    def forward(ctx, x: Tensor, h0: Tensor, W_xh: Tensor, W_hh: Tensor, b: Tensor):
        T, B, I = x.shape
        H = W_hh.shape[1]
        A = torch.addmm(b, x.reshape(T * B, I), W_xh.t()).view(T, B, 3 * H)  # becomes [z, r, h̃]
        rh = x.new_empty(T, B, H)
        y = x.new_empty(T, B, H)
        W_zrT, W_cT, h = W_hh[:2 * H].t(), W_hh[2 * H:].t(), h0
        for t in range(T):
            zr = A[t, :, :2 * H].addmm_(h, W_zrT).sigmoid_()              # (5.9), (5.10)
            torch.mul(zr[:, H:], h, out=rh[t])                            # r_t ⊙ h_{t-1}
            hc = A[t, :, 2 * H:].addmm_(rh[t], W_cT).tanh_()              # candidate
            torch.sub(hc, h, out=y[t]).mul_(zr[:, :H]).add_(h)            # (5.11)
            h = y[t]
        ctx.n_state = 1
        ctx.save_for_backward(x, h0, W_xh, W_hh, y)
        ctx.A, ctx.rh = A, rh
        return y, y[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dy: Tensor, dh_T: Tensor):
        x, h0, W_xh, W_hh, y = ctx.saved_tensors
        A, rh = ctx.A, ctx.rh
        T, B, _ = x.shape
        H = W_hh.shape[1]
        z, r, hc = A[..., :H], A[..., H:2 * H], A[..., 2 * H:]
        hprev = _hprev(h0, y).view(T, B, H)
        Kc = z * (1 - hc * hc)                                            # ∂h_t/∂(cand. pre-act.) (5.11)
        Kz = (hc - hprev) * z * (1 - z)                                   # ∂h_t/∂(z pre-act.) (5.9)
        Kr = hprev * r * (1 - r)                                          # ∂(r⊙h)/∂(r pre-act.) (5.10)
        one_minus_z = 1 - z
        W_zrT, W_cT = _tcontig(W_hh[:2 * H]), _tcontig(W_hh[2 * H:])
        da = torch.empty_like(A)
        gh = dy[T - 1] + dh_T
        for t in range(T - 1, -1, -1):
            d = da[t]
            torch.mul(gh, Kc[t], out=d[:, 2 * H:])
            drh = d[:, 2 * H:] @ W_cT.t()                                 # ∂L/∂(r_t ⊙ h_{t-1})
            torch.mul(gh, Kz[t], out=d[:, :H])
            torch.mul(drh, Kr[t], out=d[:, H:2 * H])
            nxt = (gh * one_minus_z[t]).addcmul_(drh, r[t]).addmm_(d[:, :2 * H], W_zrT.t())
            gh = nxt.add_(dy[t - 1]) if t > 0 else nxt
        da2 = da.view(T * B, 3 * H)
        dx, dW_xh = _input_grads(ctx, da2, x, W_xh)
        dW_hh = None
        if ctx.needs_input_grad[3]:
            dW_hh = torch.cat([_weight_grad(da2[:, :2 * H], hprev.view(T * B, H)),
                              _weight_grad(da2[:, 2 * H:], rh.view(T * B, H))])
        return dx, gh, dW_xh, dW_hh, da2.sum(0)


class GRUResetAfterLayerFn(torch.autograd.Function):
    """GRU, PyTorch/cuDNN form: n = tanh(W_xn x + b_xn + r⊙(W_hn h + b_hn)), h = (1-z)⊙n + z⊙h."""

    @staticmethod
    def forward(ctx, x: Tensor, h0: Tensor, W_xh: Tensor, W_hh: Tensor, b: Tensor, b_hn: Tensor):
        T, B, I = x.shape
        H = W_hh.shape[1]
        A = torch.addmm(b, x.reshape(T * B, I), W_xh.t()).view(T, B, 3 * H)  # becomes [z, r, n]
        HW = x.new_empty(T, B, 3 * H)                                     # W_hh h_{t-1} + [0, 0, b_hn]
        bh = torch.cat([b_hn.new_zeros(2 * H), b_hn])
        y = x.new_empty(T, B, H)
        W_hhT, h = W_hh.t(), h0
        for t in range(T):
            torch.addmm(bh, h, W_hhT, out=HW[t])
            zr = A[t, :, :2 * H].add_(HW[t, :, :2 * H]).sigmoid_()        # (5.9), (5.10)
            n = A[t, :, 2 * H:].addcmul_(zr[:, H:], HW[t, :, 2 * H:]).tanh_()  # (5.11', candidate)
            torch.sub(h, n, out=y[t]).mul_(zr[:, :H]).add_(n)             # (5.11', update)
            h = y[t]
        ctx.save_for_backward(x, h0, W_xh, W_hh, y)
        ctx.A, ctx.HW = A, HW
        return y, y[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dy: Tensor, dh_T: Tensor):
        x, h0, W_xh, W_hh, y = ctx.saved_tensors
        A, HW = ctx.A, ctx.HW
        T, B, I = x.shape
        H = W_hh.shape[1]
        z, r, n = A[..., :H], A[..., H:2 * H], A[..., 2 * H:]
        hn = HW[..., 2 * H:]
        hprev = _hprev(h0, y).view(T, B, H)
        Kn = (1 - z) * (1 - n * n)                                        # ∂h_t/∂(n pre-act.) (5.11')
        Kz = (hprev - n) * z * (1 - z)                                    # ∂h_t/∂(z pre-act.) (5.9)
        Kr = hn * r * (1 - r)                                             # ∂(n pre-act.)/∂(r pre-act.) (5.10)
        D = x.new_empty(T, B, 4 * H)                                      # [da_z, da_r, d(W_hn h + b_hn), da_n]
        W_hhT = _tcontig(W_hh)
        gh = dy[T - 1] + dh_T
        for t in range(T - 1, -1, -1):
            d = D[t]
            torch.mul(gh, Kn[t], out=d[:, 3 * H:])
            torch.mul(gh, Kz[t], out=d[:, :H])
            torch.mul(d[:, 3 * H:], Kr[t], out=d[:, H:2 * H])
            torch.mul(d[:, 3 * H:], r[t], out=d[:, 2 * H:3 * H])
            nxt = (gh * z[t]).addmm_(d[:, :3 * H], W_hhT.t())
            gh = nxt.add_(dy[t - 1]) if t > 0 else nxt
        D2 = D.view(T * B, 4 * H)
        Dzr, Dn = D2[:, :2 * H], D2[:, 3 * H:]
        dx = dW_xh = dW_hh = None
        if ctx.needs_input_grad[0]:
            dx = torch.addmm(Dn @ W_xh[2 * H:], Dzr, W_xh[:2 * H]).view(T, B, I)
        if ctx.needs_input_grad[2]:
            x2 = x.reshape(T * B, I)
            dW_xh = torch.cat([_weight_grad(Dzr, x2), _weight_grad(Dn, x2)])
        if ctx.needs_input_grad[3]:
            dW_hh = _weight_grad(D2[:, :3 * H], hprev.view(T * B, H))
        db = torch.cat([Dzr.sum(0), Dn.sum(0)])
        return dx, gh, dW_xh, dW_hh, db, D2[:, 2 * H:3 * H].sum(0)
