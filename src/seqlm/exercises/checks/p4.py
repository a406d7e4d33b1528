"""P4: one LSTM step (5.4)–(5.8) and its backward, against the reference LSTM (T = 1)."""
from __future__ import annotations

import numpy as np

from seqlm.exercises.grading.cases import Case, Mistake, Tol, compare_all, get_key, unpack
from seqlm.reference import LSTM, numerical_grad, sigmoid

TOL = Tol(1e-10, 1e-8)
TOL_FD = Tol(1e-6, 1e-5)
GATES = "fico"
FORWARD = "forward, a batch"
EQ_FORWARD = "eqs. (5.4)–(5.8): three σ gates and a tanh candidate from W_·[h_{t-1}, x_t] + b_·, then c_t and h_t"
EQ_BACKWARD = "eqs. (5.8), (5.7) and (5.4)–(5.6) differentiated: through tanh(c_t), the gates and W_·[h_{t-1}, x_t]"
EQ_FD = "the derivatives of L = <dh_t, h_t> + <dc_t, c_t> through eqs. (5.4)–(5.8)"

H_FORGET = ("eq. (5.7): your c_t is what scaling c_{t-1} by the output gate gives, where the forget gate "
            "f_t of eq. (5.4) belongs")
H_F_FROM_I = "eq. (5.4): your answer is what computing f_t with W_i and b_i gives — f_t has its own W_f, b_f"
H_INPUT = "eq. (5.7): your c_t is what swapping the roles of f_t and i_t gives"
H_NO_CAND = ("eq. (5.7): your c_t is what leaving the candidate c̃_t out gives — the new content of "
             "eq. (5.6) never enters the cell")
H_H_TANH = "eq. (5.8): your h_t is what o_t ⊙ c_t gives, without the tanh of the cell"
H_TANH_OUTSIDE = "eq. (5.8): your h_t is what tanh(o_t ⊙ c_t) gives — the tanh applied after the output gate"
H_NEW_CELL = "eq. (5.8): your h_t is what reading the old cell c_{t-1} gives, where it reads c_t of eq. (5.7)"
H_CONCAT = ("eqs. (5.4)–(5.8): your answer is what [x_t, h_{t-1}] gives — W_· acts on [h_{t-1}, x_t], "
            "its first H columns multiply h_{t-1}")
H_CAND = "eq. (5.6): your answer is what a σ candidate gives, where c̃_t is a tanh (values in (−1, 1))"
H_B_TANH = ("eq. (5.8) backwards: your gradients are what the chain gives without 1 − tanh²(c_t) on the "
            "way from h_t to c_t")
H_B_FORGET = ("eq. (5.7) backwards: your ∂L/∂c_{t-1} is what the chain gives without diag(f_t) on the "
              "additive path")
H_B_DC = ("your gradients are what they would be without dc_t, the ∂L/∂c_t from the next step: c_t gets "
          "gradient from two places")
H_B_SIGMOID = "your gradients are what the chain gives without σ'(a) = σ(a)(1 − σ(a)) at the gates"


def _problem(rng, B=None, I=None, H=None, scale=0.6):
    B, I, H = (v or int(rng.integers(lo, hi)) for v, lo, hi in ((B, 2, 5), (I, 1, 5), (H, 2, 6)))
    ref = LSTM.init(I, H, rng, scale=scale)
    return ref, rng.normal(size=(B, I)), rng.normal(0, 0.5, (B, H)), rng.normal(0, 1, (B, H))


def _step(ref, x, h, c):
    hs, cache = ref.forward(x[None], (h, c))
    return hs[0], cache["c"][1], cache


def _mutant(p, x, h, c, *, f="f", i="i", cand=np.tanh, keep_cand=True, out="o*tanh(c)", concat="hx"):
    """One step of eqs. (5.4)–(5.8) as a misconception computes it: {h_t, c_t}."""
    hx = np.concatenate([h, x] if concat == "hx" else [x, h], 1)
    gate = lambda g: hx @ p[f"W_{g}"].T + p[f"b_{g}"]  # noqa: E731
    new = {True: lambda: sigmoid(gate(i)) * cand(gate("c")), False: lambda: sigmoid(gate(i)),
           None: lambda: 0.0}[keep_cand]()  # the candidate, left out, or nothing new at all
    c_t = sigmoid(gate(f)) * c + new
    o = sigmoid(gate("o"))
    h_t = {"o*tanh(c)": lambda: o * np.tanh(c_t), "o*c": lambda: o * c_t,
           "tanh(o*c)": lambda: np.tanh(o * c_t), "o*tanh(c_prev)": lambda: o * np.tanh(c)}[out]()
    return {"h_t": h_t, "c_t": c_t}


