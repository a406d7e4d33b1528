"""``RecurrentStack``: the one recurrent-layer interface of seqlm, two backends.

- ``backend="explicit"``: ``seqlm.nn.cells`` layers, the book's equations
  (including the book's GRU, ``variant="cho"``), hand-written backward.
- ``backend="fused"``: ``torch.nn.RNN(tanh)/LSTM/GRU`` (cuDNN on GPU, the
  native/oneDNN kernels on CPU); the GRU is then necessarily ``reset_after``.

Both take and return states exactly as nn.LSTM/nn.GRU/nn.RNN do, so they are
interchangeable; ``stack.to_backend("fused" | "explicit")`` converts the weights
exactly, and ``stack.reference_params()`` / ``load_reference_params`` speak the
book's names (``seqlm.reference``). Dropout is applied between layers only,
never to the top layer's output.
"""
from __future__ import annotations

from typing import Any, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqlm.errors import SeqlmError
from seqlm.nn.cells import ExplicitLayer, make_layer
from seqlm.nn.convert import (as_torch, explicit_to_torch_weights, reference_params_of,
                              reference_to_explicit, torch_to_explicit_weights)
from seqlm.nn.init import INITS, init_layer_tensors

State = Union[Tensor, tuple[Tensor, Tensor]]
from seqlm.reference.layout import CELLS, GRU_VARIANTS, gru_variant

BACKENDS = ("explicit", "fused")


