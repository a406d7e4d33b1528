"""Gradient flow through a *trained* recurrent language model (``--checkpoint DIR``).

The checkpoint's recurrent stack is converted exactly to the NumPy reference
(``seqlm.nn.reference_params``, float64), fed with the embeddings of random
token ids, and its own decoder is the softmax output (eq. 5.2). ‖∂L/∂h_k‖ is
measured on the top layer's hidden states, where the loss enters.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from seqlm.analysis.flow import CellFlow, GradientFlow, output_grads, recurrent_matrix
from seqlm.analysis.jacobians import forget_gate_stats
from seqlm.analysis.theory import fit_decay_rate, sigma_max, spectral_radius
from seqlm.errors import SeqlmError
from seqlm.reference import GRU, LSTM, RNN, SoftmaxOutput, Stack


def reference_stack(stack) -> Stack:
    """The NumPy reference twin (float64) of a ``seqlm.nn.RecurrentStack``."""
    from seqlm.nn import reference_params

    layers = []
    for p in reference_params(stack):
        p = {k: np.asarray(v, dtype=np.float64) for k, v in p.items()}
        if stack.cell == "rnn":
            layers.append(RNN(p))
        elif stack.cell == "lstm":
            layers.append(LSTM(p))
        else:
            layers.append(GRU(p, variant=stack.variant))
    return Stack(layers)


def checkpoint_flow(path: str | Path, length: int = 100, n_seqs: int = 64, loss: str = "last",
                    seed: int = 0) -> GradientFlow:
    """‖∂L/∂h_k‖ (top layer) for a trained LM checkpoint; one ``CellFlow`` keyed by its cell."""
    from seqlm.train import load_model

    model, vocab = load_model(path)
    stack = getattr(model, "rnn", None)
    if stack is None or not hasattr(stack, "cell"):
        raise SeqlmError(f"{path}: not a recurrent language model checkpoint (no recurrent stack)")
    ref = reference_stack(stack)
    E = model.embedding.weight.detach().double().numpy()  # (V, D)
    output = SoftmaxOutput({"W_hy": model.decoder.weight.detach().double().numpy(),
                            "b_y": model.decoder.bias.detach().double().numpy()})
    rng = np.random.default_rng(seed)
    V = E.shape[0]
    ids = rng.integers(0, V, size=(length + 1, n_seqs))
    xs, targets = E[ids[:-1]], ids[1:]  # (T, N, D), (T, N)
    hs, caches = ref.forward(xs)
    T = hs.shape[0]
    dh = ref.backward(output_grads(hs, output, targets, loss), caches)[-1].dh  # top layer, (T+1, N, H)
    norms = np.linalg.norm(dh, axis=-1)[::-1].T.copy()
    gaps = np.arange(T + 1)
    with np.errstate(divide="ignore"):
        mean_log = np.mean(np.log(norms / norms[:, :1]), axis=0)
    top = ref.layers[-1]
    W = recurrent_matrix(top)
    extra = {"checkpoint": str(path), "layers": len(ref.layers)}
    if stack.cell == "lstm":
        H = top.hidden_size
        extra["forget_gate"] = forget_gate_stats(np.concatenate(
            [c["gates"][:, :, :H] for c in caches]))  # every layer
    cf = CellFlow(stack.cell, gaps, norms, fit_decay_rate(gaps[1:], np.exp(mean_log[1:])),
                  sigma_max(W), spectral_radius(W), extra)
    settings = {"length": length, "hidden": top.hidden_size, "input_size": E.shape[1],
                "n_seqs": n_seqs, "init_scale": None, "sigma_max_hh": None, "loss": loss,
                "vocab": V, "seed": seed, "checkpoint": str(path),
                "inputs": "embeddings of uniformly random token ids"}
    return GradientFlow({stack.cell: cf}, settings)
