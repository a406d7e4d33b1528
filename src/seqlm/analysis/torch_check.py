"""The second, independent way to measure gradient flow: autograd on the PyTorch cells.

The reference's parameters are loaded into an explicit ``seqlm.nn`` layer
(float64, ``autograd=True``), the sequence is unrolled with ``layer.step`` and
``retain_grad()`` keeps ∂L/∂h_k on every hidden state, including h_0. The loss
is recomputed in torch from the softmax output's parameters. Nothing here
reuses the reference's backward, so agreement (≤ 1e-10) checks eq. 5.3's
hand-written BPTT against autograd.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from seqlm.nn.cells import make_layer
from seqlm.nn.convert import load_reference_params
from seqlm.reference import GRU, LSTM, RNN, SoftmaxOutput


def explicit_twin(model: Any) -> torch.nn.Module:
    """A float64 explicit PyTorch layer holding the reference model's parameters."""
    cell = {RNN: "rnn", LSTM: "lstm", GRU: "gru"}[type(model)]
    layer = make_layer(cell, model.input_size, model.hidden_size,
                       variant=getattr(model, "variant", "cho"), autograd=True, dtype=torch.float64)
    load_reference_params(layer, model.params)
    return layer


def autograd_hidden_grads(model: Any, xs: np.ndarray, output: SoftmaxOutput, targets: np.ndarray,
                          loss: str = "last") -> np.ndarray:
    """Total ∂L/∂h_k, k = 0..T, per sequence: (T+1, B, H), by autograd (cf. ``flow.hidden_grads``)."""
    layer = explicit_twin(model)
    x = torch.as_tensor(xs, dtype=torch.float64)
    T, B, _ = x.shape
    W_hy = torch.as_tensor(output.params["W_hy"])
    b_y = torch.as_tensor(output.params["b_y"])
    tgt = torch.as_tensor(targets)
    state = layer.init_state(B)
    h0 = state[0] if isinstance(state, tuple) else state
    h0.requires_grad_(True)
    hs = [h0]
    for t in range(T):
        state = layer.step(x[t], state)
        h_t = state[0] if isinstance(state, tuple) else state
        h_t.retain_grad()
        hs.append(h_t)
    ce = torch.nn.functional.cross_entropy
    if loss == "last":
        L = ce(hs[-1] @ W_hy.T + b_y, tgt[-1], reduction="sum")  # each sequence's own loss
    else:
        L = sum(ce(hs[t + 1] @ W_hy.T + b_y, tgt[t], reduction="sum") for t in range(T))
    L.backward()
    return torch.stack([h.grad for h in hs]).numpy()


def autograd_state_jacobians(model: Any, xs: np.ndarray) -> np.ndarray:
    """J_t = ∂s_t/∂s_{t−1} along one sequence ``xs`` (T, I), by autograd: (T, S, S),
    s = h, or [h; c] for the LSTM (cf. ``jacobians.state_jacobians``)."""
    layer = explicit_twin(model)
    x = torch.as_tensor(xs, dtype=torch.float64)[:, None, :]  # (T, 1, I)
    H, lstm = model.hidden_size, isinstance(model, LSTM)
    s = torch.zeros(2 * H if lstm else H, dtype=torch.float64)
    out = []
    for t in range(x.shape[0]):
        def f(s_prev, x_t=x[t]):
            if lstm:
                h, c = layer.step(x_t, (s_prev[None, :H], s_prev[None, H:]))
                return torch.cat([h[0], c[0]])
            return layer.step(x_t, s_prev[None])[0]
        out.append(torch.autograd.functional.jacobian(f, s))
        with torch.no_grad():
            s = f(s)
    return torch.stack(out).numpy()
