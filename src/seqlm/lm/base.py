"""The LM protocol: what the trainer, the evaluator and checkpoints ask of a model.

Every neural language model in seqlm (the RNN/LSTM/GRU model in
:mod:`seqlm.lm.model`, the Bengio-2003 feed-forward model in
:mod:`seqlm.lm.ffnn`) is an ``nn.Module`` with

* ``model.config`` — a dataclass with a ``kind`` field (``"rnn"``, ``"ffnn"``)
  that round-trips through JSON: ``build_model(dataclasses.asdict(config))``
  rebuilds the same architecture;
* ``model.init_state(batch_size, device=None) -> state`` — the state at the
  start of a stream / sentence: ``None``, a tensor, or any nested tuple of
  tensors whose batch dimension is ``batch_dim`` (default 1, the nn.LSTM
  convention ``(L, B, H)``; a model may set ``model.state_batch_dim``);
* ``model(inputs, state) -> (logits, new_state)`` with ``inputs`` a ``(T, B)``
  long tensor and ``logits`` ``(T, B, V)``. ``logits[t, b]`` scores the token
  that follows ``inputs[t, b]``; seqlm's own models also take
  ``model(inputs, state, targets=y) -> (mean cross-entropy, new_state)``, the
  loss without the logits tensor (:mod:`seqlm.nn.loss`).

The trainer never looks inside the state: it detaches it at every truncated-BPTT
boundary with :func:`detach_state`, moves it with :func:`state_to`, and slices
or concatenates it along the batch dimension with :func:`map_state`.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import torch
from torch import nn

from seqlm.errors import SeqlmError

State = Any  # None | Tensor | tuple[State, ...]


@runtime_checkable
class LanguageModel(Protocol):
    """Structural type of every seqlm neural LM (see the module docstring)."""

    config: Any

    def init_state(self, batch_size: int, device: torch.device | str | None = None) -> State: ...

    def __call__(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]: ...


def map_state(fn: Callable[[torch.Tensor], torch.Tensor], state: State) -> State:
    """Apply ``fn`` to every tensor of a nested state, keeping its structure."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return fn(state)
    if isinstance(state, (tuple, list)):
        return type(state)(map_state(fn, s) for s in state)
    raise TypeError(f"unsupported state type {type(state).__name__}")


def detach_state(state: State) -> State:
    """Cut the autograd graph at a truncated-BPTT boundary (values are kept)."""
    return map_state(lambda t: t.detach(), state)


def state_to(state: State, device: torch.device | str) -> State:
    return map_state(lambda t: t.to(device), state)


def state_tensors(state: State) -> list[torch.Tensor]:
    """The tensors of a nested state, in a fixed (depth-first) order."""
    out: list[torch.Tensor] = []
    map_state(lambda t: out.append(t) or t, state)
    return out


def state_from_tensors(template: State, tensors: list[torch.Tensor]) -> State:
    """Inverse of :func:`state_tensors`: refill ``template``'s structure."""
    it = iter(tensors)
    return map_state(lambda _t: next(it), template)


# ------------------------------------------------------------------ registry
# kind -> the model class; each class registers itself (@register_model("rnn")), and
# seqlm.lm.build imports the built-in ones. A model of your own registers the same way.
MODEL_KINDS: dict[str, type] = {}


def register_model(kind: str):
    """Class decorator: make ``kind`` (the ``kind`` field of a config.json) build this class.
    The class follows the LM protocol of this module and has ``config_from_dict``."""
    def register(cls: type) -> type:
        if kind in MODEL_KINDS and MODEL_KINDS[kind] is not cls:
            raise SeqlmError(f"model kind {kind!r} is already registered by {MODEL_KINDS[kind].__name__}")
        MODEL_KINDS[kind] = cls
        return cls
    return register


def config_from_dict(cls: type, d: dict, where: str = "model config"):
    """``cls(**d)`` for a config dataclass, with one-line errors for unknown or
    missing fields (a config.json from another version, a typo in a TOML)."""
    import dataclasses
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise SeqlmError(f"{where}: unknown field(s) {', '.join(unknown)} for {cls.__name__}")
    try:
        cfg = cls(**d)
    except TypeError as e:
        raise SeqlmError(f"{where}: {e}") from None
    return cfg