def _forward_mistakes(ref, x, h, c):
    p = ref.params
    m = lambda hint, **kw: Mistake(lambda: _mutant(p, x, h, c, **kw), hint)  # noqa: E731
    out = [m(H_FORGET, f="o"), m(H_F_FROM_I, f="i"), m(H_INPUT, f="i", i="f"), m(H_NO_CAND, keep_cand=False),
           m(H_NO_CAND, keep_cand=None), m(H_H_TANH, out="o*c"), m(H_TANH_OUTSIDE, out="tanh(o*c)"),
           m(H_NEW_CELL, out="o*tanh(c_prev)"), m(H_CAND, cand=sigmoid)]
    if ref.input_size != ref.hidden_size:
        out.append(m(H_CONCAT, concat="xh"))
    return out


def _forward_case(B=None, I=None, H=None, scale=0.6):
    def run(ctx):
        ref, x, h, c = _problem(ctx.rng, B, I, H, scale)
        want_h, want_c, _ = _step(ref, x, h, c)
        got = unpack(ctx.fn("lstm_cell_forward", x, h, c, ref.params), 3, "lstm_cell_forward")
        err = compare_all({"h_t": got[0], "c_t": got[1]}, {"h_t": want_h, "c_t": want_c}, TOL, EQ_FORWARD,
                          _forward_mistakes(ref, x, h, c))
        return f"B={x.shape[0]}, I={ref.input_size}, H={ref.hidden_size}: h_t, c_t match: max |Δ| = {err:.2g}"
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
    g |= {"h_prev": dhx[:, :H], "x_t": dhx[:, H:], "c_prev": d * (f if forget else 1)}
    return {f"∂L/∂{k}": v for k, v in g.items()}


VARIANTS = [({"tanh_prime": False}, H_B_TANH), ({"forget": False}, H_B_FORGET),
            ({"use_dc": False}, H_B_DC), ({"sigmoid_prime": False}, H_B_SIGMOID)]
KEYS = ("c_prev", "h_prev", "x_t") + tuple(f"{w}_{g}" for w in "Wb" for g in GATES)


def _backward_case(B=None, dh_on=True, dc_on=True, numeric=False):
    def run(ctx):
        ref, x, h, c = _problem(ctx.rng, B)
        dh = ctx.rng.normal(size=h.shape) * dh_on
        dc = ctx.rng.normal(size=h.shape) * dc_on
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
        answer = ctx.call("forward_backward", x=x, h=h, c=c, p=ref.params, dh=dh, dc=dc)
        unpack(answer["forward"], 3, "lstm_cell_forward")
        got = {f"∂L/∂{k}": get_key(answer["grads"], k, "lstm_cell_backward") for k in KEYS}
        mistakes = [Mistake(lambda kw=kw: _mistaken_backward(ref, x, h, c, dh, dc, **kw), hint)
                    for kw, hint in VARIANTS]
        err = compare_all(got, {f"∂L/∂{k}": want[k] for k in KEYS}, TOL_FD if numeric else TOL,
                          EQ_FD if numeric else EQ_BACKWARD, mistakes)
        return f"B={x.shape[0]}, I={ref.input_size}, H={ref.hidden_size}: all 11 gradients match: max |Δ| = {err:.2g}"
    return run


CASES = [
    Case("forward, B = 1, I = 1, H = 1", _forward_case(1, 1, 1), EQ_FORWARD, str(TOL)),
    Case(FORWARD, _forward_case(), EQ_FORWARD, str(TOL), points=2),
    Case("forward, saturated gates", _forward_case(scale=4.0), EQ_FORWARD, str(TOL)),
    Case("backward, B = 1", _backward_case(1), EQ_BACKWARD, str(TOL), (FORWARD,)),
    Case("backward, only ∂L/∂c_t from above", _backward_case(dh_on=False), EQ_BACKWARD, str(TOL), (FORWARD,)),
    Case("backward, only ∂L/∂h_t from above", _backward_case(dc_on=False), EQ_BACKWARD, str(TOL), (FORWARD,)),
    Case("backward, both, a batch", _backward_case(), EQ_BACKWARD, str(TOL), (FORWARD,), points=2),
    Case("backward, central finite differences", _backward_case(2, numeric=True), EQ_FD, str(TOL_FD),
         (FORWARD,)),
]
