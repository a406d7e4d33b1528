"""Stacking reference layers: the output sequence of layer l is the input of layer l+1."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from seqlm.errors import SeqlmError
from seqlm.reference._common import Grads


class Stack:
    """A multi-layer recurrent network of reference layers (no dropout: the
    reference is deterministic). ``states`` are per-layer lists."""

    def __init__(self, layers: Sequence[Any]) -> None:
        if not layers:
            raise SeqlmError("a Stack needs at least one layer")
        for lower, upper in zip(layers, layers[1:]):
            if upper.input_size != lower.hidden_size:
                raise SeqlmError(f"layer input size {upper.input_size} does not match "
                                 f"the hidden size {lower.hidden_size} below it")
        self.layers = list(layers)

    @property
    def params(self) -> dict[str, np.ndarray]:
        """All parameters, keyed ``"{layer}.{name}"`` (views of the layers' arrays)."""
        return {f"{l}.{k}": v for l, layer in enumerate(self.layers) for k, v in layer.params.items()}

    def forward(self, xs: np.ndarray, states0: Sequence[Any] | None = None
                ) -> tuple[np.ndarray, list[Any]]:
        """Returns the top layer's ``hs`` (T, B, H) and the per-layer caches."""
        states0 = states0 if states0 is not None else [None] * len(self.layers)
        caches = []
        for layer, s0 in zip(self.layers, states0):
            xs, cache = layer.forward(xs, s0)
            caches.append(cache)
        return xs, caches

    def backward(self, dhs: np.ndarray, caches: list[Any],
                 dstates_T: Sequence[Any] | None = None) -> list[Grads]:
        """Per-layer ``Grads``, bottom first; the bottom's ``dxs`` is ∂L/∂(input)."""
        dstates_T = dstates_T if dstates_T is not None else [None] * len(self.layers)
        out: list[Grads] = []
        for layer, cache, ds in reversed(list(zip(self.layers, caches, dstates_T))):
            g = layer.backward(dhs, cache, ds)
            dhs = g.dxs
            out.append(g)
        return out[::-1]
