"""Explicit single-layer recurrent cells in PyTorch: the book's equations, fast.

Each layer stores its gates stacked, in the layout that ``seqlm.reference.layout``
defines for NumPy and torch alike (the one home of the gate order):

    W_xh (G·H, I)   the x_t-columns of the book's W_· [h_{t-1}, x_t]
    W_hh (G·H, H)   the h_{t-1}-columns
    b    (G·H,)     (+ b_hn (H,) for the reset_after GRU)

with row blocks rnn: h (5.1); lstm: f, i, o, c (5.4-5.8); gru cho: z, r, h
(5.9-5.11); gru reset_after: z, r, n. For the RNN these are eq. 5.1's own
W_xh, W_hh and b_h. ``RecurrentStack.reference_params`` /
``load_reference_params`` map them to and from the book's names. The input
projection of a whole segment is one GEMM before the time loop; each step is
one GEMM for all gates. Training runs through a hand-written backward for the
whole layer (``seqlm.nn.functional``, the *layer Function*; not to be confused
with the ``fused`` backend, which is torch.nn.LSTM & co.); ``autograd=True``
unrolls ``step`` under autograd instead (slower; needed for double backward
and for ``retain_grad`` on every h_t).
"""
from __future__ import annotations

from typing import Union

import torch
from torch import Tensor, nn

from seqlm.errors import SeqlmError
from seqlm.nn import functional as Fn
from seqlm.nn.convert import as_torch, reference_params_of, reference_to_explicit
from seqlm.reference import layout

State = Union[Tensor, tuple[Tensor, Tensor]]

AUTOCAST_NOTE = ("the explicit backend computes its recurrent layers in fp32 under bf16 autocast "
                 "(bf16 is slower for them on CPU); the embedding and decoder use bf16")

# What ``ExplicitLayer.gates`` returns per step, in the order of the equations.
GATE_NAMES = {"rnn": ("h",), "lstm": ("f", "i", "c_tilde", "c", "o", "h"),
              "gru": ("z", "r", "h_tilde", "h"), "gru_reset_after": ("z", "r", "n", "h")}

# Parameter names before 0.2 (checkpoints written then still load).
_OLD_NAMES = {"W_x": "W_xh", "W_h": "W_hh"}


