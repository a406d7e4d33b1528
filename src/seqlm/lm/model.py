"""The recurrent neural language model (chapter section 5.5).

    x_t  = E[w_t]                       embedding            (T, B, D)
    h_t  = RNN(x_t, h_{t-1})            1..L recurrent layers (T, B, H)
    z_t  = W_o dropout(h_t) + b_o       decoder              (T, B, V)
    p(w_{t+1} | w_{<=t}) = softmax(z_t)

Dropout is applied only to the non-recurrent connections (Zaremba, Sutskever
& Vinyals 2014): on the embedding output, between stacked layers (inside
:class:`seqlm.nn.RecurrentStack`) and before the decoder — never on h_{t-1} →
h_t, so the memory of the recurrence is not corrupted at every step.

With ``tie_weights`` the decoder reuses the embedding matrix, W_o = E (Press &
Wolf 2017; Inan et al. 2017): fewer parameters and usually a lower perplexity.
It needs ``hidden_size == embed_size``.
"""
from __future__ import annotations

import torch
from torch import nn

from seqlm.lm.base import State, config_from_dict, register_model
from seqlm.lm.config import BACKENDS, CELLS, INITS, VARIANTS, RNNLMConfig
from seqlm.nn import RecurrentStack
from seqlm.nn.loss import linear_cross_entropy

__all__ = ["RNNLanguageModel", "RNNLMConfig", "CELLS", "BACKENDS", "VARIANTS", "INITS"]


@register_model("rnn")
class RNNLanguageModel(nn.Module):
    """Embedding → RecurrentStack → dropout → Linear decoder. Implements the LM
    protocol of :mod:`seqlm.lm.base`."""

    state_batch_dim = 1  # states are (L, B, H), the nn.LSTM convention

    def __init__(self, config: RNNLMConfig):
        super().__init__()
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed_size)
        self.drop = nn.Dropout(c.dropout)
        # The stack draws its weights from its own generator; seed it from the
        # global RNG so that build_model(config, seed) fixes every weight.
        gen = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), device="cpu")))
        self.rnn = RecurrentStack(c.cell, c.embed_size, c.hidden_size, num_layers=c.num_layers,
                                  dropout=c.dropout, backend=c.backend, variant=c.variant,
                                  init=c.init, init_scale=c.init_scale, forget_bias=c.forget_bias,
                                  generator=gen)
        self.decoder = nn.Linear(c.hidden_size, c.vocab_size)
        # Embedding and decoder: U(-s, s) and a zero bias in every preset (the
        # pytorch/examples and Zaremba choice; nn.Embedding's N(0, 1) is far too
        # large for a tied decoder).
        nn.init.uniform_(self.embedding.weight, -c.init_scale, c.init_scale)
        nn.init.zeros_(self.decoder.bias)
        if c.tie_weights:
            self.decoder.weight = self.embedding.weight
        else:
            nn.init.uniform_(self.decoder.weight, -c.init_scale, c.init_scale)

    @classmethod
    def config_from_dict(cls, d: dict) -> RNNLMConfig:
        return config_from_dict(RNNLMConfig, d)

    def init_state(self, batch_size: int, device: torch.device | str | None = None) -> State:
        """Zero state: ``h`` (L, B, H) for rnn/gru, ``(h, c)`` for lstm."""
        p = self.decoder.bias
        return self.rnn.init_state(batch_size, device=device or p.device, dtype=p.dtype)

    def forward(self, inputs: torch.Tensor, state: State = None, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, State]:
        """``inputs`` (T, B) long → logits (T, B, V) and the state after step T; with
        ``targets`` (T, B) (-100 where ignored) the mean cross-entropy instead of the
        logits, by :func:`seqlm.nn.loss.linear_cross_entropy` (the same loss, without
        materialising the logits)."""
        if state is None:
            state = self.init_state(inputs.size(1), inputs.device)
        x = self.drop(self.embedding(inputs))   # (T, B, D)
        h, state = self.rnn(x, state)           # (T, B, H)
        h = self.drop(h)
        if targets is not None:
            return linear_cross_entropy(h, self.decoder.weight, self.decoder.bias, targets), state
        logits = self.decoder(h)                # (T, B, V)
        return logits, state

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
