"""Initialisation of one recurrent layer, in the explicit (stacked) layout.

- ``"pytorch"``: every tensor U(-1/√H, 1/√H), nn.LSTM's default.
- ``"uniform"``: every tensor U(-a, a), a = ``init_scale`` (Zaremba et al. 2014 use 0.1 / 0.05 / 0.04).
- ``"orthogonal"``: each gate's H×H block of W_hh a random orthogonal matrix,
  W_xh U(-a, a), biases zero.

``forget_bias`` (LSTM only) then sets the forget-gate block of b. Random numbers
come from the given ``torch.Generator`` on the CPU in float64 and are cast
afterwards, so a seed gives the same weights on every device and dtype.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from seqlm.errors import SeqlmError

INITS = ("pytorch", "uniform", "orthogonal")


def _uniform(shape: tuple[int, ...], a: float, gen: torch.Generator) -> Tensor:
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * a


def orthogonal_(n: int, gen: torch.Generator) -> Tensor:
    """A Haar-random n×n orthogonal matrix (QR of a Gaussian with the signs of R fixed)."""
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def init_layer_tensors(cell: str, variant: str | None, input_size: int, hidden_size: int,
                       init: str, init_scale: float, forget_bias: float | None,
                       gen: torch.Generator) -> dict[str, Tensor]:
    """Fresh float64 ``W_xh, W_hh, b`` (+ ``b_hn``) for one layer."""
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    H, I = hidden_size, input_size
    if init not in INITS:
        raise SeqlmError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    if init == "pytorch":
        a = 1.0 / math.sqrt(H)
        t = {"W_xh": _uniform((G * H, I), a, gen), "W_hh": _uniform((G * H, H), a, gen), "b": _uniform((G * H,), a, gen)}
        if variant == "reset_after":
            t["b_hn"] = _uniform((H,), a, gen)
    elif init == "uniform":
        if not init_scale > 0:
            raise SeqlmError(f"init_scale must be positive, got {init_scale}")
        a = init_scale
        t = {"W_xh": _uniform((G * H, I), a, gen), "W_hh": _uniform((G * H, H), a, gen), "b": _uniform((G * H,), a, gen)}
        if variant == "reset_after":
            t["b_hn"] = _uniform((H,), a, gen)
    else:
        t = {"W_xh": _uniform((G * H, I), init_scale, gen),
             "W_hh": torch.cat([orthogonal_(H, gen) for _ in range(G)]),
             "b": torch.zeros(G * H, dtype=torch.float64)}
        if variant == "reset_after":
            t["b_hn"] = torch.zeros(H, dtype=torch.float64)
    if forget_bias is not None:
        if cell != "lstm":
            raise SeqlmError(f"forget_bias applies to the lstm cell only, not {cell}")
        t["b"][:H] = forget_bias            # block 0 of the f, i, o, c order is the forget gate
    return t
