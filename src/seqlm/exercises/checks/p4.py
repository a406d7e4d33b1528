"""P4: one LSTM step (5.4)–(5.8) and its backward, against the reference LSTM (T = 1)."""
from __future__ import annotations

import numpy as np

from seqlm.exercises.grading.cases import Case, Mistake, Tol, compare, get_key, unpack
from seqlm.reference import LSTM, numerical_grad, sigmoid

TOL = Tol(1e-10, 1e-8)
TOL_FD = Tol(1e-6, 1e-5)
GATES = "fico"
FORWARD = "forward, a batch"

H_FORWARD = "eqs. (5.4)–(5.8): three σ gates and a tanh candidate, each from W_·[h_{t-1}, x_t] + b_·"
H_FORGET = ("eq. (5.7): the old cell c_{t-1} is scaled by the forget gate f_t of eq. (5.4); your "
            "c_t has another gate in that place")
H_INPUT = "eq. (5.7): f_t scales the old cell c_{t-1}, i_t scales the candidate c̃_t"
H_H_TANH = ("eq. (5.8): h_t = o_t ⊙ tanh(c_t) — the cell goes through tanh before the output gate; "
            "your h_t matches it without the tanh")
H_NEW_CELL = "eq. (5.8): h_t reads the new cell c_t of eq. (5.7), not c_{t-1}"
H_CONCAT = ("eqs. (5.4)–(5.8): W_· acts on [h_{t-1}, x_t], h first — its first H columns multiply "
            "h_{t-1}")
H_CAND = "eq. (5.6): the candidate c̃_t is a tanh (values in (−1, 1)), not a σ"
H_BACKWARD = "the chain rule through eqs. (5.8), (5.7), then each gate's nonlinearity and W_·[h_{t-1}, x_t]"
H_B_TANH = ("eq. (5.8) backwards: the gradient from h_t reaches c_t through tanh — times o_t and "
            "1 − tanh²(c_t)")
H_B_FORGET = "eq. (5.7) backwards: ∂c_t/∂c_{t-1} = diag(f_t), the additive path"
H_B_DC = ("∂L/∂c_t has two sources: dc_t from the next step, and what comes through h_t "
          "(eq. 5.8); both flow on into the gates and c_{t-1}")
H_B_SIGMOID = "back through each σ gate: σ'(a) = σ(a)(1 − σ(a))"
H_FD = "the returned arrays must be the derivatives of L = <dh_t, h_t> + <dc_t, c_t>"


def _problem(rng, B=None, I=None, H=None, scale=0.6):
    B, I, H = (v or int(rng.integers(lo, hi)) for v, lo, hi in ((B, 2, 5), (I, 1, 5), (H, 2, 6)))
    ref = LSTM.init(I, H, rng, scale=scale)
    return ref, rng.normal(size=(B, I)), rng.normal(0, 0.5, (B, H)), rng.normal(0, 1, (B, H))


def _step(ref, x, h, c):
    hs, cache = ref.forward(x[None], (h, c))
    return hs[0], cache["c"][1], cache


def _with(ref, **changes):
    return LSTM({**ref.params, **changes})


def _forward_mistakes(ref, x, h, c):
    """(h_t mistakes, c_t mistakes) of eqs. (5.4)–(5.8)."""
    p, H, I = ref.params, ref.hidden_size, ref.input_size
    hx = np.concatenate([h, x], 1)
    gate = lambda g: hx @ p[f"W_{g}"].T + p[f"b_{g}"]  # noqa: E731
    c_t = _step(ref, x, h, c)[1]
    o = sigmoid(gate("o"))
    swap = {f"W_{g}": np.concatenate([p[f"W_{g}"][:, I:], p[f"W_{g}"][:, :I]], 1) for g in GATES} if I != H else {}
    cand = lambda: sigmoid(gate("f")) * c + sigmoid(gate("i")) * sigmoid(gate("c"))  # noqa: E731
    c_m = [Mistake(lambda: _step(_with(ref, W_f=p["W_o"], b_f=p["b_o"]), x, h, c)[1], H_FORGET),
           Mistake(lambda: _step(_with(ref, W_f=p["W_i"], b_f=p["b_i"], W_i=p["W_f"], b_i=p["b_f"]), x, h, c)[1],
                   H_INPUT),
           Mistake(cand, H_CAND)]
    h_m = [Mistake(lambda: o * c_t, H_H_TANH), Mistake(lambda: o * np.tanh(c), H_NEW_CELL),
           Mistake(lambda: _step(_with(ref, W_f=p["W_o"], b_f=p["b_o"]), x, h, c)[0], H_FORGET),
           Mistake(lambda: o * np.tanh(cand()), H_CAND)]
    if swap:
        c_m.append(Mistake(lambda: _step(_with(ref, **swap), x, h, c)[1], H_CONCAT))
        h_m.append(Mistake(lambda: _step(_with(ref, **swap), x, h, c)[0], H_CONCAT))
    return h_m, c_m


