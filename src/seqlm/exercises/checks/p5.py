"""P5: the book's GRU cell (5.9)–(5.11) in PyTorch, and LSTM vs GRU on the adding problem."""
from __future__ import annotations

import numpy as np
import torch

from seqlm.analysis.tasks import ADDING_MEAN_MSE, adding_batch
from seqlm.exercises.grading.cases import Case, Fail, Mistake, Tol, compare
from seqlm.reference import GRU

TOL = Tol(1e-10, 1e-8)
T_TASK, STEPS = {"gru": 20, "lstm": 20}, {"gru": 200, "lstm": 500}
LEARNED = 0.05  # test MSE below this: learned (predicting the mean gives 1/6)
CELL, GRAD = "GRU cell, a batch", "GRU cell, gradients by autograd"

H_GRU = ("eqs. (5.9)–(5.11): z_t and r_t from W_·[h_{t-1}, x_t] + b_·, the candidate from "
         "[r_t ⊙ h_{t-1}, x_t], then the update")
H_Z = ("eq. (5.11): z_t weights the candidate and (1 − z_t) the old state h_{t-1} — the book's "
       "convention, the opposite of PyTorch's nn.GRU")
H_RESET = ("eq. (5.11): r_t multiplies h_{t-1} before W_h (the candidate reads [r_t ⊙ h_{t-1}, x_t]); "
           "your candidate resets after the matrix product, as PyTorch/cuDNN do")
H_TORCH_GRU = ("eq. (5.11): your cell is PyTorch's GRU (reset after the product, z weighting the old "
               "state), not the book's")
H_RZ = ("eqs. (5.9)–(5.10): the update gate z_t mixes old state and candidate; the reset gate r_t "
        "scales h_{t-1} inside the candidate")
H_CONCAT = "eqs. (5.9)–(5.11): W_· acts on [h_{t-1}, x_t], h first — its first H columns multiply h_{t-1}"
H_PARAMS = "keep the parameter names of eqs. (5.9)–(5.11): W_z, W_r, W_h (H, H + I) and b_z, b_r, b_h (H,)"
H_GRAD = ("the gradients come from autograd: keep every operation of the forward in torch, on the "
          "parameters themselves (no .detach(), .data, .numpy() or .item())")
H_MODEL = "AddingModel(cell) maps x (T, B, 2) to (B, 1): unroll the cell over all T steps, read out h_T"
H_TRAIN = ("training (Sec. 5.4.3): Adam with lr about 1e-2, a fresh adding_batch every step, gradients "
           "zeroed every step, clipping at 1, the read-out of h_T")


def _cell(ctx, I, H, params):
    cls = ctx.fn("GRUCell")
    cell = cls(I, H).double()
    named = dict(cell.named_parameters())
    for k, v in params.items():
        if k not in named:
            raise Fail(f"GRUCell has no parameter {k} (it has {sorted(named)})", H_PARAMS)
        if tuple(named[k].shape) != v.shape:
            raise Fail(f"GRUCell.{k} has shape {tuple(named[k].shape)}, expected {v.shape}", H_PARAMS)
        with torch.no_grad():
            named[k].copy_(torch.from_numpy(v))
    return cell, named


def _variants(ref):
    p, H, I = ref.params, ref.hidden_size, ref.input_size
    after = {"W_z": -p["W_z"], "b_z": -p["b_z"], "W_r": p["W_r"], "b_r": p["b_r"],
             "W_xn": p["W_h"][:, H:], "W_hn": p["W_h"][:, :H], "b_xn": p["b_h"], "b_hn": 0 * p["b_h"]}
    out = [(GRU({**p, "W_z": -p["W_z"], "b_z": -p["b_z"]}), H_Z),
           (GRU(after, "reset_after"), H_RESET),
           (GRU({**after, "W_z": p["W_z"], "b_z": p["b_z"]}, "reset_after"), H_TORCH_GRU),
           (GRU({**p, "W_z": p["W_r"], "b_z": p["b_r"], "W_r": p["W_z"], "b_r": p["b_z"]}), H_RZ)]
    if I != H:  # [x_t, h_{t-1}] in every gate, or in z and r only
        roll = {k: np.concatenate([v[:, I:], v[:, :I]], 1) for k, v in p.items() if k[0] == "W"}
        out += [(GRU({**p, **roll}), H_CONCAT),
                (GRU({**p, "W_z": roll["W_z"], "W_r": roll["W_r"]}), H_CONCAT)]
    return out


def _problem(rng, B=None, I=None, H=None):
    B, I, H = (v or int(rng.integers(lo, hi)) for v, lo, hi in ((B, 2, 5), (I, 1, 5), (H, 2, 6)))
    ref = GRU.init(I, H, rng, scale=0.8, variant="cho")
    return ref, rng.normal(size=(B, I)), rng.normal(0, 0.6, (B, H))


