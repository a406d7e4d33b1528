"""How far back a trained language model looks: ‖∂ ln p(w_t) / ∂ e_{t−k}‖ against k.

For every predicted token w_t and lag k ≥ 1, the norm of the gradient of its
log-probability with respect to the embedding e_{t−k} of the token k positions
before it (k = 1: the token just before w_t, read at the step that predicts it;
the sentence-start context <eos> counts as a token). It is the trained
counterpart of Figure 5.2 (‖∂L_T/∂h_k‖ at initialisation): how strongly the
model's prediction still depends on a word k positions back.

Autograd through the model itself (either backend) with the embeddings as the
leaf. Each target gets a column of its own, holding only the steps of its
context within ``max_lag`` tokens: from the start of its context (its sentence
in sentence mode, the stream in stream mode) or ``max_lag`` tokens back,
whichever is later — in the latter case the column starts from the recorded
state before that step (:func:`seqlm.analysis.inspect.record`), which depends
only on tokens further back than ``max_lag``, so every measured gradient is exact.
Columns of about one length are batched, and the loss is the sum of the
columns' own log-probabilities: the columns do not interact, so one backward
gives every column's gradient.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from seqlm.analysis.inspect import (EOS_ID, MODES, Recording, context_starts, record,
                                    recurrent_parts, stream_inputs)
from seqlm.errors import SeqlmError


@dataclass
class Lookback:
    """``norms[j, k - 1]`` = ‖∂ ln p(w_t) / ∂ e_{t−k}‖, lag k = 1..max_lag, for the
    target w_t predicted at step ``positions[j]`` (its ids index); NaN where the
    token k back lies before the start of the context."""

    norms: np.ndarray        # (M, max_lag): column k - 1 is lag k
    positions: np.ndarray    # (M,) step index of each measured target
    max_lag: int
    mode: str

    def mean(self) -> np.ndarray:
        """(max_lag,) mean norm, lag k in column k - 1, over the targets whose context
        reaches k tokens back."""
        return _nan_reduce(np.nanmean, self.norms)

    def median(self) -> np.ndarray:
        """(max_lag,) median norm over the same targets."""
        return _nan_reduce(np.nanmedian, self.norms)

    def relative(self) -> np.ndarray:
        """(max_lag,) geometric mean over targets of the norm at lag k relative to the
        same target's norm at k = 1: how fast the dependence decays with the lag,
        free of the scale of each model's embeddings (1 at k = 1)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            logr = np.log(self.norms / self.norms[:, :1])
        logr[~np.isfinite(logr)] = np.nan
        return np.exp(_nan_reduce(np.nanmean, logr))

    def counts(self) -> np.ndarray:
        """(max_lag,) how many targets have a token k back in their context."""
        return np.isfinite(self.norms).sum(0)


def _nan_reduce(fn, a: np.ndarray) -> np.ndarray:
    out = np.full(a.shape[1], np.nan)
    ok = np.isfinite(a).any(0)
    out[ok] = fn(a[:, ok], axis=0)
    return out


def _initial_state(stack, rec: Recording | None, before: np.ndarray, dtype) -> object:
    """The stack's state (L, C, H) (LSTM: (h, c)) after step ``before[c]``; zero where it is -1."""
    L, C, H = stack.num_layers, before.size, stack.hidden_size
    h = torch.zeros(L, C, H, dtype=dtype)
    c = torch.zeros(L, C, H, dtype=dtype) if stack.cell == "lstm" else None
    go = before >= 0
    if go.any():
        for l in range(L):
            h[l, go] = torch.from_numpy(rec.gate(l, "h")[before[go]]).to(dtype)
            if c is not None:
                c[l, go] = torch.from_numpy(rec.gate(l, "c")[before[go]]).to(dtype)
    return (h, c) if c is not None else h


def lookback(model, ids, mode: str = "sentence", max_lag: int = 50, positions=None,
             recording: Recording | None = None, batch_size: int = 256,
             dtype: torch.dtype = torch.float32) -> Lookback:
    """‖∂ ln p(w_t) / ∂ e_{t−k}‖ for k = 1..max_lag and every target ``positions``
    (default: all) of ``ids``. ``recording`` (with h, and c for an LSTM, in every
    layer) supplies the states where a column starts inside its context; it is
    computed when needed and not given."""
    if mode not in MODES:
        raise SeqlmError(f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
    if max_lag < 1:
        raise SeqlmError(f"max_lag must be >= 1, got {max_lag}")
    embedding, stack, decoder = recurrent_parts(model)
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 1 or ids.size == 0:
        raise SeqlmError("cannot measure an empty token stream")
    pos = np.arange(ids.size) if positions is None else np.asarray(positions, dtype=np.int64)
    if pos.size and (pos.min() < 0 or pos.max() >= ids.size):
        raise SeqlmError(f"positions must lie in [0, {ids.size})")
    inputs = stream_inputs(ids)
    start = np.maximum(context_starts(ids, mode)[pos], pos - max_lag + 1)  # first step of each column
    before = np.where(start > context_starts(ids, mode)[pos], start - 1, -1)
    if (before >= 0).any() and recording is None:
        recording = record(model, ids, mode, keep=("h", "c") if stack.cell == "lstm" else ("h",),
                           dtype=dtype, next_word=False)
    m = copy.deepcopy(model).to(dtype).eval().requires_grad_(False)
    m_emb, m_stack, m_dec = recurrent_parts(m)
    norms = np.full((pos.size, max_lag), np.nan)
    order = np.argsort(pos - start, kind="stable")
    for k in range(0, order.size, batch_size):
        cols = order[k:k + batch_size]
        lengths = pos[cols] - start[cols] + 1
        T = int(lengths.max())
        win = np.full((T, cols.size), EOS_ID, dtype=np.int64)           # (T, C), padded at the end
        for j, c in enumerate(cols):
            win[:lengths[j], j] = inputs[start[c]:pos[c] + 1]
        x = m_emb(torch.from_numpy(win)).detach().requires_grad_(True)  # (T, C, D): the leaf
        with torch.enable_grad():
            y, _ = m_stack(x, _initial_state(stack, recording, before[cols], dtype))  # (T, C, H)
            last = torch.from_numpy(lengths - 1)
            h_t = y[last, torch.arange(cols.size)]                       # (C, H): the predicting step
            logp = torch.log_softmax(m_dec(h_t), dim=-1)
            logp.gather(1, torch.from_numpy(ids[pos[cols]])[:, None]).sum().backward()
        g = x.grad.norm(dim=-1).double().numpy()                         # (T, C)
        for j, c in enumerate(cols):
            n = int(lengths[j])
            norms[c, :n] = g[n - 1::-1, j]                               # lag k = n - s: column k - 1
    return Lookback(norms, pos, max_lag, mode)
