"""Neural language models.

The LM protocol every model implements (``init_state``, ``forward(inputs,
state) -> (logits, state)``, ``config`` with a ``kind``) is documented in
:mod:`seqlm.lm.base`; :func:`build_model` rebuilds any model from its config.
"""
from seqlm.lm.base import (LanguageModel, build_model, detach_state, map_state, model_class,
                           state_to)
from seqlm.lm.model import RNNLanguageModel, RNNLMConfig

__all__ = ["LanguageModel", "RNNLanguageModel", "RNNLMConfig", "build_model", "detach_state",
           "map_state", "model_class", "state_to"]
