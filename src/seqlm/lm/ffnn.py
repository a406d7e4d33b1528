"""The fixed-window feed-forward neural language model (Bengio et al. 2003).

The model of "A Neural Probabilistic Language Model", with the n-gram's
horizon: the next token is predicted from the previous ``n - 1`` tokens only.

    e_t = [E[w_{t-n+2}]; …; E[w_t]]        concatenated embeddings  (T, B, (n-1)·D)
    a_t = tanh(H e_t + d)                  hidden layer             (T, B, Hid)
    z_t = U dropout(a_t) + b  (+ W e_t)    logits                   (T, B, V)
    p(w_{t+1} | w_{t-n+2..t}) = softmax(z_t)

With ``tie_weights`` the output matrix is the embedding matrix, U = E (Press &
Wolf 2017, as in the recurrent LMs; needs Hid = D). It is not in Bengio et al.;
it removes V·Hid parameters, the ones that overfit first on a corpus as small as
PTB.

``W e_t`` are Bengio's optional *direct connections* from the embeddings to the
output (``direct=True``); they add ``(n-1)·D·V`` parameters and in the paper
sped up convergence without improving perplexity, so they are off by default.

Because it has an n-gram's window, the model isolates what recurrence adds in
the chapter's comparison: against a trigram it differs only in the smoothing
(learned, distributed representations instead of counts), against an RNN only
in the horizon.

The LM protocol (:mod:`seqlm.lm.base`)
--------------------------------------
The "state" is the last ``n - 2`` input tokens of each column, ``(B, n-2)``
long: the tokens that, together with ``inputs[0]``, make up the first window
of the next segment. (The window of the prediction at step t is the ``n - 1``
inputs ending at ``inputs[t]``; ``inputs[t]`` itself is always in the segment,
so only ``n - 2`` tokens have to be carried.) ``init_state`` fills it with
``<eos>`` — the sentence-start padding of every seqlm model — so ``sentence``
mode (state reset per sentence, first input ``<eos>``) sees a window of
``<eos>`` padding at the start, exactly like an n-gram's ``<s>`` context.
``forward`` computes every window of a segment at once with ``unfold``; carrying
the state across segments gives the logits of one long segment (the same windows;
only float rounding of differently sized matrix products can differ).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seqlm.data.vocab import EOS_ID
from seqlm.errors import SeqlmError
from seqlm.lm.base import config_from_dict, register_model
from seqlm.nn.loss import IGNORE_INDEX, linear_cross_entropy
from seqlm.schema import check_fields, setting



@dataclass
class FFNNConfig:
    """Architecture of an :class:`FFNNLanguageModel`; saved in ``config.json``."""

    vocab_size: int
    kind: str = "ffnn"
    context: int = setting(4, "n - 1: tokens in the window (Bengio's best PTB-size model: n = 5)", ge=1)
    embed_size: int = setting(64, "D, per context token", ge=1)
    hidden_size: int = setting(256, "Hid, the tanh layer", ge=1)
    dropout: float = setting(0.0, "on the concatenated embeddings and on the hidden layer", ge=0, lt=1)
    direct: bool = setting(False, "Bengio's direct connections W e_t")
    tie_weights: bool = setting(False, "U = E (needs hidden_size == embed_size)")
    init_scale: float = setting(0.1, "U(-s, s) for the embedding and output weights", gt=0)
    pad_id: int = setting(EOS_ID, "the start-of-sentence padding token", ge=0)

    def __post_init__(self) -> None:
        if self.kind != "ffnn":
            raise SeqlmError(f"FFNNConfig.kind must be 'ffnn', got {self.kind!r}")
        if isinstance(self.vocab_size, bool) or not isinstance(self.vocab_size, int) or self.vocab_size < 1:
            raise SeqlmError(f"vocab_size must be an integer >= 1, got {self.vocab_size!r}")
        check_fields(self)
        if self.tie_weights and self.hidden_size != self.embed_size:
            raise SeqlmError(f"tie_weights needs hidden_size == embed_size, got hidden_size="
                             f"{self.hidden_size} and embed_size={self.embed_size}")
        if not 0 <= self.pad_id < self.vocab_size:
            raise SeqlmError(f"pad_id {self.pad_id} is outside the vocabulary of {self.vocab_size}")


@register_model("ffnn")
class FFNNLanguageModel(nn.Module):
    """Bengio et al. (2003): window embeddings → tanh → softmax. Implements the LM
    protocol of :mod:`seqlm.lm.base`."""

    state_batch_dim = 0  # the state is (B, n-2)

    def __init__(self, config: FFNNConfig):
        super().__init__()
        self.config = c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed_size)          # E
        self.hidden = nn.Linear(c.context * c.embed_size, c.hidden_size)   # H, d
        self.decoder = nn.Linear(c.hidden_size, c.vocab_size)              # U, b
        self.direct = (nn.Linear(c.context * c.embed_size, c.vocab_size, bias=False)
                       if c.direct else None)                              # W
        self.drop = nn.Dropout(c.dropout)
        nn.init.uniform_(self.embedding.weight, -c.init_scale, c.init_scale)
        nn.init.zeros_(self.decoder.bias)
        if c.tie_weights:
            self.decoder.weight = self.embedding.weight                    # U = E
        else:
            nn.init.uniform_(self.decoder.weight, -c.init_scale, c.init_scale)
        if self.direct is not None:
            nn.init.zeros_(self.direct.weight)

    @classmethod
    def config_from_dict(cls, d: dict) -> FFNNConfig:
        return config_from_dict(FFNNConfig, d)

    def init_state(self, batch_size: int, device: torch.device | str | None = None) -> torch.Tensor:
        """``(B, n-2)`` of ``<eos>``: the sentence-start padding."""
        device = device or self.decoder.bias.device
        return torch.full((batch_size, self.config.context - 1), self.config.pad_id,
                          dtype=torch.long, device=device)

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None,
                targets: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``inputs`` (T, B) long → logits (T, B, V) and the last ``n-2`` inputs per column;
        with ``targets`` (T, B) (-100 where ignored) the mean cross-entropy instead of the
        logits (:func:`seqlm.nn.loss.linear_cross_entropy` unless there are direct
        connections)."""
        T, B = inputs.shape
        n1 = self.config.context
        if state is None:
            state = self.init_state(B, inputs.device)
        if state.shape != (B, n1 - 1):
            raise SeqlmError(f"FFNN state has shape {tuple(state.shape)}, expected {(B, n1 - 1)}")
        full = torch.cat([state.t().to(inputs.device), inputs], dim=0)   # (n-2+T, B)
        windows = full.unfold(0, n1, 1)                                  # (T, B, n-1), oldest first
        e = self.drop(self.embedding(windows).flatten(2))                # (T, B, (n-1)·D)
        a = torch.tanh(self.hidden(e))                                   # (T, B, Hid)
        new_state = full[full.size(0) - (n1 - 1):].t().contiguous()      # (B, n-2)
        if targets is not None and self.direct is None:
            return linear_cross_entropy(self.drop(a), self.decoder.weight, self.decoder.bias,
                                        targets), new_state
        logits = self.decoder(self.drop(a))                              # (T, B, V)
        if self.direct is not None:
            logits = logits + self.direct(e)
        if targets is not None:
            z = logits.to(torch.promote_types(logits.dtype, torch.float32))  # fp32 under bf16 autocast
            return F.cross_entropy(z.flatten(0, 1), targets.flatten(),
                                   ignore_index=IGNORE_INDEX), new_state
        return logits, new_state

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