class ExplicitLayer(nn.Module):
    """Base class: one recurrent layer with stacked parameters W_xh, W_hh, b."""

    cell = ""

    def __init__(self, input_size: int, hidden_size: int, autograd: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise SeqlmError(f"input_size and hidden_size must be positive, got {input_size}, {hidden_size}")
        G, H = layout.num_gates(self.cell), hidden_size
        kw = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size, self.autograd = input_size, hidden_size, autograd
        self.W_xh = nn.Parameter(torch.zeros(G * H, input_size, **kw))
        self.W_hh = nn.Parameter(torch.zeros(G * H, H, **kw))
        self.b = nn.Parameter(torch.zeros(G * H, **kw))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for old, new in _OLD_NAMES.items():
            if prefix + old in state_dict and prefix + new not in state_dict:
                state_dict[prefix + new] = state_dict.pop(prefix + old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def init_state(self, batch_size: int, device=None, dtype=None) -> State:
        """Zero state for this layer: h (B, H), or (h, c) for the LSTM."""
        z = torch.zeros(batch_size, self.hidden_size, device=device or self.W_hh.device,
                        dtype=dtype or self.W_hh.dtype)
        return (z, z.clone()) if self.cell == "lstm" else z

    def step(self, x_t: Tensor, state: State) -> State:
        """One time step from the raw input x_t (B, I); plain autograd ops."""
        return self._recur(torch.addmm(self.b, x_t, self.W_xh.t()), state)

    def _recur(self, xw_t: Tensor, state: State) -> State:
        g = self.gates(xw_t, state)
        return (g["h"], g["c"]) if self.cell == "lstm" else g["h"]

    def gates(self, xw_t: Tensor, state: State) -> dict[str, Tensor]:
        """One step from the input projection ``xw_t = W_xh x_t + b`` (B, G·H): every
        gate and state of the step by name (``GATE_NAMES``), each (B, H). The one
        copy of the step's equations: ``step`` and the autograd unroll use it too,
        and ``seqlm.analysis.inspect`` records its values."""
        raise NotImplementedError

    def _unrolled(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        T, B, _ = x.shape
        xw = torch.addmm(self.b, x.reshape(T * B, -1), self.W_xh.t()).view(T, B, -1)  # one GEMM
        ys = []
        for t in range(T):
            state = self._recur(xw[t], state)
            ys.append(state[0] if isinstance(state, tuple) else state)
        return torch.stack(ys), state

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """x (T, B, I) -> (y (T, B, H), final state).

        Under autocast the layer computes in its parameters' dtype (fp32), not
        in bf16: the hand-written backward mixes dtypes otherwise, and bf16 is
        *slower* for these small per-step GEMMs and element-wise gates on CPU
        (1.35-1.45x, benchmarks/cells.py). The embedding and decoder around the
        layer still run under autocast; ``AUTOCAST_NOTE`` says so to users.
        """
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise SeqlmError(f"{self.cell} layer: input must be (T, B, {self.input_size}), got {tuple(x.shape)}")
        if torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):
                dt = self.W_hh.dtype
                if state is not None:
                    state = tuple(s.to(dt) for s in state) if isinstance(state, tuple) else state.to(dt)
                return self.forward(x.to(dt), state)
        if state is None:
            state = self.init_state(x.shape[1], x.device, x.dtype)
        if x.shape[0] == 0:
            return x.new_zeros(0, x.shape[1], self.hidden_size), state
        if self.autograd:
            return self._unrolled(x, state)
        return self._layer_fn(x, state)

    def _layer_fn(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        raise NotImplementedError

    # ------------------------------------------------ the book's names (seqlm.reference)
    def tensors(self) -> dict[str, Tensor]:
        """This layer's parameters in the stacked layout: ``W_xh, W_hh, b`` (+ ``b_hn``)."""
        names = ["W_xh", "W_hh", "b"] + (["b_hn"] if getattr(self, "variant", None) == "reset_after" else [])
        return {k: getattr(self, k) for k in names}

    def reference_params(self, as_numpy: bool = True) -> dict:
        """The book's named parameters (``W_f``, ``b_f``, …) as NumPy (or torch) copies."""
        return reference_params_of(self.cell, getattr(self, "variant", None), self.tensors(), as_numpy)

    @torch.no_grad()
    def load_reference_params(self, params: dict) -> None:
        """Copy the book's named parameters into this layer."""
        for k, v in reference_to_explicit(self.cell, getattr(self, "variant", None), as_torch(params)).items():
            dst = getattr(self, k)
            if tuple(dst.shape) != tuple(v.shape):
                raise SeqlmError(f"parameter {k}: shape {tuple(v.shape)} does not fit the layer's {tuple(dst.shape)}")
            dst.copy_(v)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class ExplicitRNN(ExplicitLayer):
    """h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)   (5.1)."""

    cell = "rnn"

    def gates(self, xw_t: Tensor, h_prev: Tensor) -> dict[str, Tensor]:
        return {"h": torch.tanh(torch.addmm(xw_t, h_prev, self.W_hh.t()))}  # (5.1)

    def _layer_fn(self, x: Tensor, h0: Tensor) -> tuple[Tensor, Tensor]:
        y, h_T = Fn.RNNLayerFn.apply(x, h0, self.W_xh, self.W_hh, self.b)
        return y, h_T


class ExplicitLSTM(ExplicitLayer):
    """LSTM, eqs. (5.4)-(5.8); stacked gate order f, i, o, c."""

    cell = "lstm"

    def gates(self, xw_t: Tensor, state: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        h_prev, c_prev = state
        H = self.hidden_size
        a = torch.addmm(xw_t, h_prev, self.W_hh.t())         # (B, 4H): W_·[h_{t-1}, x_t] + b_·
        s = torch.sigmoid(a[:, :3 * H])
        f_t, i_t, o_t = s[:, :H], s[:, H:2 * H], s[:, 2 * H:]  # (5.4), (5.5), (5.8 left)
        c_tilde = torch.tanh(a[:, 3 * H:])                  # (5.6)
        c_t = f_t * c_prev + i_t * c_tilde                  # (5.7)
        h_t = o_t * torch.tanh(c_t)                         # (5.8 right)
        return {"f": f_t, "i": i_t, "c_tilde": c_tilde, "c": c_t, "o": o_t, "h": h_t}

    def _layer_fn(self, x: Tensor, state: tuple[Tensor, Tensor]):
        y, h_T, c_T = Fn.LSTMLayerFn.apply(x, state[0], state[1], self.W_xh, self.W_hh, self.b)
        return y, (h_T, c_T)


class ExplicitGRU(ExplicitLayer):
    """GRU, ``variant="cho"`` (eqs. 5.9-5.11, the default) or ``"reset_after"`` (PyTorch's)."""

    cell = "gru"

    def __init__(self, input_size: int, hidden_size: int, variant: str = "cho", autograd: bool = False,
                 device=None, dtype=None) -> None:
        if variant not in ("cho", "reset_after"):
            raise SeqlmError(f"unknown GRU variant {variant!r}; choose 'cho' or 'reset_after'")
        super().__init__(input_size, hidden_size, autograd, device, dtype)
        self.variant = variant
        if variant == "reset_after":
            self.b_hn = nn.Parameter(torch.zeros(hidden_size, device=device, dtype=dtype))

    def gates(self, xw_t: Tensor, h_prev: Tensor) -> dict[str, Tensor]:
        H = self.hidden_size
        W_hh = self.W_hh
        if self.variant == "cho":
            zr = torch.sigmoid(torch.addmm(xw_t[:, :2 * H], h_prev, W_hh[:2 * H].t()))
            z_t, r_t = zr[:, :H], zr[:, H:]                  # (5.9), (5.10)
            h_tilde = torch.tanh(torch.addmm(xw_t[:, 2 * H:], r_t * h_prev, W_hh[2 * H:].t()))
            h_t = (1 - z_t) * h_prev + z_t * h_tilde         # (5.11)
            return {"z": z_t, "r": r_t, "h_tilde": h_tilde, "h": h_t}
        hw = h_prev @ W_hh.t()                                # (B, 3H): h-parts of z, r, n
        zr = torch.sigmoid(xw_t[:, :2 * H] + hw[:, :2 * H])
        z_t, r_t = zr[:, :H], zr[:, H:]                      # (5.9), (5.10)
        n_t = torch.tanh(xw_t[:, 2 * H:] + r_t * (hw[:, 2 * H:] + self.b_hn))  # (5.11', candidate)
        h_t = (1 - z_t) * n_t + z_t * h_prev                 # (5.11', update)
        return {"z": z_t, "r": r_t, "n": n_t, "h": h_t}

    def _layer_fn(self, x: Tensor, h0: Tensor):
        if self.variant == "cho":
            y, h_T = Fn.GRUChoLayerFn.apply(x, h0, self.W_xh, self.W_hh, self.b)
        else:
            y, h_T = Fn.GRUResetAfterLayerFn.apply(x, h0, self.W_xh, self.W_hh, self.b, self.b_hn)
        return y, h_T

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, variant={self.variant!r}"


def make_layer(cell: str, input_size: int, hidden_size: int, variant: str = "cho",
               autograd: bool = False, device=None, dtype=None) -> ExplicitLayer:
    """An explicit single layer of the named cell."""
    if cell == "rnn":
        return ExplicitRNN(input_size, hidden_size, autograd, device, dtype)
    if cell == "lstm":
        return ExplicitLSTM(input_size, hidden_size, autograd, device, dtype)
    if cell == "gru":
        return ExplicitGRU(input_size, hidden_size, variant, autograd, device, dtype)
    raise SeqlmError(f"unknown cell {cell!r}; choose one of rnn, lstm, gru")
