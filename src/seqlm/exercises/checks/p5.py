"""P5: the book's GRU cell (5.9)–(5.11) in PyTorch, and LSTM vs GRU on the adding problem.

The learner's process builds and trains the models; it sends back outputs and trained
parameters. The test MSE is measured here, on a test set the learner's process never
sees, with a model rebuilt from those parameters (seqlm's reference GRU, torch's LSTM):
a patched loss or metric in the learner's process changes nothing.
"""
from __future__ import annotations

import numpy as np
import torch

from seqlm.analysis.tasks import ADDING_MEAN_MSE, adding_batch
from seqlm.exercises.grading.cases import Case, Fail, Mistake, Tol, compare, compare_all
from seqlm.reference import GRU

TOL = Tol(1e-10, 1e-8)
TOL_MODEL = Tol(1e-4, 1e-3)  # the learner's float32 model against its float64 rebuild
T_TASK, STEPS = {"gru": 20, "lstm": 20}, {"gru": 200, "lstm": 700}
LEARNED = 0.05  # test MSE below this: learned (predicting the mean gives 1/6)
CELL, GRAD, MODEL = "GRU cell, a batch", "GRU cell, gradients by autograd", "AddingModel: h_T from h_0 = 0"
HELPERS = ("seqlm.analysis.tasks", "seqlm.errors")  # what the starter imports, there while grading

EQ_GRU = "eqs. (5.9)–(5.11): z_t and r_t from W_·[h_{t-1}, x_t] + b_·, the candidate from [r_t ⊙ h_{t-1}, x_t]"
EQ_GRAD = "the derivatives of ⟨g, h_t⟩ through eqs. (5.9)–(5.11), by autograd"
EQ_MODEL = "AddingModel: h_0 = 0, your GRUCell over all T steps, a linear read-out of h_T"
EQ_TRAIN = "training on the adding problem (Sec. 5.4.3)"
H_Z = ("eq. (5.11): your h_t is what z_t weighting the old state gives (PyTorch's nn.GRU convention), "
       "where the book's z_t weights the candidate")
H_RESET = ("eq. (5.11): your h_t is what resetting after the matrix product gives (as PyTorch/cuDNN do), "
           "where r_t multiplies h_{t-1} before W_h")
H_TORCH_GRU = "eq. (5.11): your h_t is what PyTorch's GRU gives (reset after the product, z weighting the old state)"
H_RZ = "eqs. (5.9)–(5.10): your h_t is what the update and reset gates in each other's places give"
H_CONCAT = ("eqs. (5.9)–(5.11): your h_t is what [x_t, h_{t-1}] gives — W_· acts on [h_{t-1}, x_t], its first "
            "H columns multiply h_{t-1}")
H_RESET_X = "eq. (5.11): your h_t is what resetting x_t gives, where r_t multiplies h_{t-1} inside the candidate"
H_NO_TANH = "eq. (5.11): your h_t is what a candidate without its tanh gives"
H_Z_FROM_R = "eq. (5.9): your h_t is what computing z_t with W_r and b_r gives — z_t has its own W_z, b_z"
H_PARAMS = "the parameters of eqs. (5.9)–(5.11) by the starter's names: W_z, W_r, W_h (H, H + I) and b_z, b_r, b_h (H,)"
H_CUT = ("autograd: the graph from these to h_t is cut — something in the forward leaves torch "
         "(a .detach(), .data, .numpy() or .item())")
H_MEAN = "AddingModel: your output is what reading out the mean of h_t over time gives, where it reads out h_T"
H_NOT_CELL = "AddingModel('gru') is built on your GRUCell (the starter's docstring)"


def _problem(rng, B=None, I=None, H=None):
    B, I, H = (v or int(rng.integers(lo, hi)) for v, lo, hi in ((B, 2, 5), (I, 1, 5), (H, 2, 6)))
    ref = GRU.init(I, H, rng, scale=0.8, variant="cho")
    return ref, rng.normal(size=(B, I)), rng.normal(0, 0.6, (B, H))


