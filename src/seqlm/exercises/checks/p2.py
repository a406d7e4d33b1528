"""P2: BPTT for the vanilla RNN by hand, against the reference and finite differences."""
from __future__ import annotations

import numpy as np

from seqlm.exercises.grading.cases import Case, Mistake, Tol, compare, get_key
from seqlm.reference import RNN, numerical_grad

TOL = Tol(1e-9, 1e-7)
TOL_FD = Tol(1e-6, 1e-5)
KEYS = ("b_h", "W_xh", "W_hh", "h0", "xs")

H_STEP = ("eq. (5.1) differentiated at one step: back through the tanh, then through "
          "W_hh h_{t-1}, W_xh x_t and b_h")
H_DIAG = ("eq. (5.3): back through the tanh of eq. (5.1) — the factor diag(1 - h_t²); your "
          "gradients match the chain without it")
H_BACKFLOW = ("eq. (5.3): ∂L/∂h_{t-1} also receives what flows back from step t through W_hh; "
              "your gradients stop at each step")
H_ACCUM = ("parameter sharing (Sec. 5.1.2): W_hh, W_xh and b_h are used at every step, so their "
           "gradients sum the contributions of all T steps; yours keep only one step's")
H_TRANSPOSE = ("eq. (5.3): the gradient goes back through W_hh as the transpose of the forward map; "
               "yours applies W_hh the forward way")
H_PREV = "the weight gradient of step t pairs ∂L/∂a_t with h_{t-1}, the state that step read, not h_t"
H_DIAG_T = "eq. (5.3): the tanh derivative of step t is 1 - h_t², of the state that step produced"
H_INPUTS = "∂L/∂h_0 is what flows back out of step 1; ∂L/∂x_t is ∂L/∂a_t through W_xh"
H_FD = ("the returned arrays must be the derivatives of L = Σ_t <dhs_t, h_t>: check the chain "
        "rule of eqs. (5.1) and (5.3) step by step")


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
    return ctx.fn("rnn_backward")(xs.copy(), hs.copy(), h0.copy(), dhs.copy(),
                                  p["W_xh"].copy(), p["W_hh"].copy())


VARIANTS = [({"diag": False}, H_DIAG), ({"backflow": False}, H_BACKFLOW), ({"keep": "first"}, H_ACCUM),
            ({"keep": "last"}, H_ACCUM), ({"transpose": True}, H_TRANSPOSE), ({"prev": False}, H_PREV),
            ({"diag_t": False}, H_DIAG_T)]


def _mistakes(ref, xs, h0, hs, dhs, key):
    args = (xs, h0, hs, dhs, ref.params["W_xh"], ref.params["W_hh"])
    return [Mistake(lambda kw=kw: _mistaken(*args, **kw)[key], h) for kw, h in VARIANTS]


def _reference_case(T, B, last_only=False, default=H_STEP, keys=KEYS):
    def run(ctx):
        ref, xs, h0, dhs = _problem(ctx.rng, T, B, last_only)
        hs, cache = ref.forward(xs, h0)
        g = ref.backward(dhs, cache)
        want = {**g.params, "h0": g.dh0, "xs": g.dxs}
        got = _call(ctx, ref, xs, h0, hs, dhs)
        errs = [compare(get_key(got, k, "rnn_backward"), want[k], f"∂L/∂{k}", TOL, default,
                        _mistakes(ref, xs, h0, hs, dhs, k)) for k in keys]
        T_, B_, I_ = xs.shape
        return f"T={T_}, B={B_}, I={I_}, H={ref.hidden_size}: {', '.join(keys)} match: max |Δ| = {max(errs):.2g}"
    return run


def _finite_differences(ctx):
    ref, xs, h0, dhs = _problem(ctx.rng, 3, 2)
    hs, _ = ref.forward(xs, h0)
    got = _call(ctx, ref, xs, h0, hs, dhs)

    def loss():
        return float(np.sum(dhs * ref.forward(xs, h0)[0]))
    errs = []
    for k, arr in (("W_hh", ref.params["W_hh"]), ("W_xh", ref.params["W_xh"]), ("b_h", ref.params["b_h"]),
                   ("h0", h0), ("xs", xs)):
        num = numerical_grad(loss, arr)
        errs.append(compare(get_key(got, k, "rnn_backward"), num, f"∂L/∂{k}", TOL_FD, H_FD,
                            _mistakes(ref, xs, h0, hs, dhs, k)))
    return f"T=3, B=2: every gradient matches central differences (ε = 1e-6): max |Δ| = {max(errs):.2g}"


CASES = [
    Case("T = 1, B = 1", _reference_case(1, 1), H_STEP, str(TOL)),
    Case("loss on the last step only", _reference_case(0, 0, last_only=True, default=H_BACKFLOW),
         H_BACKFLOW, str(TOL)),
    Case("loss at every step", _reference_case(0, 0, default=H_ACCUM), H_ACCUM, str(TOL)),
    Case("one long sequence (B = 1, T = 12)", _reference_case(12, 1, default=H_BACKFLOW), H_BACKFLOW,
         str(TOL)),
    Case("central finite differences", _finite_differences, H_FD, str(TOL_FD)),
]
