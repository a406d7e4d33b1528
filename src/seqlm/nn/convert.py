"""Exact weight conversion between the three parameterisations.

- reference (``seqlm.reference``): the book's names, e.g. LSTM ``W_f (H, H+I)``
  on [h_{t-1}, x_t] and ``b_f``; GRU reset_after ``W_z, W_r, W_xn, W_hn, b_z,
  b_r, b_xn, b_hn``.
- explicit (``seqlm.nn.cells``): stacked ``W_x (G·H, I)``, ``W_h (G·H, H)``,
  ``b (G·H,)`` in the block order of ``GATE_ORDER`` (LSTM f, i, o, c; GRU z, r, ·),
  plus ``b_hn`` for the GRU reset_after variant.
- PyTorch (``nn.RNN/LSTM/GRU``): ``weight_ih_l{k}``, ``weight_hh_l{k}``,
  ``bias_ih_l{k}``, ``bias_hh_l{k}`` with LSTM blocks i, f, g, o and GRU r, z, n.

Explicit -> PyTorch puts the single bias in ``bias_ih`` and zeros in ``bias_hh``
(for the GRU n-block, ``bias_hh`` holds b_hn, which sits inside r⊙(·) and cannot
be merged). PyTorch -> explicit sums the two biases (again except GRU b_hn).
Every mapping is a permutation of blocks, so explicit -> PyTorch -> explicit and
reference -> explicit -> reference are bitwise exact; PyTorch -> explicit ->
PyTorch is exact up to the one rounding of bias_ih + bias_hh.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from seqlm.errors import SeqlmError

# explicit block index of each PyTorch block, in PyTorch's order
_TORCH_FROM_EXPLICIT = {"rnn": [0], "lstm": [1, 0, 3, 2], "gru": [1, 0, 2]}  # i,f,g,o <- f,i,o,c; r,z,n <- z,r,n


def _blocks(W: Tensor, order: list[int], H: int) -> Tensor:
    return torch.cat([W[k * H:(k + 1) * H] for k in order])


def _inverse(order: list[int]) -> list[int]:
    inv = [0] * len(order)
    for j, k in enumerate(order):
        inv[k] = j
    return inv


def explicit_to_torch_weights(cell: str, W_x: Tensor, W_h: Tensor, b: Tensor,
                              b_hn: Tensor | None = None) -> dict[str, Tensor]:
    """One explicit layer's tensors -> PyTorch's ``weight_ih, weight_hh, bias_ih, bias_hh``."""
    H = W_h.shape[1]
    order = _TORCH_FROM_EXPLICIT[cell]
    bias_hh = torch.zeros_like(b)
    if cell == "gru":
        if b_hn is None:
            raise SeqlmError("PyTorch's GRU is the reset_after variant; convert a 'reset_after' GRU, not 'cho'")
        bias_hh[2 * H:] = b_hn
    return {"weight_ih": _blocks(W_x, order, H), "weight_hh": _blocks(W_h, order, H),
            "bias_ih": _blocks(b, order, H), "bias_hh": bias_hh}


def torch_to_explicit_weights(cell: str, weight_ih: Tensor, weight_hh: Tensor,
                              bias_ih: Tensor | None, bias_hh: Tensor | None) -> dict[str, Tensor]:
    """PyTorch's four tensors of one layer -> explicit ``W_x, W_h, b`` (+ ``b_hn`` for the GRU)."""
    H = weight_hh.shape[1]
    inv = _inverse(_TORCH_FROM_EXPLICIT[cell])
    bias_ih = torch.zeros(weight_hh.shape[0], dtype=weight_hh.dtype, device=weight_hh.device) if bias_ih is None else bias_ih
    bias_hh = torch.zeros_like(bias_ih) if bias_hh is None else bias_hh
    out = {"W_x": _blocks(weight_ih, inv, H), "W_h": _blocks(weight_hh, inv, H)}
    if cell == "gru":                       # r, z biases merge; b_hn stays inside r ⊙ (·)
        b = torch.cat([bias_ih[:2 * H] + bias_hh[:2 * H], bias_ih[2 * H:]])
        out["b"], out["b_hn"] = _blocks(b, inv, H), bias_hh[2 * H:].clone()
    else:
        out["b"] = _blocks(bias_ih + bias_hh, inv, H)
    return out


# --------------------------------------------------------------------------- reference <-> explicit

def explicit_to_reference(cell: str, variant: str | None, W_x: Any, W_h: Any, b: Any,
                          b_hn: Any = None) -> dict[str, Any]:
    """Stacked explicit tensors (torch or NumPy) -> the reference's named parameters."""
    H = W_h.shape[1]
    cat = np.concatenate if isinstance(W_h, np.ndarray) else torch.cat
    blk = lambda W, k: W[k * H:(k + 1) * H]  # noqa: E731
    if cell == "rnn":
        return {"W_hh": W_h, "W_xh": W_x, "b_h": b}
    if cell == "lstm":
        gates = ("f", "i", "o", "c")
        out = {f"W_{g}": cat([blk(W_h, k), blk(W_x, k)], 1) for k, g in enumerate(gates)}
        out |= {f"b_{g}": blk(b, k) for k, g in enumerate(gates)}
        return {k: out[k] for k in ("W_f", "W_i", "W_c", "W_o", "b_f", "b_i", "b_c", "b_o")}
    if variant == "cho":
        return {"W_z": cat([blk(W_h, 0), blk(W_x, 0)], 1), "W_r": cat([blk(W_h, 1), blk(W_x, 1)], 1),
                "W_h": cat([blk(W_h, 2), blk(W_x, 2)], 1),
                "b_z": blk(b, 0), "b_r": blk(b, 1), "b_h": blk(b, 2)}
    return {"W_z": cat([blk(W_h, 0), blk(W_x, 0)], 1), "W_r": cat([blk(W_h, 1), blk(W_x, 1)], 1),
            "W_xn": blk(W_x, 2), "W_hn": blk(W_h, 2),
            "b_z": blk(b, 0), "b_r": blk(b, 1), "b_xn": blk(b, 2), "b_hn": b_hn}


