"""Independent NumPy-reference oracles for the inspection tests (not a test module)."""
from __future__ import annotations

import numpy as np

from seqlm.analysis.checkpoint import reference_stack
from seqlm.analysis.inspect import context_starts, stream_inputs


def reference_gates(model, ids, mode):
    """Every gate of the NumPy reference (float64), run sentence by sentence or on the
    whole stream, read from its forward caches; and its ln p of every target."""
    ref = reference_stack(model.rnn)
    E = model.embedding.weight.detach().double().numpy()
    W, b = (model.decoder.weight.detach().double().numpy(), model.decoder.bias.detach().double().numpy())
    inputs = stream_inputs(ids)
    starts = np.flatnonzero(np.r_[True, ids[:-1] == 1]) if mode == "sentence" else np.array([0])
    ends = np.r_[starts[1:], ids.size]
    H = model.rnn.hidden_size
    out = [{} for _ in ref.layers]
    logp = []
    for s, e in zip(starts, ends):
        top, caches = ref.forward(E[inputs[s:e]][:, None, :])
        for l, c in enumerate(caches):
            got = {"h": c["h"][1:, 0]}
            if model.rnn.cell == "lstm":                 # cache: f, i, o, c̃ after σ / tanh
                g = c["gates"][:, 0]
                got |= {"f": g[:, :H], "i": g[:, H:2 * H], "o": g[:, 2 * H:3 * H],
                        "c_tilde": g[:, 3 * H:], "c": c["c"][1:, 0]}
            elif model.rnn.cell == "gru":
                a = c["act"][:, 0]
                cand = "h_tilde" if model.rnn.variant == "cho" else "n"
                got |= {"z": a[:, :H], "r": a[:, H:2 * H], cand: a[:, 2 * H:]}
            for k, v in got.items():
                out[l].setdefault(k, []).append(v)
        z = top[:, 0] @ W.T + b
        z -= z.max(1, keepdims=True)
        logp.append(z - np.log(np.exp(z).sum(1, keepdims=True)))
    return [{k: np.concatenate(v) for k, v in layer.items()} for layer in out], np.concatenate(logp)


def reference_lookback(model, ids, mode, t):
    """‖∂ ln p(w_t)/∂ e_{t-k}‖, k = 1.. (index k - 1), by the reference's hand-written BPTT (float64)."""
    ref = reference_stack(model.rnn)
    E = model.embedding.weight.detach().double().numpy()
    W, b = model.decoder.weight.detach().double().numpy(), model.decoder.bias.detach().double().numpy()
    s0 = context_starts(ids, mode)[t]
    hs, caches = ref.forward(E[stream_inputs(ids)[s0:t + 1]][:, None, :])
    z = hs[-1, 0] @ W.T + b
    p = np.exp(z - z.max())
    p /= p.sum()
    dz = -p
    dz[ids[t]] += 1.0                                     # ∂ ln softmax(z)[w] / ∂z
    dhs = np.zeros_like(hs)
    dhs[-1, 0] = W.T @ dz
    return np.linalg.norm(ref.backward(dhs, caches)[0].dxs[:, 0], axis=1)[::-1]
