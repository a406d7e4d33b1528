"""The recurrent language model's architecture, as typed settings (no torch here).

Kept apart from :mod:`seqlm.lm.model` so that the settings of ``seqlm train``
(:mod:`seqlm.train.settings`) and its flags can be built without importing torch.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from seqlm.errors import SeqlmError
from seqlm.reference.layout import GRU_VARIANTS, gru_variant
from seqlm.schema import check_fields, setting

CELLS = ("rnn", "lstm", "gru")
BACKENDS = ("explicit", "fused")
VARIANTS = GRU_VARIANTS
INITS = ("pytorch", "uniform", "orthogonal")


@dataclass
class RNNLMConfig:
    """Architecture of an :class:`RNNLanguageModel`; saved in ``config.json``.
    Every field but ``vocab_size`` and ``kind`` is a typed setting (:mod:`seqlm.schema`)."""

    vocab_size: int
    kind: str = "rnn"
    cell: str = setting("lstm", "recurrent cell: rnn (tanh), lstm or gru", choices=CELLS)
    variant: str | None = setting(None, "GRU variant: cho (2014, eq. 5.11) or reset_after (cuDNN); "
                                  "none: the backend's own", choices=VARIANTS)
    backend: str = setting("fused", "fused (cuDNN / oneDNN) or explicit (one equation per line)",
                           choices=BACKENDS)
    num_layers: int = setting(2, "recurrent layers", flag="layers", ge=1)
    embed_size: int = setting(200, "embedding size", flag="embed", ge=1)
    hidden_size: int = setting(200, "hidden size", flag="hidden", ge=1)
    dropout: float = setting(0.0, "dropout on non-recurrent connections only", ge=0, lt=1)
    tie_weights: bool = setting(False, "decoder reuses the embedding (needs hidden == embed)")
    init: str = setting("uniform", "initialisation: pytorch, uniform (Zaremba: U(-s, s)) or orthogonal",
                        choices=INITS)
    init_scale: float = setting(0.1, "s of the uniform init; embedding/decoder range", gt=0)
    forget_bias: float | None = setting(None, "LSTM forget-gate bias at init (none: the init's own)")

    def __post_init__(self) -> None:
        if self.kind != "rnn":
            raise SeqlmError(f"RNNLMConfig.kind must be 'rnn', got {self.kind!r}")
        if isinstance(self.vocab_size, bool) or not isinstance(self.vocab_size, int) or self.vocab_size < 1:
            raise SeqlmError(f"vocab_size must be an integer >= 1, got {self.vocab_size!r}")
        check_fields(self)
        if self.variant is not None and self.cell != "gru":
            raise SeqlmError(f"variant={self.variant!r} is a GRU setting; cell={self.cell!r} has no variant "
                             "(leave it none)")
        if self.cell == "gru" and self.backend == "fused" and self.variant == "cho":
            raise SeqlmError("the fused GRU backend computes variant='reset_after' only; use "
                             "backend='explicit' for variant='cho'")
        if self.tie_weights and self.hidden_size != self.embed_size:
            raise SeqlmError(f"tie_weights needs hidden_size == embed_size, got hidden_size="
                             f"{self.hidden_size} and embed_size={self.embed_size}")


def gru_variant_of(model: Mapping | None) -> str | None:
    """The GRU variant that a model's settings (``config.json``'s ``model``, a compare
    preset's ``model``) compute, defaults resolved as :class:`RNNLMConfig` resolves them;
    None for any other model (tables and figures name a GRU's variant with it)."""
    if not model or model.get("kind", "rnn") != "rnn" or model.get("cell", RNNLMConfig.cell) != "gru":
        return None
    return gru_variant(model.get("backend", RNNLMConfig.backend), model.get("variant"))
