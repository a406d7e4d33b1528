"""The stacked-weight layout and the gate order: the one home of both, for NumPy and torch.

The book writes one matrix per gate acting on the concatenation [h_{t-1}, x_t],
e.g. the LSTM's ``W_f (H, H+I)`` and ``b_f`` (the *named* layout of
``seqlm.reference``). Every fast implementation stacks the gates instead, so that
one GEMM serves them all:

    W_hh (G·H, H)   the h_{t-1}-columns of every gate's W_·   (for the RNN: eq. 5.1's W_hh)
    W_xh (G·H, I)   the x_t-columns                          (for the RNN: eq. 5.1's W_xh)
    b    (G·H,)
    b_hn (H,)       GRU reset_after only: it sits inside r_t ⊙ (·) and cannot join b

with row blocks of H rows in the order of :data:`GATES` (σ-gates first, so one
σ call covers them). ``seqlm.reference`` stacks with :func:`stack`, the explicit
layers of ``seqlm.nn`` store this layout as their parameters, and PyTorch's
``nn.RNN/LSTM/GRU`` keep the same two matrices in their own block order
(:data:`TORCH_GATES`; :func:`torch_block_order`). Every conversion is a
permutation of blocks, hence exact.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from seqlm.errors import SeqlmError

# (cell, variant) -> row-block order of the stacked matrices
GATES: dict[tuple[str, str | None], tuple[str, ...]] = {
    ("rnn", None): ("h",),                  # (5.1)
    ("lstm", None): ("f", "i", "o", "c"),   # (5.4), (5.5), (5.8), (5.6): σ-gates, then c̃
    ("gru", "cho"): ("z", "r", "h"),        # (5.9), (5.10), (5.11)'s candidate W_h
    ("gru", "reset_after"): ("z", "r", "n"),  # (5.11'): PyTorch's n
}
# PyTorch's block order, in the same gate letters (its "g" is the LSTM's c̃, its
# n-block holds the GRU candidate of either variant).
TORCH_GATES = {"rnn": ("h",), "lstm": ("i", "f", "c", "o"), "gru": ("r", "z", "n")}
# The named parameters of each cell, in the reference's order.
PARAM_NAMES: dict[tuple[str, str | None], tuple[str, ...]] = {
    ("rnn", None): ("W_hh", "W_xh", "b_h"),
    ("lstm", None): ("W_f", "W_i", "W_c", "W_o", "b_f", "b_i", "b_c", "b_o"),
    ("gru", "cho"): ("W_z", "W_r", "W_h", "b_z", "b_r", "b_h"),
    ("gru", "reset_after"): ("W_z", "W_r", "W_xn", "W_hn", "b_z", "b_r", "b_xn", "b_hn"),
}
CELLS = ("rnn", "lstm", "gru")
GRU_VARIANTS = ("cho", "reset_after")
# How tables, legends and captions name the two GRUs (every GRU row or curve names its variant).
GRU_VARIANT_NAMES = {"cho": "cho", "reset_after": "reset-after"}


def gru_variant(backend: str, variant: str | None) -> str:
    """The GRU a backend computes: ``variant`` if given, else the backend's own (explicit:
    the book's "cho"; fused, i.e. torch.nn.GRU / cuDNN: "reset_after")."""
    return variant or ("cho" if backend == "explicit" else "reset_after")


def with_variant(label: str, variant: str | None) -> str:
    """``label`` with its GRU variant named ("GRU" → "GRU (reset-after)"); as is for None."""
    return f"{label} ({GRU_VARIANT_NAMES.get(variant, variant)})" if variant else label


def cell_label(cell: str, variant: str | None = None) -> str:
    """A cell as legends name it: "RNN", "LSTM", "GRU (cho)" (``variant`` counts for the GRU only)."""
    return with_variant(cell.upper(), variant if cell == "gru" else None)


def _key(cell: str, variant: str | None) -> tuple[str, str | None]:
    key = (cell, (variant or "cho") if cell == "gru" else None)
    if key not in GATES:
        if cell == "gru":
            raise SeqlmError(f"unknown GRU variant {variant!r}; choose one of {', '.join(GRU_VARIANTS)}")
        raise SeqlmError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
    return key


def gates(cell: str, variant: str | None = None) -> tuple[str, ...]:
    """The block order of ``cell`` (``variant`` matters for the GRU only)."""
    return GATES[_key(cell, variant)]


def param_names(cell: str, variant: str | None = None) -> tuple[str, ...]:
    """The book's parameter names of ``cell``, in the reference's order."""
    return PARAM_NAMES[_key(cell, variant)]


def num_gates(cell: str) -> int:
    return len(gates(cell))


def torch_block_order(cell: str) -> list[int]:
    """For each of PyTorch's blocks, in its order, the index of our block."""
    ours = [("n" if g == "h" and cell == "gru" else g) for g in gates(cell, "reset_after")]
    return [ours.index(g) for g in TORCH_GATES[cell]]


def _cat(first: Any):
    if isinstance(first, np.ndarray):
        return np.concatenate
    import torch  # torch tensors come from seqlm.nn; the NumPy reference never gets here
    return torch.cat


def stack(cell: str, variant: str | None, params: dict[str, Any]) -> dict[str, Any]:
    """Named parameters (the book's ``W_f``, ``b_f``, …) -> ``W_hh, W_xh, b`` (+ ``b_hn``).
    NumPy arrays or torch tensors; the result is of the same kind."""
    p = params
    if cell == "rnn":
        return {"W_hh": p["W_hh"], "W_xh": p["W_xh"], "b": p["b_h"]}
    order = gates(cell, variant)
    cat = _cat(p[f"W_{order[0]}"])
    H = p[f"W_{order[0]}"].shape[0]
    if variant == "reset_after":    # the candidate's two halves are separate matrices
        W_hh = cat([p["W_z"][:, :H], p["W_r"][:, :H], p["W_hn"]])
        W_xh = cat([p["W_z"][:, H:], p["W_r"][:, H:], p["W_xn"]])
        return {"W_hh": W_hh, "W_xh": W_xh, "b": cat([p["b_z"], p["b_r"], p["b_xn"]]), "b_hn": p["b_hn"]}
    W = cat([p[f"W_{g}"] for g in order])                        # (G·H, H+I) on [h_{t-1}, x_t]
    return {"W_hh": W[:, :H], "W_xh": W[:, H:], "b": cat([p[f"b_{g}"] for g in order])}


def unstack(cell: str, variant: str | None, W_hh: Any, W_xh: Any, b: Any, b_hn: Any = None) -> dict[str, Any]:
    """The inverse of :func:`stack` (also maps stacked *gradients* to named ones)."""
    if cell == "rnn":
        return {"W_hh": W_hh, "W_xh": W_xh, "b_h": b}
    H = W_hh.shape[1]
    cat = _cat(W_hh)
    blk = lambda M, k: M[k * H:(k + 1) * H]  # noqa: E731
    order = gates(cell, variant)
    out: dict[str, Any] = {}
    for k, g in enumerate(order):
        if g == "n":                 # reset_after: W_xn and W_hn stay apart
            out |= {"W_xn": blk(W_xh, k), "W_hn": blk(W_hh, k), "b_xn": blk(b, k), "b_hn": b_hn}
        else:
            out |= {f"W_{g}": cat([blk(W_hh, k), blk(W_xh, k)], 1), f"b_{g}": blk(b, k)}
    return {name: out[name] for name in param_names(cell, variant)}
