"""Build a language model from its config: the registry of model kinds, filled.

The built-in kinds (``rnn``: :class:`~seqlm.lm.model.RNNLanguageModel`, ``ffnn``:
:class:`~seqlm.lm.ffnn.FFNNLanguageModel`) register themselves when their modules are
imported, which this module does; a kind of your own registers with
:func:`seqlm.lm.base.register_model` before it is built.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seqlm.errors import SeqlmError
from seqlm.lm import ffnn, model  # noqa: F401  (the built-in kinds register on import)
from seqlm.lm.base import MODEL_KINDS


def model_class(kind: str) -> type[nn.Module]:
    """The class registered for ``kind``."""
    if kind not in MODEL_KINDS:
        raise SeqlmError(f"unknown model kind {kind!r} (known: {', '.join(sorted(MODEL_KINDS))})")
    return MODEL_KINDS[kind]


def build_model(config: dict | Any, seed: int | None = None) -> nn.Module:
    """Build a model from its config (a dict as saved in ``config.json``, or the
    config dataclass itself), dispatching on ``kind``.

    With ``seed`` the initial weights come from ``torch.manual_seed(seed)``
    inside :func:`torch.random.fork_rng`, so the caller's global RNG state is
    left untouched; without it they come from the global RNG.
    """
    if not isinstance(config, dict):
        from dataclasses import asdict
        config = asdict(config)
    kind = config.get("kind")
    if kind is None:
        raise SeqlmError("model config has no 'kind' field")
    cls = model_class(kind)
    cfg = cls.config_from_dict(config)
    if seed is None:
        return cls(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(cfg)