def _mutant(p, x, h, *, z="z", r="r", reset="h", tanh=True, concat="hx"):
    """One step of eqs. (5.9)–(5.11) as a misconception computes it."""
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    hx = np.concatenate([h, x] if concat == "hx" else [x, h], 1)
    zt, rt = sig(hx @ p[f"W_{z}"].T + p[f"b_{z}"]), sig(hx @ p[f"W_{r}"].T + p[f"b_{r}"])
    inner = np.concatenate([rt * h, x] if reset == "h" else [h, rt * x] if concat == "hx" else [rt * x, h], 1)
    a = inner @ p["W_h"].T + p["b_h"]
    cand = np.tanh(a) if tanh else a
    return (1 - zt) * h + zt * cand


def _variants(ref, x, h):
    p, H, I = ref.params, ref.hidden_size, ref.input_size
    after = {"W_z": -p["W_z"], "b_z": -p["b_z"], "W_r": p["W_r"], "b_r": p["b_r"],
             "W_xn": p["W_h"][:, H:], "W_hn": p["W_h"][:, :H], "b_xn": p["b_h"], "b_hn": 0 * p["b_h"]}
    one = lambda g: g.forward(x[None], h)[0][0]  # noqa: E731
    m = lambda hint, **kw: Mistake(lambda: _mutant(p, x, h, **kw), hint)  # noqa: E731
    out = [Mistake(lambda: one(GRU({**p, "W_z": -p["W_z"], "b_z": -p["b_z"]})), H_Z),
           Mistake(lambda: one(GRU(after, "reset_after")), H_RESET),
           Mistake(lambda: one(GRU({**after, "W_z": p["W_z"], "b_z": p["b_z"]}, "reset_after")), H_TORCH_GRU),
           m(H_RZ, z="r", r="z"), m(H_NO_TANH, tanh=False), m(H_Z_FROM_R, z="r")]
    if I == H:
        out.append(m(H_RESET_X, reset="x"))
    else:
        out.append(m(H_CONCAT, concat="xh"))
    return out


def _sent_params(ref) -> dict:
    return {k: ref.params[k] for k in ref.param_names}


def _check_parameters(answer: dict) -> None:
    if "parameters" in answer:
        raise Fail(f"GRUCell's parameters are {answer['parameters']}; the grader sets W_z, W_r, W_h, b_z, b_r, b_h",
                   H_PARAMS)


def _forward_case(B=None, I=None, H=None):
    def run(ctx):
        ref, x, h = _problem(ctx.rng, B, I, H)
        want = ref.forward(x[None], h)[0][0]
        answer = ctx.call("gru_cell", I=ref.input_size, H=ref.hidden_size, params=_sent_params(ref), x=x, h=h)
        _check_parameters(answer)
        err = compare(answer["h_t"], want, "h_t", TOL, EQ_GRU, _variants(ref, x, h))
        return f"B={x.shape[0]}, I={ref.input_size}, H={ref.hidden_size}: h_t matches eq. (5.11): max |Δ| = {err:.2g}"
    return run


def _gradient_case(ctx):
    ref, x, h = _problem(ctx.rng)
    g = ctx.rng.normal(size=h.shape)
    _, cache = ref.forward(x[None], h)
    back = ref.backward(g[None], cache)
    want = {**{f"∂L/∂{k}": back[k] for k in ref.param_names}, "∂L/∂x_t": back.dxs[0], "∂L/∂h_{t-1}": back.dh0}
    answer = ctx.call("gru_cell", I=ref.input_size, H=ref.hidden_size, params=_sent_params(ref), x=x, h=h, g=g)
    _check_parameters(answer)
    if not answer.get("graph"):
        raise Fail("h_t does not depend on the parameters through autograd (it has no grad_fn)", H_CUT)
    got = {**{f"∂L/∂{k}": answer[f"d{k}"] for k in ref.param_names}, "∂L/∂x_t": answer["x_t"],
           "∂L/∂h_{t-1}": answer["h_prev"]}
    cut = [k for k, v in got.items() if v is None]
    if cut:
        reached = [k for k in got if k not in cut]
        raise Fail(f"autograd reached {', '.join(reached) or 'nothing'} but not {', '.join(cut)}", H_CUT)
    err = compare_all(got, want, TOL, EQ_GRAD)
    return f"every parameter gradient and ∂L/∂x_t, ∂L/∂h_(t-1) match the reference BPTT: max |Δ| = {err:.2g}"