def reference_to_explicit(cell: str, variant: str | None, params: dict[str, Any]) -> dict[str, Any]:
    """The reference's named parameters -> stacked ``W_x, W_h, b`` (+ ``b_hn``)."""
    p = params
    first = next(iter(p.values()))
    cat = np.concatenate if isinstance(first, np.ndarray) else torch.cat
    if cell == "rnn":
        return {"W_x": p["W_xh"], "W_h": p["W_hh"], "b": p["b_h"]}
    if cell == "lstm":
        H = p["W_f"].shape[0]
        W = cat([p[f"W_{g}"] for g in ("f", "i", "o", "c")])
        return {"W_x": W[:, H:], "W_h": W[:, :H], "b": cat([p[f"b_{g}"] for g in ("f", "i", "o", "c")])}
    H = p["W_z"].shape[0]
    if variant == "cho":
        W = cat([p["W_z"], p["W_r"], p["W_h"]])
        return {"W_x": W[:, H:], "W_h": W[:, :H], "b": cat([p["b_z"], p["b_r"], p["b_h"]])}
    return {"W_x": cat([p["W_z"][:, H:], p["W_r"][:, H:], p["W_xn"]]),
            "W_h": cat([p["W_z"][:, :H], p["W_r"][:, :H], p["W_hn"]]),
            "b": cat([p["b_z"], p["b_r"], p["b_xn"]]), "b_hn": p["b_hn"]}


def _layer_tensors(layer) -> dict[str, Tensor]:
    names = ["W_x", "W_h", "b"] + (["b_hn"] if getattr(layer, "variant", None) == "reset_after" else [])
    return {k: getattr(layer, k) for k in names}


def reference_params(module, as_numpy: bool = True) -> dict[str, Any] | list[dict[str, Any]]:
    """The reference-named parameters of an explicit layer (a dict), or of a
    ``RecurrentStack`` of either backend (a list of dicts, one per layer).
    NumPy copies by default; ``as_numpy=False`` gives detached torch tensors."""
    from seqlm.nn.stack import RecurrentStack
    if isinstance(module, RecurrentStack):
        return [reference_params_of(module.cell, module.variant, t, as_numpy) for t in module.layer_tensors()]
    return reference_params_of(module.cell, getattr(module, "variant", None),
                               {k: v.detach() for k, v in _layer_tensors(module).items()}, as_numpy)


def reference_params_of(cell: str, variant: str | None, tensors: dict[str, Tensor],
                        as_numpy: bool = True) -> dict[str, Any]:
    out = explicit_to_reference(cell, variant, **{k: v.detach() for k, v in tensors.items()})
    if as_numpy:
        return {k: v.cpu().numpy().copy() for k, v in out.items()}
    return {k: v.clone() for k, v in out.items()}


@torch.no_grad()
def load_reference_params(module, params: dict[str, Any] | list[dict[str, Any]]) -> None:
    """Copy reference-named parameters into an explicit layer (dict) or into a
    ``RecurrentStack`` of either backend (list of dicts, one per layer)."""
    from seqlm.nn.stack import RecurrentStack
    if isinstance(module, RecurrentStack):
        if len(params) != module.num_layers:
            raise SeqlmError(f"got parameters for {len(params)} layers, the stack has {module.num_layers}")
        for l, p in enumerate(params):
            module.set_layer_tensors(l, reference_to_explicit(module.cell, module.variant, _as_torch(p)))
        return
    for k, v in reference_to_explicit(module.cell, getattr(module, "variant", None), _as_torch(params)).items():
        dst = getattr(module, k)
        if tuple(dst.shape) != tuple(v.shape):
            raise SeqlmError(f"parameter {k}: shape {tuple(v.shape)} does not fit the layer's {tuple(dst.shape)}")
        dst.copy_(v)


def _as_torch(p: dict[str, Any]) -> dict[str, Tensor]:
    return {k: torch.as_tensor(v) for k, v in p.items()}


def explicit_to_fused(stack):
    """A new fused-backend ``RecurrentStack`` computing the same function as an
    explicit one (GRU: only the reset_after variant has a fused form)."""
    from seqlm.nn.stack import RecurrentStack
    if stack.backend != "explicit":
        raise SeqlmError("explicit_to_fused needs an explicit-backend stack")
    new = RecurrentStack(**(stack.config() | {"backend": "fused"}), device=stack.device, dtype=stack.dtype)
    for l, t in enumerate(stack.layer_tensors()):
        new.set_layer_tensors(l, t)
    new.train(stack.training)
    return new


def fused_to_explicit(stack, autograd: bool = False):
    """A new explicit-backend ``RecurrentStack`` computing the same function as a fused one."""
    from seqlm.nn.stack import RecurrentStack
    if stack.backend != "fused":
        raise SeqlmError("fused_to_explicit needs a fused-backend stack")
    new = RecurrentStack(**(stack.config() | {"backend": "explicit"}), autograd=autograd,
                         device=stack.device, dtype=stack.dtype)
    for l, t in enumerate(stack.layer_tensors()):
        new.set_layer_tensors(l, t)
    new.train(stack.training)
    return new