def _forward_case(B=None, I=None, H=None, scale=0.6):
    def run(ctx):
        ref, x, h, c = _problem(ctx.rng, B, I, H, scale)
        want_h, want_c, _ = _step(ref, x, h, c)
        got = unpack(ctx.fn("lstm_cell_forward")(x.copy(), h.copy(), c.copy(),
                                                 {k: v.copy() for k, v in ref.params.items()}),
                     3, "lstm_cell_forward")
        h_m, c_m = _forward_mistakes(ref, x, h, c)
        e1 = compare(got[1], want_c, "c_t", TOL, H_FORWARD, c_m)
        e2 = compare(got[0], want_h, "h_t", TOL, H_FORWARD, h_m)
        return f"B={x.shape[0]}, I={ref.input_size}, H={ref.hidden_size}: h_t, c_t match: max |Δ| = {max(e1, e2):.2g}"
    return run


def _mistaken_backward(ref, x, h, c, dh, dc, *, tanh_prime=True, forget=True, use_dc=True,
                       sigmoid_prime=True):
    """The backward of one step as a misconception computes it."""
    p, H = ref.params, ref.hidden_size
    hx = np.concatenate([h, x], 1)
    f, i, o = (sigmoid(hx @ p[f"W_{g}"].T + p[f"b_{g}"]) for g in "fio")
    ct = np.tanh(hx @ p["W_c"].T + p["b_c"])
    tc = np.tanh(f * c + i * ct)
    s = (lambda v: v * (1 - v)) if sigmoid_prime else (lambda v: 1.0)
    d = (dc if use_dc else 0) + dh * o * ((1 - tc ** 2) if tanh_prime else 1)
    da = {"f": d * c * s(f), "i": d * ct * s(i), "c": d * i * (1 - ct ** 2), "o": dh * tc * s(o)}
    g = {f"W_{k}": v.T @ hx for k, v in da.items()} | {f"b_{k}": v.sum(0) for k, v in da.items()}
    dhx = sum(v @ p[f"W_{k}"] for k, v in da.items())
    return g | {"h_prev": dhx[:, :H], "x_t": dhx[:, H:], "c_prev": d * (f if forget else 1)}


VARIANTS = [({"tanh_prime": False}, H_B_TANH), ({"forget": False}, H_B_FORGET),
            ({"use_dc": False}, H_B_DC), ({"sigmoid_prime": False}, H_B_SIGMOID)]
KEYS = ("c_prev", "h_prev", "x_t") + tuple(f"{w}_{g}" for w in "Wb" for g in GATES)


def _backward_case(B=None, dh_on=True, dc_on=True, default=H_BACKWARD, numeric=False):
    def run(ctx):
        ref, x, h, c = _problem(ctx.rng, B)
        dh = ctx.rng.normal(size=h.shape) * dh_on
        dc = ctx.rng.normal(size=h.shape) * dc_on
        fwd = unpack(ctx.fn("lstm_cell_forward")(x.copy(), h.copy(), c.copy(),
                                                 {k: v.copy() for k, v in ref.params.items()}),
                     3, "lstm_cell_forward")
        got = ctx.fn("lstm_cell_backward")(dh.copy(), dc.copy(), fwd[2])
        if numeric:
            def loss():
                h_t, c_t, _ = _step(ref, x, h, c)
                return float(np.sum(dh * h_t) + np.sum(dc * c_t))
            arrays = {**{k: ref.params[k] for k in ref.param_names}, "x_t": x, "h_prev": h, "c_prev": c}
            want = {k: numerical_grad(loss, a) for k, a in arrays.items()}
        else:
            _, _, cache = _step(ref, x, h, c)
            g = ref.backward(dh[None], cache, (None, dc))
            want = {**g.params, "x_t": g.dxs[0], "h_prev": g.dh0, "c_prev": g.dc0}
        tol = TOL_FD if numeric else TOL
        errs = [compare(get_key(got, k, "lstm_cell_backward"), want[k], f"∂L/∂{k}", tol,
                        H_FD if numeric else default,
                        [Mistake(lambda kw=kw, k=k: _mistaken_backward(ref, x, h, c, dh, dc, **kw)[k], hint)
                         for kw, hint in VARIANTS]) for k in KEYS]
        return f"B={x.shape[0]}, I={ref.input_size}, H={ref.hidden_size}: all 11 gradients match: max |Δ| = {max(errs):.2g}"
    return run


CASES = [
    Case("forward, B = 1, I = 1, H = 1", _forward_case(1, 1, 1), H_FORWARD, str(TOL)),
    Case(FORWARD, _forward_case(), H_FORWARD, str(TOL)),
    Case("forward, saturated gates", _forward_case(scale=4.0), H_FORWARD, str(TOL)),
    Case("backward, B = 1", _backward_case(1), H_BACKWARD, str(TOL), (FORWARD,)),
    Case("backward, only ∂L/∂c_t from above", _backward_case(dh_on=False, default=H_B_FORGET),
         H_B_FORGET, str(TOL), (FORWARD,)),
    Case("backward, only ∂L/∂h_t from above", _backward_case(dc_on=False, default=H_B_TANH),
         H_B_TANH, str(TOL), (FORWARD,)),
    Case("backward, both, a batch", _backward_case(), H_BACKWARD, str(TOL), (FORWARD,)),
    Case("backward, central finite differences", _backward_case(2, numeric=True), H_FD, str(TOL_FD),
         (FORWARD,)),
]
