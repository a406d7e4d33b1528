"""Exact weight conversion between the three parameterisations.

- reference (``seqlm.reference``): the book's names, e.g. LSTM ``W_f (H, H+I)``
  on [h_{t-1}, x_t] and ``b_f``; GRU reset_after ``W_z, W_r, W_xn, W_hn, b_z,
  b_r, b_xn, b_hn``.
- explicit (``seqlm.nn.cells``): stacked ``W_xh (G·H, I)``, ``W_hh (G·H, H)``,
  ``b (G·H,)`` (+ ``b_hn``), the layout of ``seqlm.reference.layout``.
- PyTorch (``nn.RNN/LSTM/GRU``): ``weight_ih_l{k}``, ``weight_hh_l{k}``,
  ``bias_ih_l{k}``, ``bias_hh_l{k}`` with LSTM blocks i, f, g, o and GRU r, z, n.

Explicit -> PyTorch puts the single bias in ``bias_ih`` and zeros in ``bias_hh``
(for the GRU n-block, ``bias_hh`` holds b_hn, which sits inside r⊙(·) and cannot
be merged). PyTorch -> explicit sums the two biases (again except GRU b_hn).
Every mapping is a permutation of blocks, so explicit -> PyTorch -> explicit and
reference -> explicit -> reference are bitwise exact; PyTorch -> explicit ->
PyTorch is exact up to the one rounding of bias_ih + bias_hh.

These functions work on tensors only; the modules convert themselves with
methods built on them (``RecurrentStack.to_backend``,
``.reference_params``, ``.load_reference_params``), and the module-level
helpers at the end of this file just call those methods.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from seqlm.errors import SeqlmError
from seqlm.reference import layout


def _blocks(W: Tensor, order: list[int], H: int) -> Tensor:
    return torch.cat([W[k * H:(k + 1) * H] for k in order])


def _inverse(order: list[int]) -> list[int]:
    inv = [0] * len(order)
    for j, k in enumerate(order):
        inv[k] = j
    return inv


def explicit_to_torch_weights(cell: str, W_xh: Tensor, W_hh: Tensor, b: Tensor,
                              b_hn: Tensor | None = None) -> dict[str, Tensor]:
    """One explicit layer's tensors -> PyTorch's ``weight_ih, weight_hh, bias_ih, bias_hh``."""
    H = W_hh.shape[1]
    order = layout.torch_block_order(cell)
    bias_hh = torch.zeros_like(b)
    if cell == "gru":
        if b_hn is None:
            raise SeqlmError("PyTorch's GRU is the reset_after variant; convert a 'reset_after' GRU, not 'cho'")
        bias_hh[2 * H:] = b_hn
    return {"weight_ih": _blocks(W_xh, order, H), "weight_hh": _blocks(W_hh, order, H),
            "bias_ih": _blocks(b, order, H), "bias_hh": bias_hh}


def torch_to_explicit_weights(cell: str, weight_ih: Tensor, weight_hh: Tensor,
                              bias_ih: Tensor | None, bias_hh: Tensor | None) -> dict[str, Tensor]:
    """PyTorch's four tensors of one layer -> explicit ``W_xh, W_hh, b`` (+ ``b_hn`` for the GRU)."""
    H = weight_hh.shape[1]
    inv = _inverse(layout.torch_block_order(cell))
    bias_ih = torch.zeros(weight_hh.shape[0], dtype=weight_hh.dtype, device=weight_hh.device) if bias_ih is None else bias_ih
    bias_hh = torch.zeros_like(bias_ih) if bias_hh is None else bias_hh
    out = {"W_xh": _blocks(weight_ih, inv, H), "W_hh": _blocks(weight_hh, inv, H)}
    if cell == "gru":                       # r, z biases merge; b_hn stays inside r ⊙ (·)
        b = torch.cat([bias_ih[:2 * H] + bias_hh[:2 * H], bias_ih[2 * H:]])
        out["b"], out["b_hn"] = _blocks(b, inv, H), bias_hh[2 * H:].clone()
    else:
        out["b"] = _blocks(bias_ih + bias_hh, inv, H)
    return out


# --------------------------------------------------------------------------- reference <-> explicit

def explicit_to_reference(cell: str, variant: str | None, W_xh: Any, W_hh: Any, b: Any,
                          b_hn: Any = None) -> dict[str, Any]:
    """Stacked explicit tensors (torch or NumPy) -> the reference's named parameters."""
    return layout.unstack(cell, variant, W_hh, W_xh, b, b_hn)


def reference_to_explicit(cell: str, variant: str | None, params: dict[str, Any]) -> dict[str, Any]:
    """The reference's named parameters -> stacked ``W_xh, W_hh, b`` (+ ``b_hn``)."""
    return layout.stack(cell, variant, params)


def reference_params_of(cell: str, variant: str | None, tensors: dict[str, Tensor],
                        as_numpy: bool = True) -> dict[str, Any]:
    """One layer's explicit-layout tensors -> reference-named copies (NumPy or torch)."""
    out = explicit_to_reference(cell, variant, **{k: v.detach() for k, v in tensors.items()})
    if as_numpy:
        return {k: v.cpu().numpy().copy() for k, v in out.items()}
    return {k: v.clone() for k, v in out.items()}


def as_torch(p: dict[str, Any]) -> dict[str, Tensor]:
    return {k: torch.as_tensor(v) for k, v in p.items()}


# ------------------------------------------------- module-level helpers (call the methods)

def reference_params(module, as_numpy: bool = True) -> dict[str, Any] | list[dict[str, Any]]:
    """The reference-named parameters of an explicit layer (a dict), or of a
    ``RecurrentStack`` of either backend (a list of dicts, one per layer).
    NumPy copies by default; ``as_numpy=False`` gives detached torch tensors."""
    return module.reference_params(as_numpy)


def load_reference_params(module, params: dict[str, Any] | list[dict[str, Any]]) -> None:
    """Copy reference-named parameters into an explicit layer (dict) or into a
    ``RecurrentStack`` of either backend (list of dicts, one per layer)."""
    module.load_reference_params(params)


def explicit_to_fused(stack):
    """A new fused-backend ``RecurrentStack`` computing the same function as an
    explicit one (GRU: only the reset_after variant has a fused form)."""
    if stack.backend != "explicit":
        raise SeqlmError("explicit_to_fused needs an explicit-backend stack")
    return stack.to_backend("fused")


def fused_to_explicit(stack, autograd: bool = False):
    """A new explicit-backend ``RecurrentStack`` computing the same function as a fused one."""
    if stack.backend != "fused":
        raise SeqlmError("fused_to_explicit needs a fused-backend stack")
    return stack.to_backend("explicit", autograd=autograd)
