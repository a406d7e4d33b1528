"""Neural language models.

The LM protocol every model implements (``init_state``, ``forward(inputs,
state) -> (logits, state)``, ``config`` with a ``kind``) is documented in
:mod:`seqlm.lm.base`; :func:`build_model` rebuilds any model from its config.

Names are imported on first use (PEP 562): the torch-free configuration
(:mod:`seqlm.lm.config`) can be read without importing torch.
"""
from __future__ import annotations

from seqlm._lazy import lazy_names

_LAZY = {
    "LanguageModel": "seqlm.lm.base", "build_model": "seqlm.lm.build", "detach_state": "seqlm.lm.base",
    "map_state": "seqlm.lm.base", "model_class": "seqlm.lm.build", "state_to": "seqlm.lm.base",
    "register_model": "seqlm.lm.base",
    "RNNLanguageModel": "seqlm.lm.model", "RNNLMConfig": "seqlm.lm.config",
}

__all__ = list(_LAZY)
__getattr__, __dir__ = lazy_names("seqlm.lm", _LAZY)