# ---------------------------------------------------------------------------- models

def _readout(params: dict, used: set, H: int, what: str):
    rest = {k: v for k, v in params.items() if k not in used}
    W = [k for k, v in rest.items() if np.shape(v) == (1, H)]
    b = [k for k, v in rest.items() if np.shape(v) == (1,)]
    if len(W) != 1 or len(b) > 1 or len(rest) != len(W) + len(b):
        shapes = {k: list(np.shape(v)) for k, v in rest.items()}
        raise Fail(f"{what}: besides the cell, the parameters are {shapes}; expected one linear read-out "
                   f"({H} → 1)", "the starter's docstring: the cell, then a linear read-out of h_T")
    return np.asarray(rest[W[0]]), (np.asarray(rest[b[0]]) if b else np.zeros(1))


def _cell_params(params: dict, names, what: str) -> tuple[str, dict]:
    for k in params:
        for n in names:
            if k == n or k.endswith("." + n):
                prefix = k[: len(k) - len(n)]
                found = {m: params.get(prefix + m) for m in names}
                if all(v is not None for v in found.values()):
                    return prefix, found
    raise Fail(f"{what}: no parameters named {', '.join(names)} (it has {sorted(params)})", H_PARAMS)


def rebuild(cell: str, params: dict):
    """The learner's trained AddingModel rebuilt here from its parameters: x (T, B, 2)
    float → ((B, 1) output, its h over time (T, B, H))."""
    what = f"AddingModel('{cell}')"
    if cell == "gru":
        prefix, p = _cell_params(params, ("W_z", "W_r", "W_h", "b_z", "b_r", "b_h"), what)
        H = np.shape(p["b_z"])[0]
        W, b = _readout(params, {prefix + k for k in p}, H, what)
        ref = GRU({k: np.asarray(v, dtype=np.float64) for k, v in p.items()}, "cho")

        def run(x):
            hs, _ = ref.forward(np.asarray(x, dtype=np.float64), np.zeros((x.shape[1], H)))
            return hs[-1] @ W.T + b, hs
        return run
    for suffix in ("_l0", ""):
        names = [f"weight_ih{suffix}", f"weight_hh{suffix}"]
        try:
            prefix, p = _cell_params(params, names, what)
        except Fail:
            continue
        H = np.shape(p[names[1]])[1]
        biases = {k: params.get(prefix + f"{k}{suffix}") for k in ("bias_ih", "bias_hh")}
        used = {prefix + n for n in names} | {prefix + f"{k}{suffix}" for k, v in biases.items() if v is not None}
        W, b = _readout(params, used, H, what)
        lstm = torch.nn.LSTM(np.shape(p[names[0]])[1], H).double()
        with torch.no_grad():
            lstm.weight_ih_l0.copy_(torch.from_numpy(np.asarray(p[names[0]], dtype=np.float64)))
            lstm.weight_hh_l0.copy_(torch.from_numpy(np.asarray(p[names[1]], dtype=np.float64)))
            for k, v in biases.items():
                getattr(lstm, f"{k}_l0").copy_(torch.from_numpy(np.asarray(v, dtype=np.float64))
                                               if v is not None else torch.zeros(4 * H))

        def run(x):
            with torch.no_grad():
                hs = lstm(torch.from_numpy(np.asarray(x, dtype=np.float64)))[0].numpy()
            return hs[-1] @ W.T + b, hs
        return run
    raise Fail(f"{what}: no torch.nn.LSTM parameters (weight_ih_l0, weight_hh_l0; it has {sorted(params)})",
               "the starter's docstring: cell = \"lstm\" is torch.nn.LSTM")