class RecurrentStack(nn.Module):
    """A stack of ``num_layers`` recurrent layers of one cell type.

    ``forward(x (T, B, I), state=None) -> (y (T, B, H), state)`` with ``state`` a
    tensor h (L, B, H) for rnn/gru and a tuple (h, c) for lstm (None -> zeros).
    ``variant`` (gru only): None picks "cho" for explicit, "reset_after" for fused.
    ``autograd`` (explicit only): unroll ``step`` under autograd instead of the
    hand-written layer backward. ``generator`` seeds the initialisation (a fresh
    generator seeded with 0 when None: the global RNG is never touched).
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 dropout: float = 0.0, backend: str = "explicit", variant: str | None = None,
                 init: str = "pytorch", init_scale: float = 0.1, forget_bias: float | None = None,
                 batch_first: bool = False, *, autograd: bool = False,
                 generator: torch.Generator | None = None, device=None, dtype=None) -> None:
        super().__init__()
        if cell not in CELLS:
            raise SeqlmError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
        if backend not in BACKENDS:
            raise SeqlmError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if init not in INITS:
            raise SeqlmError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
        if num_layers < 1 or input_size < 1 or hidden_size < 1:
            raise SeqlmError(f"num_layers, input_size and hidden_size must be positive, got "
                             f"{num_layers}, {input_size}, {hidden_size}")
        if not 0.0 <= dropout < 1.0:
            raise SeqlmError(f"dropout must be in [0, 1), got {dropout}")
        if forget_bias is not None and cell != "lstm":
            raise SeqlmError(f"forget_bias applies to the lstm cell only, not {cell}")
        if cell == "gru":
            variant = gru_variant(backend, variant)
            if variant not in GRU_VARIANTS:
                raise SeqlmError(f"unknown GRU variant {variant!r}; choose one of {', '.join(GRU_VARIANTS)}")
            if backend == "fused" and variant == "cho":
                raise SeqlmError("the fused GRU backend (torch.nn.GRU/cuDNN) only computes variant='reset_after'; "
                                 "use backend='explicit' for the book's variant='cho'")
        else:
            variant = None
        self.cell, self.input_size, self.hidden_size, self.num_layers = cell, input_size, hidden_size, num_layers
        self.dropout, self.backend, self.variant, self.batch_first = dropout, backend, variant, batch_first
        self.init, self.init_scale, self.forget_bias = init, init_scale, forget_bias
        kw = {"device": device, "dtype": dtype}
        if backend == "explicit":
            self.layers = nn.ModuleList(
                make_layer(cell, input_size if l == 0 else hidden_size, hidden_size, variant or "cho",
                           autograd, **kw) for l in range(num_layers))
        else:
            cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
            with torch.random.fork_rng(devices=[]):     # nn.* init draws from the global RNG
                # torch warns about inter-layer dropout with one layer, where it is a no-op
                self.rnn = cls(input_size, hidden_size, num_layers,
                               dropout=dropout if num_layers > 1 else 0.0, **kw)
        self.reset_parameters(generator)

    # ------------------------------------------------------------------ parameters
    def config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-able), for checkpoints."""
        return {"cell": self.cell, "input_size": self.input_size, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "dropout": self.dropout, "backend": self.backend,
                "variant": self.variant, "init": self.init, "init_scale": self.init_scale,
                "forget_bias": self.forget_bias, "batch_first": self.batch_first}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw fresh weights (``init``, ``init_scale``, ``forget_bias``). The same
        generator state gives the same function in both backends."""
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        for l in range(self.num_layers):
            I = self.input_size if l == 0 else self.hidden_size
            self.set_layer_tensors(l, init_layer_tensors(self.cell, self.variant, I, self.hidden_size, self.init,
                                                         self.init_scale, self.forget_bias, gen))

    def layer_tensors(self) -> list[dict[str, Tensor]]:
        """Per layer, detached copies of ``W_xh, W_hh, b`` (+ ``b_hn``) in the explicit layout."""
        if self.backend == "explicit":
            return [{k: v.detach().clone() for k, v in layer.tensors().items()} for layer in self.layers]
        out = []
        for l in range(self.num_layers):
            w = {k: getattr(self.rnn, f"{k}_l{l}").detach() for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            out.append(torch_to_explicit_weights(self.cell, **w))
        return out

    def reference_params(self, as_numpy: bool = True) -> list[dict]:
        """Per layer, the book's named parameters (``W_f``, ``b_f``, …), NumPy copies by default."""
        return [reference_params_of(self.cell, self.variant, t, as_numpy) for t in self.layer_tensors()]

    def load_reference_params(self, params: list[dict]) -> None:
        """Copy the book's named parameters (a list, one dict per layer) into either backend."""
        if len(params) != self.num_layers:
            raise SeqlmError(f"got parameters for {len(params)} layers, the stack has {self.num_layers}")
        for l, p in enumerate(params):
            self.set_layer_tensors(l, reference_to_explicit(self.cell, self.variant, as_torch(p)))

    def to_backend(self, backend: str, autograd: bool = False) -> "RecurrentStack":
        """A new stack of the other backend computing the same function (exact weight
        conversion; a GRU has a fused form only in its reset_after variant)."""
        new = RecurrentStack(**(self.config() | {"backend": backend}), autograd=autograd,
                             device=self.device, dtype=self.dtype)
        for l, t in enumerate(self.layer_tensors()):
            new.set_layer_tensors(l, t)
        new.train(self.training)
        return new

    @torch.no_grad()
    def set_layer_tensors(self, l: int, t: dict[str, Tensor]) -> None:
        """Copy explicit-layout tensors into layer ``l`` (converting for the fused backend)."""
        if self.backend == "explicit":
            layer = self.layers[l]
            for k, v in t.items():
                dst = getattr(layer, k)
                if tuple(dst.shape) != tuple(v.shape):
                    raise SeqlmError(f"layer {l} {k}: shape {tuple(v.shape)} does not fit {tuple(dst.shape)}")
                dst.copy_(v)
            return
        for k, v in explicit_to_torch_weights(self.cell, **t).items():
            dst = getattr(self.rnn, f"{k}_l{l}")
            if tuple(dst.shape) != tuple(v.shape):
                raise SeqlmError(f"layer {l} {k}: shape {tuple(v.shape)} does not fit {tuple(dst.shape)}")
            dst.copy_(v)

    # ------------------------------------------------------------------ running
    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        """Zero state: h (L, B, H), or (h, c) for the LSTM."""
        h = torch.zeros(self.num_layers, batch_size, self.hidden_size,
                        device=device or self.device, dtype=dtype or self.dtype)
        return (h, h.clone()) if self.cell == "lstm" else h

    def _check_state(self, state: State, B: int) -> None:
        want = (self.num_layers, B, self.hidden_size)
        parts = state if self.cell == "lstm" else (state,)
        if self.cell == "lstm" and not (isinstance(state, (tuple, list)) and len(state) == 2):
            raise SeqlmError("the lstm state must be a tuple (h, c)")
        for s in parts:
            if not isinstance(s, Tensor) or tuple(s.shape) != want:
                got = tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__
                raise SeqlmError(f"{self.cell} state must have shape {want}, got {got}")

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if self.batch_first:
            x = x.transpose(0, 1)
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise SeqlmError(f"RecurrentStack input must be (T, B, {self.input_size})"
                             f"{' before batch_first' if self.batch_first else ''}, got {tuple(x.shape)}")
        if state is not None:
            self._check_state(state, x.shape[1])
        if self.backend == "fused":
            y, state = self.rnn(x, state)
        else:
            y, state = self._explicit_forward(x, state)
        return (y.transpose(0, 1) if self.batch_first else y), state

    def _explicit_forward(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        finals = []
        for l, layer in enumerate(self.layers):
            s = None if state is None else ((state[0][l], state[1][l]) if self.cell == "lstm" else state[l])
            x, s = layer(x, s)
            finals.append(s)
            if self.dropout > 0 and l < self.num_layers - 1:
                x = F.dropout(x, self.dropout, self.training)
        if self.cell == "lstm":
            return x, (torch.stack([s[0] for s in finals]), torch.stack([s[1] for s in finals]))
        return x, torch.stack(finals)

    def extra_repr(self) -> str:
        v = f", variant={self.variant!r}" if self.variant else ""
        return (f"{self.cell}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"backend={self.backend!r}{v}, dropout={self.dropout}")


def explicit_layers(stack: RecurrentStack) -> list[ExplicitLayer]:
    """The explicit single layers (each has ``step``) of an explicit stack."""
    if stack.backend != "explicit":
        raise SeqlmError("only an explicit-backend stack has per-step layers; convert with fused_to_explicit")
    return list(stack.layers)