def _forward_case(B=None, I=None, H=None):
    def run(ctx):
        ref, x, h = _problem(ctx.rng, B, I, H)
        cell, _ = _cell(ctx, ref.input_size, ref.hidden_size, ref.params)
        with torch.no_grad():
            got = cell(torch.from_numpy(x), torch.from_numpy(h))
        want = ref.forward(x[None], h)[0][0]
        mistakes = [Mistake(lambda m=m: m.forward(x[None], h)[0][0], hint) for m, hint in _variants(ref)]
        err = compare(got, want, "h_t", TOL, H_GRU, mistakes)
        return f"B={x.shape[0]}, I={ref.input_size}, H={ref.hidden_size}: h_t matches eq. (5.11): max |Δ| = {err:.2g}"
    return run


def _gradient_case(ctx):
    ref, x, h = _problem(ctx.rng)
    cell, named = _cell(ctx, ref.input_size, ref.hidden_size, ref.params)
    xt, ht = torch.from_numpy(x).requires_grad_(), torch.from_numpy(h).requires_grad_()
    g = ctx.rng.normal(size=h.shape)
    out = cell(xt, ht)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise Fail("the cell's output does not depend on its parameters through autograd", H_GRAD)
    (out * torch.from_numpy(g)).sum().backward()
    _, cache = ref.forward(x[None], h)
    want = ref.backward(g[None], cache)
    errs = []
    for k in ref.param_names:
        grad = named[k].grad
        if grad is None:
            raise Fail(f"∂L/∂{k} is None: autograd did not reach the parameter", H_GRAD)
        errs.append(compare(grad, want[k], f"∂L/∂{k}", TOL, H_GRAD))
    errs.append(compare(xt.grad, want.dxs[0], "∂L/∂x_t", TOL, H_GRAD))
    errs.append(compare(ht.grad, want.dh0, "∂L/∂h_{t-1}", TOL, H_GRAD))
    return f"every parameter gradient and ∂L/∂x_t, ∂L/∂h_(t-1) match the reference BPTT: max |Δ| = {max(errs):.2g}"


def _model_case(ctx):
    gen = torch.Generator().manual_seed(ctx.seed)
    cls, cell_cls = ctx.fn("AddingModel"), ctx.fn("GRUCell")
    for cell in ("gru", "lstm"):
        model = cls(cell)
        if cell == "gru" and not any(isinstance(m, cell_cls) for m in model.modules()):
            raise Fail("AddingModel('gru') does not contain your GRUCell", H_MODEL)
        for T, B in ((2, 1), (7, 5)):
            x, _ = adding_batch(T, B, gen)
            with torch.no_grad():
                y = model(x)
            if not isinstance(y, torch.Tensor) or tuple(y.shape) != (B, 1):
                shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
                raise Fail(f"AddingModel('{cell}') maps x of shape {(T, B, 2)} to {shape}, expected {(B, 1)}",
                           H_MODEL)
            if not torch.isfinite(y).all():
                raise Fail(f"AddingModel('{cell}') output is not finite for T={T}, B={B}", H_MODEL)
    return "AddingModel('gru') and ('lstm') map (T, B, 2) to (B, 1) for T = 2, B = 1 and T = 7, B = 5"


def _training_case(cell):
    def run(ctx):
        T, steps = T_TASK[cell], STEPS[cell]
        model = ctx.fn("train_adding")(cell, T, steps, ctx.seed)
        if not isinstance(model, torch.nn.Module):
            raise Fail(f"train_adding returned a {type(model).__name__}, expected the trained AddingModel", H_TRAIN)
        x, y = adding_batch(T, 1000, torch.Generator().manual_seed(10_000 + T))
        with torch.no_grad():
            mse = float(torch.nn.functional.mse_loss(model(x).double().reshape(-1, 1), y.double()))
        text = f"{cell.upper()}, T={T}, {steps} steps: test MSE {mse:.4f} (learned: < {LEARNED}; the mean predictor: {ADDING_MEAN_MSE:.3f})"
        if not mse < LEARNED:
            raise Fail(text, H_TRAIN)
        return text
    return run


CASES = [
    Case("GRU cell, B = 1, I = 1, H = 1", _forward_case(1, 1, 1), H_GRU, str(TOL)),
    Case(CELL, _forward_case(), H_GRU, str(TOL)),
    Case(GRAD, _gradient_case, H_GRAD, str(TOL), (CELL,)),
    Case("AddingModel shapes", _model_case, H_MODEL),
    Case("LSTM learns the adding problem", _training_case("lstm"), H_TRAIN, f"test MSE < {LEARNED}",
         ("AddingModel shapes",), seconds=90),
    Case("GRU learns the adding problem", _training_case("gru"), H_TRAIN, f"test MSE < {LEARNED}",
         (CELL, GRAD, "AddingModel shapes"), seconds=90),
]
