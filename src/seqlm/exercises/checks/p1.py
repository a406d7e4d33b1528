"""P1: the vanilla RNN forward (5.1) over variable lengths, and the output layer (5.2)."""
from __future__ import annotations

import numpy as np

from seqlm.exercises.grading.cases import Case, Mistake, Tol, compare, unpack
from seqlm.reference import RNN, SoftmaxOutput

TOL_H = Tol(1e-10, 1e-8)
TOL_Y = Tol(1e-12, 1e-9)

H_RECURRENCE = "eq. (5.1): h_t combines W_hh h_{t-1}, W_xh x_t and b_h, then the nonlinearity"
H_TANH = ("eq. (5.1): the nonlinearity — h_t is the tanh of the whole pre-activation; your h_t "
          "matches the pre-activation itself")
H_TRANSPOSE = ("eq. (5.1), the recurrent term W_hh h_{t-1}: your answer matches the transpose of "
               "W_hh (row i of W_hh feeds hidden unit i)")
H_CARRY = ("Sec. 5.1.2: every sequence of the batch starts from its own h_0; your answer matches a "
           "state carried over from the previous sequence of the batch")
H_LENGTHS = ("variable length (Sec. 5.1): sequence b ends at step lengths[b]; h_last[b] is its own "
             "last state and hs is 0 after it, whatever the padding holds")
H_H0 = "the initial state: h_0 = h0 when it is given (zeros only when h0 is None)"
H_SOFTMAX = "eq. (5.2): softmax over the vocabulary — every y_t[b] is positive and sums to 1 over the V words"
H_AXIS = "eq. (5.2): softmax normalises over the vocabulary, the last axis of (T, B, V)"
H_OVERFLOW = ("eq. (5.2) with large logits: exp overflows in float64 above ~709; softmax(z) = "
              "softmax(z - c) for any constant c")
H_BIAS = "eq. (5.2): the logits are W_hy h_t + b_y — the bias is part of them"


def _params(rng, I, H, scale=0.8):
    return {"W_xh": rng.normal(0, scale / np.sqrt(I), (H, I)),
            "W_hh": rng.normal(0, scale / np.sqrt(H), (H, H)),
            "b_h": rng.normal(0, 0.3, H)}


def _truth(xs, lengths, p, h0=None, carry=False):
    """hs and h_last from the reference, one sequence at a time (each its own length).
    ``carry``: the mistake of starting sequence b from h_last of sequence b - 1."""
    ref = RNN({"W_hh": p["W_hh"], "W_xh": p["W_xh"], "b_h": p["b_h"]})
    T, B, _ = xs.shape
    hs, last = np.zeros((T, B, ref.hidden_size)), np.zeros((B, ref.hidden_size))
    for b in range(B):
        L = int(lengths[b])
        s0 = last[b - 1:b] if carry and b > 0 else (None if h0 is None else h0[b:b + 1])
        out, _ = ref.forward(xs[:L, b:b + 1], s0)
        hs[:L, b], last[b] = out[:, 0], out[-1, 0]
    return hs, last


def _linear(xs, lengths, p, h0=None):
    """The mistake of leaving tanh out: h_t = W_hh h_{t-1} + W_xh x_t + b_h."""
    T, B, _ = xs.shape
    h = np.zeros((B, p["W_hh"].shape[0])) if h0 is None else h0.copy()
    hs = np.zeros((T, B, h.shape[1]))
    for t in range(T):
        alive = (t < lengths)[:, None]
        new = h @ p["W_hh"].T + xs[t] @ p["W_xh"].T + p["b_h"]
        h, hs[t] = np.where(alive, new, h), np.where(alive, new, 0.0)
    return hs, h


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
        want_hs, want_last = _truth(xs, L, p, h0)
        got = unpack(ctx.fn("rnn_forward")(xs.copy(), L.copy(), p["W_xh"].copy(), p["W_hh"].copy(),
                                           p["b_h"].copy(), None if h0 is None else h0.copy()),
                     2, "rnn_forward")
        full = lambda: _truth(xs, np.full(nB, nT), p, h0)  # noqa: E731  padding run as input
        mistakes = [Mistake(lambda: _linear(xs, L, p, h0)[0], H_TANH),
                    Mistake(lambda: _truth(xs, L, {**p, "W_hh": p["W_hh"].T}, h0)[0], H_TRANSPOSE),
                    Mistake(lambda: _truth(xs, L, p, h0, carry=True)[0], H_CARRY),
                    Mistake(lambda: np.where(pad[..., None], full()[0], want_hs), H_LENGTHS),
                    Mistake(lambda: _truth(xs, L, p, None)[0], H_H0)]
        e1 = compare(got[0], want_hs, "hs", TOL_H, H_RECURRENCE, mistakes)
        last_mistakes = [Mistake(lambda: full()[1], H_LENGTHS), Mistake(lambda: want_hs[-1], H_LENGTHS)]
        e2 = compare(got[1], want_last, "h_last", TOL_H, H_LENGTHS if lengths else H_RECURRENCE,
                     last_mistakes)
        return f"T={nT}, B={nB}, I={I}, H={H}, lengths {L.tolist()}: max |Δ| = {max(e1, e2):.2g}"
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

        def norm(axis):
            e = np.exp(logits - logits.max(axis=axis, keepdims=True))
            return e / e.sum(axis=axis, keepdims=True)
        got = ctx.fn("rnn_output")(hs.copy(), out.params["W_hy"].copy(), out.params["b_y"].copy())
        mistakes = [Mistake(lambda: norm(0), H_AXIS), Mistake(lambda: norm(1), H_AXIS),
                    Mistake(lambda: SoftmaxOutput({"W_hy": out.params["W_hy"],
                                                   "b_y": 0 * out.params["b_y"]}).probs(hs), H_BIAS)]
        err = compare(got, want, "y", TOL_Y, H_OVERFLOW if scale > 10 else H_SOFTMAX, mistakes)
        return f"T={nT}, B={nB}, H={H}, V={V}, logits up to {np.abs(logits).max():.3g}: max |Δ| = {err:.2g}"
    return run


CASES = [
    Case("forward, T = 1, B = 1", _forward_case(1, 1), H_RECURRENCE, str(TOL_H)),
    Case("forward, one sequence (B = 1)", _forward_case(0, 1), H_RECURRENCE, str(TOL_H)),
    Case("forward, a batch of equal lengths", _forward_case(0, 0), H_RECURRENCE, str(TOL_H)),
    Case("forward, variable lengths", _forward_case(0, 0, _variable), H_LENGTHS, str(TOL_H)),
    Case("forward, a given initial state h0", _forward_case(0, 0, _variable, True), H_H0, str(TOL_H)),
    Case("output, T = 1, B = 1", _output_case(1, 1), H_SOFTMAX, str(TOL_Y)),
    Case("output, a batch", _output_case(0, 0), H_SOFTMAX, str(TOL_Y)),
    Case("output, large logits", _output_case(0, 0, scale=400.0), H_OVERFLOW, str(TOL_Y)),
]
