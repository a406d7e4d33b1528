"""P1: the vanilla RNN forward (5.1) over variable lengths, and the output layer (5.2)."""
from __future__ import annotations

import numpy as np

from seqlm.exercises.grading.cases import Case, Fail, Mistake, Tol, compare, compare_all, unpack
from seqlm.reference import RNN, SoftmaxOutput

TOL_H = Tol(1e-10, 1e-8)
TOL_Y = Tol(1e-12, 1e-9)
EQ_FORWARD = "eq. (5.1), over each sequence's own length (Sec. 5.1)"
EQ_OUTPUT = "eq. (5.2)"

H_TANH = ("eq. (5.1): the nonlinearity — your h_t is the pre-activation itself, the tanh of eq. (5.1) "
          "is missing")
H_TRANSPOSE = ("eq. (5.1), the recurrent term W_hh h_{t-1}: your answer is what the transpose of W_hh "
               "gives (row i of W_hh feeds hidden unit i)")
H_CARRY = ("Sec. 5.1.2: your answer is what a state carried over from the previous sequence of the batch "
           "gives, where each sequence starts from its own h_0")
H_LENGTHS = ("variable length (Sec. 5.1): your answer is what running the padding as input gives — "
             "sequence b ends at step lengths[b], whatever the padding holds")
H_H0 = "the initial state: your answer is what h_0 = 0 gives, where this case passes its own h0"
H_AXIS = "eq. (5.2): your y is normalised over another axis than the vocabulary, the last axis of (T, B, V)"
H_OVERFLOW = ("eq. (5.2) with large logits: your y is what exp(logits) gives where it overflows "
              "(float64's exp overflows above about 709)")
H_BIAS = "eq. (5.2): your y is what the logits without b_y give"


def _params(rng, I, H, scale=0.8):
    return {"W_xh": rng.normal(0, scale / np.sqrt(I), (H, I)),
            "W_hh": rng.normal(0, scale / np.sqrt(H), (H, H)),
            "b_h": rng.normal(0, 0.3, H)}


def _truth(xs, lengths, p, h0=None):
    """hs and h_last from the reference, one sequence at a time (each its own length)."""
    ref = RNN({"W_hh": p["W_hh"], "W_xh": p["W_xh"], "b_h": p["b_h"]})
    T, B, _ = xs.shape
    hs, last = np.zeros((T, B, ref.hidden_size)), np.zeros((B, ref.hidden_size))
    for b in range(B):
        L = int(lengths[b])
        out, _ = ref.forward(xs[:L, b:b + 1], None if h0 is None else h0[b:b + 1])
        hs[:L, b], last[b] = out[:, 0], out[-1, 0]
    return {"hs": hs, "h_last": last}


def _mutant(xs, lengths, p, h0=None, *, tanh=True, transpose=False, carry=False, run_padding=False,
            keep_padding=False):
    """What a misconception computes: the batch loop of eq. (5.1) with one thing changed."""
    T, B, _ = xs.shape
    W_hh = p["W_hh"] if transpose else p["W_hh"].T
    act = np.tanh if tanh else (lambda a: a)
    if carry:  # sequence b starts from the last state of sequence b - 1
        out = {"hs": np.zeros((T, B, len(W_hh))), "h_last": np.zeros((B, len(W_hh)))}
        for b in range(B):
            start = (h0[b:b + 1] if h0 is not None else None) if b == 0 else out["h_last"][b - 1:b]
            one = _truth(xs[:, b:b + 1], lengths[b:b + 1], p, start)
            out["hs"][:, b], out["h_last"][b] = one["hs"][:, 0], one["h_last"][0]
        return out
    h = np.zeros((B, len(W_hh))) if h0 is None else h0.copy()
    hs = np.zeros((T, B, len(W_hh)))
    for t in range(T):
        alive = (t < lengths)[:, None] | run_padding
        new = act(h @ W_hh + xs[t] @ p["W_xh"].T + p["b_h"])
        h = np.where(alive, new, h)
        hs[t] = new if keep_padding else np.where((t < lengths)[:, None], new, 0.0)
    return {"hs": hs, "h_last": h}


