"""Training configuration and named presets.

Loss convention: the training loss is the *mean* negative log-likelihood per
token over a ``(bptt, batch)`` segment. Zaremba et al. (2014) sum over the
``bptt`` steps and average over the batch, with lr = 1 and clipping at 5;
the mean divides both the gradient and its norm by ``bptt``, so lr = bptt
and clip = 5 / bptt give *identical* updates. The presets below are written in
our convention (``zaremba-small``: lr 20, clip 0.25 — also the pytorch/examples
numbers).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from seqlm.errors import SeqlmError
from seqlm.schema import check_fields, setting

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("zaremba", "plateau", "constant", "cosine")
PRECISIONS = ("fp32", "bf16", "auto")
UNITS = ("stream", "sentence")


@dataclass
class TrainConfig:
    """How to train (the model's architecture is :class:`seqlm.lm.RNNLMConfig`).

    Every field is a typed setting (:mod:`seqlm.schema`): its type, range, flag
    spelling and help are declared here once, and checked wherever a value
    comes from (preset, TOML, flag, checkpoint)."""

    epochs: int = setting(13, "epochs to train", ge=1)
    batch_size: int = setting(20, "sequences per batch (stream columns or sentences)", ge=1)
    bptt: int = setting(20, "truncated-BPTT segment length", ge=1)
    variable_bptt: bool = setting(False, "AWD-LSTM style random segment lengths around bptt")
    # stream: one token stream, state carried (and detached) across segments and
    # sentences (the PTB convention). sentence: batches of whole sentences, each
    # from the zero state (independent sentences; bptt is unused, and validation,
    # which picks the best model, is in sentence mode too).
    unit: str = setting("stream", "train on the token stream with state carried, or on independent "
                        "sentences, each from the zero state", choices=UNITS)
    optimizer: str = setting("sgd", "optimiser", choices=OPTIMIZERS)
    lr: float = setting(20.0, "learning rate", gt=0)
    momentum: float = setting(0.0, "SGD momentum", ge=0, lt=1)
    weight_decay: float = setting(0.0, "L2 weight decay", ge=0)
    schedule: str = setting("zaremba", "learning-rate schedule", choices=SCHEDULES)
    decay_start: int = setting(4, "zaremba: epochs at constant lr before decaying", ge=0)
    lr_decay: float = setting(0.5, "multiply lr by this at every decay", gt=0, le=1)
    plateau_patience: int = setting(0, "plateau: epochs without improvement before a decay", ge=0)
    min_lr: float = setting(0.0, "the lr never decays below this", ge=0)
    warmup_steps: int = setting(0, "raise the lr linearly from 0 over the first steps (any schedule)", ge=0)
    clip: float | None = setting(0.25, "global gradient-norm threshold (Pascanu); none disables", gt=0)
    early_stopping: int | None = setting(None, "stop after this many epochs without improvement", ge=1)
    log_interval: int = setting(100, "steps between metrics.jsonl lines", ge=1)
    checkpoint_every: int = setting(0, "steps between mid-epoch checkpoints (0: only per epoch)", ge=0)
    valid_batch_size: int = setting(10, "stream-mode validation batch (see seqlm.eval)", ge=1)
    precision: str = setting("auto", "bf16 autocast where the device supports it (auto), or fp32 / bf16",
                             choices=PRECISIONS)
    # Off by default: it changes the bf16 rounding of the loss, so the measured
    # perplexities of the presets that predate it would move in their last digits.
    fused_loss: bool = setting(False, "the output layer and its cross-entropy as one chunked node "
                               "(seqlm.nn.loss; CPU: 1.66x the output layer's speed under bf16)")
    max_steps: int | None = setting(None, "stop after this many optimisation steps (a checkpoint is "
                                    "saved there; raise it on resume to continue)", ge=1)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.min_lr > self.lr:
            raise SeqlmError(f"min_lr {self.min_lr:g} is above lr {self.lr:g}: the rate would rise as it "
                             "'decays'; give a min_lr ≤ lr")

    def next_lr(self, lr: float, epoch: int, improved: bool, bad_epochs: int) -> float:
        """The learning rate after epoch ``epoch`` (0-based) ends: ``zaremba`` halves
        (×lr_decay) every epoch from ``decay_start``; ``plateau`` decays after
        ``plateau_patience`` epochs without a better validation perplexity."""
        if self.schedule == "zaremba":
            lr = self.lr * self.lr_decay ** max(epoch + 2 - self.decay_start, 0)
        elif self.schedule == "plateau" and not improved and bad_epochs > self.plateau_patience:
            lr *= self.lr_decay
        return max(lr, self.min_lr)

    def step_lr(self, epoch_lr: float, progress: float, step: int) -> float:
        """The learning rate of optimisation step ``step`` (0-based), ``progress``
        (0 → 1) through the run: ``cosine`` anneals from ``lr`` to ``min_lr`` step by
        step (Loshchilov & Hutter 2017, without restarts; where a short run does best,
        measured on PTB: docs/compare.md); the other schedules keep ``epoch_lr`` for
        the epoch. A linear warmup over the first ``warmup_steps`` multiplies either."""
        lr = epoch_lr
        if self.schedule == "cosine":
            lr = self.min_lr + (self.lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        if step < self.warmup_steps:
            lr *= (step + 1) / self.warmup_steps
        return lr

    def to_dict(self) -> dict:
        return asdict(self)


# Each preset sets model fields (RNNLMConfig) and training fields (TrainConfig).
PRESETS: dict[str, dict] = {
    # Zaremba et al. 2014, Table 1 "non-regularized": test ppl 114.5.
    "zaremba-small": dict(
        cell="lstm", num_layers=2, embed_size=200, hidden_size=200, dropout=0.0, init="uniform",
        init_scale=0.1, epochs=13, batch_size=20, bptt=20, optimizer="sgd", lr=20.0, clip=0.25,
        schedule="zaremba", decay_start=4, lr_decay=0.5),
    # "medium regularized": 82.7. Zaremba: clip 5 with summed loss over 35 steps.
    "zaremba-medium": dict(
        cell="lstm", num_layers=2, embed_size=650, hidden_size=650, dropout=0.5, init="uniform",
        init_scale=0.05, epochs=39, batch_size=20, bptt=35, optimizer="sgd", lr=35.0, clip=5 / 35,
        schedule="zaremba", decay_start=6, lr_decay=0.8),
    # "large regularized": 78.4.
    "zaremba-large": dict(
        cell="lstm", num_layers=2, embed_size=1500, hidden_size=1500, dropout=0.65, init="uniform",
        init_scale=0.04, epochs=55, batch_size=20, bptt=35, optimizer="sgd", lr=35.0, clip=10 / 35,
        schedule="zaremba", decay_start=14, lr_decay=1 / 1.15),
    # A faster CPU recipe: tied 2x200 LSTM, light dropout, bf16 autocast where
    # the CPU supports it, SGD with lr decay on validation plateau (the
    # pytorch/examples tied recipe). Measured on PTB, 2-core CPU: test ppl 109.61
    # (stream, batch 1) in 25.8 min; valid ppl below KN-5's 141 after 3 epochs.
    "cpu-fast": dict(
        cell="lstm", num_layers=2, embed_size=200, hidden_size=200, dropout=0.2, tie_weights=True,
        init="uniform", init_scale=0.1, epochs=8, batch_size=20, bptt=20, optimizer="sgd",
        lr=20.0, clip=0.25, schedule="plateau", lr_decay=0.25, precision="auto"),
    # For tests and smoke runs: 2 epochs of the synthetic corpus in about half a minute.
    "tiny": dict(
        cell="lstm", num_layers=1, embed_size=16, hidden_size=16, dropout=0.0, init="uniform",
        init_scale=0.1, epochs=2, batch_size=4, bptt=8, optimizer="sgd", lr=5.0, clip=1.0,
        schedule="constant", log_interval=10, valid_batch_size=4, precision="fp32"),
}


# What each preset is for and what it costs, measured (2-core AMD EPYC, torch 2.13.0 CPU):
# shown by `seqlm train --help`.
PRESET_NOTES = {
    "zaremba-small": "Zaremba et al. 2014 small LSTM: PTB test ppl 113.2 (paper 114.5) in 27 min on 2 CPU cores",
    "zaremba-medium": "Zaremba medium (paper 82.7): a GPU recipe; not yet measured here",
    "zaremba-large": "Zaremba large (paper 78.4): a GPU recipe; not yet measured here",
    "cpu-fast": "tied 2x200 LSTM, bf16 where supported: PTB test ppl 109.6 in 26 min on 2 CPU cores",
    "tiny": "smoke runs: 2 epochs of the synthetic corpus in about 30 s on 2 CPU cores",
}


def preset(name: str) -> dict:
    if name not in PRESETS:
        raise SeqlmError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return dict(PRESETS[name])
