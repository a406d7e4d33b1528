"""Per-step Jacobians of the recurrent state and the norms of their products (Sec. 5.2.2).

For the vanilla RNN the Jacobian is the hand formula of eq. 5.3,
∂h_t/∂h_{t-1} = diag(1 − h_t²) W_hh (``reference.RNN.jacobians``). For the LSTM
the recurrent state is the pair (h, c), so the Jacobian that carries gradient
back one step is the full (2H × 2H) ∂(h_t, c_t)/∂(h_{t-1}, c_{t-1}); for the GRU
it is ∂h_t/∂h_{t-1} (H × H). Both are read off the reference's hand-written
backward: one step run on S copies of the same state with the identity as the
upstream gradient returns every row of the Jacobian at once (row i of
dstate0 = e_iᵀ J). ``torch_state_jacobians`` gets the same matrices by
autograd, as an independent check.

Everything works on one sequence (batch 1) at a time: xs is (T, I).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from seqlm.reference import LSTM, RNN


def _step_jacobian(model: Any, x_t: np.ndarray, state: Any) -> np.ndarray:
    """J = ∂state_t/∂state_{t-1} at one step, via the reference backward. ``x_t`` (I,)."""
    H = model.hidden_size
    if isinstance(model, LSTM):
        h, c = state
        S = 2 * H
        xs = np.broadcast_to(x_t, (1, S, x_t.shape[-1])).copy()
        _, cache = model.forward(xs, (np.tile(h, (S, 1)), np.tile(c, (S, 1))))
        eye = np.eye(S)
        g = model.backward(np.zeros((1, S, H)), cache, (eye[:, :H], eye[:, H:]))
        return np.concatenate([g.dh[0], g.dc[0]], axis=1)  # row i = e_iᵀ J
    xs = np.broadcast_to(x_t, (1, H, x_t.shape[-1])).copy()
    _, cache = model.forward(xs, np.tile(state, (H, 1)))
    g = model.backward(np.zeros((1, H, H)), cache, np.eye(H))
    return g.dh[0]


def state_jacobians(model: Any, xs: np.ndarray, state0: Any = None) -> np.ndarray:
    """J_t = ∂s_t/∂s_{t-1} for t = 1..T along one sequence: (T, S, S).

    s = h (RNN, GRU: S = H) or s = [h; c] (LSTM: S = 2H). ``xs`` is (T, I).
    """
    xs = np.asarray(xs, dtype=np.float64)
    T, H = xs.shape[0], model.hidden_size
    if isinstance(model, RNN):
        h0 = None if state0 is None else np.asarray(state0).reshape(1, H)
        _, cache = model.forward(xs[:, None, :], h0)
        return model.jacobians(cache)[:, 0]  # eq. 5.3's hand formula
    lstm = isinstance(model, LSTM)
    if lstm:
        h0, c0 = (np.zeros((1, H)), np.zeros((1, H))) if state0 is None else state0
        _, cache = model.forward(xs[:, None, :], (np.reshape(h0, (1, H)), np.reshape(c0, (1, H))))
        states = [(cache["h"][t, 0], cache["c"][t, 0]) for t in range(T)]
    else:
        h0 = np.zeros((1, H)) if state0 is None else np.reshape(state0, (1, H))
        _, cache = model.forward(xs[:, None, :], h0)
        states = [cache["h"][t, 0] for t in range(T)]
    return np.stack([_step_jacobian(model, xs[t], states[t]) for t in range(T)])


def product_norms(J: np.ndarray) -> np.ndarray:
    """‖J_T J_{T−1} ⋯ J_{T−g+1}‖₂ for every gap g = 0..T (g = 0: the identity, norm 1).

    The product for gap g maps a perturbation of s_{T−g} to its effect on s_T,
    i.e. it is ∂s_T/∂s_{T−g}; its spectral norm bounds how much of ∂L/∂s_T can
    reach s_{T−g}.
    """
    T, S, _ = J.shape
    out = np.empty(T + 1)
    out[0] = 1.0
    P = np.eye(S)
    for g in range(1, T + 1):
        P = P @ J[T - g]  # J_T ⋯ J_{T−g+1}
        out[g] = np.linalg.norm(P, 2)
    return out


def lstm_cell_path(model: LSTM, xs: np.ndarray, state0: Any = None) -> dict[str, np.ndarray]:
    """The LSTM's cell-state path along one sequence (``xs`` (T, I)).

    - ``direct[g]`` = ‖∏_{t=T−g+1}^{T} diag(f_t)‖₂ = max_j ∏ f_t[j]: the additive
      path of eq. 5.7 alone, c_T ← c_{T−g} through the forget gates only.
    - ``total[g]`` = ‖∂c_T/∂c_{T−g}‖₂ with every indirect term (through h and the
      gates), the c→c block of the product of full state Jacobians.
    - ``forget`` (T, H): the forget-gate activations f_t.
    """
    xs = np.asarray(xs, dtype=np.float64)
    T, H = xs.shape[0], model.hidden_size
    s0 = None if state0 is None else tuple(np.reshape(s, (1, H)) for s in state0)
    _, cache = model.forward(xs[:, None, :], s0)
    f = cache["gates"][:, 0, :H].copy()  # activated in place by the forward: f_t, (T, H)
    log_f = np.log(f)
    direct = np.empty(T + 1)
    direct[0] = 1.0
    acc = np.zeros(H)
    for g in range(1, T + 1):
        acc += log_f[T - g]
        direct[g] = float(np.exp(acc.max()))
    J = state_jacobians(model, xs, state0)
    total = np.empty(T + 1)
    total[0] = 1.0
    P = np.eye(2 * H)
    for g in range(1, T + 1):
        P = P @ J[T - g]
        total[g] = np.linalg.norm(P[H:, H:], 2)  # ∂c_T/∂c_{T−g}
    return {"direct": direct, "total": total, "forget": f}


def forget_gate_stats(f: np.ndarray) -> dict[str, float]:
    """Mean and quantiles of forget-gate activations (any shape)."""
    f = np.asarray(f, dtype=np.float64).ravel()
    q = np.quantile(f, [0.1, 0.5, 0.9])
    return {"mean": float(f.mean()), "q10": float(q[0]), "median": float(q[1]), "q90": float(q[2]),
            "min": float(f.min()), "max": float(f.max())}