def _forward_case(T, B, lengths=None, with_h0=False):
    def run(ctx):
        rng = ctx.rng
        I, H = int(rng.integers(1, 5)), int(rng.integers(2, 6))
        nT = T if T else int(rng.integers(4, 10))
        nB = B if B else int(rng.integers(2, 6))
        L = np.full(nB, nT) if lengths is None else lengths(rng, nT, nB)
        p = _params(rng, I, H)
        xs = rng.normal(size=(nT, nB, I))
        pad = np.arange(nT)[:, None] >= L[None, :]
        xs[pad] = rng.normal(0, 5, size=(int(pad.sum()), I))  # loud padding: it must not matter
        h0 = rng.normal(0, 0.5, (nB, H)) if with_h0 else None
        want = _truth(xs, L, p, h0)
        got = unpack(ctx.fn("rnn_forward", xs, L, p["W_xh"], p["W_hh"], p["b_h"], h0), 2, "rnn_forward")
        m = lambda **kw: lambda: _mutant(xs, L, p, h0, **kw)  # noqa: E731
        mistakes = [Mistake(m(tanh=False), H_TANH), Mistake(m(transpose=True), H_TRANSPOSE),
                    Mistake(m(carry=True), H_CARRY), Mistake(m(run_padding=True), H_LENGTHS),
                    Mistake(m(run_padding=True, keep_padding=True), H_LENGTHS),
                    Mistake(lambda: {"h_last": want["hs"][-1]}, H_LENGTHS)]
        if h0 is not None:
            mistakes.append(Mistake(lambda: _truth(xs, L, p, None), H_H0))
        err = compare_all({"hs": got[0], "h_last": got[1]}, want, TOL_H, EQ_FORWARD, mistakes)
        return f"T={nT}, B={nB}, I={I}, H={H}, lengths {L.tolist()}: max |Δ| = {err:.2g}"
    return run


def _variable(rng, T, B):
    L = rng.integers(1, T + 1, B)
    L[0], L[-1] = 1, T  # the extremes, always
    return L


def _output_case(T, B, scale=1.0):
    def run(ctx):
        rng = ctx.rng
        nT = T or int(rng.integers(2, 6))
        nB = B or int(rng.integers(2, 5))
        H, V = int(rng.integers(2, 6)), int(rng.integers(6, 12))
        out = SoftmaxOutput({"W_hy": rng.normal(0, scale, (V, H)), "b_y": rng.normal(0, scale, V)})
        hs = rng.uniform(-1, 1, (nT, nB, H))
        want = out.probs(hs)
        logits = hs @ out.params["W_hy"].T + out.params["b_y"]

        def norm(axis, shift=True):
            with np.errstate(all="ignore"):
                e = np.exp(logits - logits.max(axis=axis, keepdims=True) if shift else logits)
                return e / e.sum(axis=axis, keepdims=True)
        got = ctx.fn("rnn_output", hs, out.params["W_hy"], out.params["b_y"])
        no_bias = SoftmaxOutput({"W_hy": out.params["W_hy"], "b_y": 0 * out.params["b_y"]})
        mistakes = [Mistake(lambda: norm(0), H_AXIS), Mistake(lambda: norm(1), H_AXIS),
                    Mistake(lambda: no_bias.probs(hs), H_BIAS)]
        if scale > 10:  # what exp without the shift returns: inf/inf = NaN, or 0 where it underflows
            mistakes.append(Mistake(lambda: norm(-1, shift=False), H_OVERFLOW))
        try:
            err = compare(got, want, "y", TOL_Y, EQ_OUTPUT, mistakes)
        except Fail as fail:  # NaN or inf where the logits pass exp's range: measured, so named
            if scale > 10 and fail.message.startswith("y contains"):
                raise Fail(fail.message, H_OVERFLOW, "property") from None
            raise
        return f"T={nT}, B={nB}, H={H}, V={V}, logits up to {np.abs(logits).max():.3g}: max |Δ| = {err:.2g}"
    return run


CASES = [
    Case("forward, T = 1, B = 1", _forward_case(1, 1), EQ_FORWARD, str(TOL_H)),
    Case("forward, one sequence (B = 1)", _forward_case(0, 1), EQ_FORWARD, str(TOL_H)),
    Case("forward, a batch of equal lengths", _forward_case(0, 0), EQ_FORWARD, str(TOL_H)),
    Case("forward, variable lengths", _forward_case(0, 0, _variable), EQ_FORWARD, str(TOL_H), points=2),
    Case("forward, a given initial state h0", _forward_case(0, 0, _variable, True), EQ_FORWARD, str(TOL_H)),
    Case("output, T = 1, B = 1", _output_case(1, 1), EQ_OUTPUT, str(TOL_Y)),
    Case("output, a batch", _output_case(0, 0), EQ_OUTPUT, str(TOL_Y)),
    Case("output, large logits", _output_case(0, 0, scale=400.0), EQ_OUTPUT, str(TOL_Y), points=2),
]
