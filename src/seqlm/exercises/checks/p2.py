"""P2: BPTT for the vanilla RNN by hand, against the reference and finite differences."""
from __future__ import annotations

import numpy as np

from seqlm.exercises.grading.cases import Case, Mistake, Tol, compare_all, get_key
from seqlm.reference import RNN, numerical_grad

TOL = Tol(1e-9, 1e-7)
TOL_FD = Tol(1e-6, 1e-5)
KEYS = ("b_h", "W_xh", "W_hh", "h0", "xs")

EQ = "eq. (5.1) differentiated: eq. (5.3), back through tanh, W_hh h_{t-1}, W_xh x_t and b_h"
EQ_FD = "the derivatives of L = Σ_t <dhs_t, h_t> through eqs. (5.1) and (5.3)"
H_DIAG = ("eq. (5.3): your gradients are what the chain gives without the factor diag(1 - h_t²), the "
          "derivative of the tanh of eq. (5.1)")
H_BACKFLOW = ("eq. (5.3): your gradients are what they would be if ∂L/∂h_{t-1} got nothing back from "
              "step t through W_hh: they stop at each step")
H_ACCUM = ("parameter sharing (Sec. 5.1.2): your weight gradients hold one step's contribution, where "
           "W_hh, W_xh and b_h are used at every one of the T steps")
H_TRANSPOSE = ("eq. (5.3): your gradients are what applying W_hh the forward way (not as the transpose "
               "of the forward map) gives")
H_PREV = ("your weight gradient of step t is what pairing ∂L/∂a_t with h_t gives, where that step read "
          "h_{t-1}")
H_DIAG_T = ("eq. (5.3): your gradients are what the tanh derivative at h_{t-1} gives, where step t's "
            "factor is 1 - h_t², of the state that step produced")


def _mistaken(xs, h0, hs, dhs, W_xh, W_hh, *, diag=True, backflow=True, keep="all",
              transpose=False, prev=True, diag_t=True):
    """The BPTT a misconception computes (``keep``: which steps' weight gradients
    survive: "all", or only the "first"/"last" step visited)."""
    h_all = np.concatenate([h0[None], hs])
    g = {"W_xh": 0 * W_xh, "W_hh": 0 * W_hh, "b_h": np.zeros(len(W_hh)), "xs": 0 * xs}
    dnext = 0 * h0
    T = len(xs)
    for t in reversed(range(T)):
        dh = dhs[t] + (dnext if backflow else 0)
        da = dh * (1 - (h_all[t + 1] if diag_t else h_all[t]) ** 2) if diag else dh
        step = {"W_hh": da.T @ (h_all[t] if prev else h_all[t + 1]), "W_xh": da.T @ xs[t],
                "b_h": da.sum(0)}
        for k, v in step.items():
            if keep == "all" or (keep == "first" and t == T - 1) or (keep == "last" and t == 0):
                g[k] = g[k] + v if keep == "all" else v
        g["xs"][t] = da @ W_xh
        dnext = da @ (W_hh.T if transpose else W_hh)
    g["h0"] = dnext
    return g


def _problem(rng, T, B, last_only=False):
    I, H = int(rng.integers(1, 5)), int(rng.integers(2, 6))
    T = T or int(rng.integers(4, 10))
    B = B or int(rng.integers(2, 5))
    ref = RNN.init(I, H, rng, scale=0.7)
    xs, h0 = rng.normal(size=(T, B, I)), rng.normal(0, 0.5, (B, H))
    dhs = rng.normal(size=(T, B, H))
    if last_only:
        dhs[:-1] = 0.0
    return ref, xs, h0, dhs


def _call(ctx, ref, xs, h0, hs, dhs):
    p = ref.params
    return ctx.fn("rnn_backward", xs, hs, h0, dhs, p["W_xh"], p["W_hh"])


VARIANTS = [({"diag": False}, H_DIAG), ({"backflow": False}, H_BACKFLOW), ({"keep": "first"}, H_ACCUM),
            ({"keep": "last"}, H_ACCUM), ({"transpose": True}, H_TRANSPOSE), ({"prev": False}, H_PREV),
            ({"diag_t": False}, H_DIAG_T)]


def _mistakes(ref, xs, h0, hs, dhs):
    args = (xs, h0, hs, dhs, ref.params["W_xh"], ref.params["W_hh"])
    named = lambda g: {f"∂L/∂{k}": v for k, v in g.items()}  # noqa: E731
    return [Mistake(lambda kw=kw: named(_mistaken(*args, **kw)), h) for kw, h in VARIANTS]


def _answers(ctx, ref, xs, h0, hs, dhs) -> dict:
    got = _call(ctx, ref, xs, h0, hs, dhs)
    return {f"∂L/∂{k}": get_key(got, k, "rnn_backward") for k in KEYS}


def _reference_case(T, B, last_only=False):
    def run(ctx):
        ref, xs, h0, dhs = _problem(ctx.rng, T, B, last_only)
        hs, cache = ref.forward(xs, h0)
        g = ref.backward(dhs, cache)
        want = {"∂L/∂b_h": g.params["b_h"], "∂L/∂W_xh": g.params["W_xh"], "∂L/∂W_hh": g.params["W_hh"],
                "∂L/∂h0": g.dh0, "∂L/∂xs": g.dxs}
        err = compare_all(_answers(ctx, ref, xs, h0, hs, dhs), want, TOL, EQ, _mistakes(ref, xs, h0, hs, dhs))
        T_, B_, I_ = xs.shape
        return f"T={T_}, B={B_}, I={I_}, H={ref.hidden_size}: {', '.join(KEYS)} match: max |Δ| = {err:.2g}"
    return run


def _finite_differences(ctx):
    ref, xs, h0, dhs = _problem(ctx.rng, 3, 2)
    hs, _ = ref.forward(xs, h0)

    def loss():
        return float(np.sum(dhs * ref.forward(xs, h0)[0]))
    arrays = {"b_h": ref.params["b_h"], "W_xh": ref.params["W_xh"], "W_hh": ref.params["W_hh"], "h0": h0, "xs": xs}
    want = {f"∂L/∂{k}": numerical_grad(loss, a) for k, a in arrays.items()}
    err = compare_all(_answers(ctx, ref, xs, h0, hs, dhs), want, TOL_FD, EQ_FD, _mistakes(ref, xs, h0, hs, dhs))
    return f"T=3, B=2: every gradient matches central differences (ε = 1e-6): max |Δ| = {err:.2g}"


CASES = [
    Case("T = 1, B = 1", _reference_case(1, 1), EQ, str(TOL)),
    Case("loss on the last step only", _reference_case(0, 0, last_only=True), EQ, str(TOL), points=2),
    Case("loss at every step", _reference_case(0, 0), EQ, str(TOL), points=2),
    Case("one long sequence (B = 1, T = 12)", _reference_case(12, 1), EQ, str(TOL)),
    Case("central finite differences", _finite_differences, EQ_FD, str(TOL_FD)),
]