def _spec(answer: dict, cell: str, x: np.ndarray, what: str):
    """The model the learner's process built, rebuilt here; its output on ``x`` checked."""
    if answer.get("type") != "Module":
        raise Fail(f"{what} returned a {answer.get('type')}, expected the AddingModel (a torch.nn.Module)",
                   "the starter's docstring says what each function returns")
    if cell == "gru" and not answer["uses_cell"]:
        raise Fail(f"AddingModel('gru') holds no instance of your GRUCell (modules: {answer['modules']})", H_NOT_CELL)
    model = rebuild(cell, answer["parameters"])
    want, hs = model(x)
    params = answer["parameters"]
    mistakes = []
    if cell == "gru":
        prefix, _ = _cell_params(params, ("W_z", "W_r", "W_h", "b_z", "b_r", "b_h"), what)
        W, b = _readout(params, {prefix + k for k in ("W_z", "W_r", "W_h", "b_z", "b_r", "b_h")},
                        hs.shape[-1], what)
        mistakes.append(Mistake(lambda: hs.mean(0) @ W.T + b, H_MEAN))
    compare(answer["y"], want, f"{what}(x)", TOL_MODEL, EQ_MODEL if cell == "gru" else EQ_TRAIN, mistakes)
    return model


def _model_case(ctx):
    x, _ = adding_batch(7, 5, torch.Generator().manual_seed(ctx.seed * 7919 + 1))
    for cell in ("gru", "lstm"):
        answer = ctx.call("adding_model", cell=cell, x=x.numpy(), seed=ctx.seed)
        y = answer.get("y")
        if not isinstance(y, torch.Tensor) or tuple(y.shape) != (5, 1):
            shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise Fail(f"AddingModel('{cell}') maps x of shape (7, 5, 2) to {shape}, expected (5, 1)",
                       "the starter's docstring: forward maps x (T, B, 2) to (B, 1)")
        _spec(answer, cell, x.numpy(), f"AddingModel('{cell}')")
    return "AddingModel('gru') reads out h_T of your GRUCell from h_0 = 0; AddingModel('lstm') is nn.LSTM + read-out"


def _training_case(cell):
    def run(ctx):
        T, steps = T_TASK[cell], STEPS[cell]
        probe, _ = adding_batch(T, 8, torch.Generator().manual_seed(ctx.seed * 7919 + 2))
        x, y = adding_batch(T, 1000, torch.Generator().manual_seed(ctx.seed * 7919 + 3))  # never sent
        answer = ctx.call("adding_train", cell=cell, T=T, steps=steps, seed=ctx.seed, x=probe.numpy())
        model = _spec(answer, cell, probe.numpy(), f"train_adding('{cell}', ...)")
        mse = float(np.mean((model(x.numpy())[0] - y.numpy()) ** 2))
        text = (f"{cell.upper()}, T={T}, {steps} steps: test MSE {mse:.4f} of the trained model, rebuilt by the "
                f"grader (learned: < {LEARNED}; the mean predictor: {ADDING_MEAN_MSE:.3f})")
        if not mse < LEARNED:
            raise Fail(text, f"the model did not learn the task: {EQ_TRAIN}", "neutral")
        return text
    return run


CASES = [
    Case("GRU cell, B = 1, I = 1, H = 1", _forward_case(1, 1, 1), EQ_GRU, str(TOL)),
    Case(CELL, _forward_case(), EQ_GRU, str(TOL), points=2),
    Case("GRU cell, I = H", _forward_case(None, 3, 3), EQ_GRU, str(TOL)),
    Case(GRAD, _gradient_case, EQ_GRAD, str(TOL), (CELL,), points=2),
    Case(MODEL, _model_case, EQ_MODEL, str(TOL_MODEL), (CELL,)),
    Case("LSTM learns the adding problem", _training_case("lstm"), EQ_TRAIN, f"test MSE < {LEARNED}",
         (MODEL,), seconds=90, points=2),
    Case("GRU learns the adding problem", _training_case("gru"), EQ_TRAIN, f"test MSE < {LEARNED}",
         (CELL, GRAD, MODEL), seconds=90, points=3),
]
