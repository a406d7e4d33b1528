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

from dataclasses import asdict, dataclass, fields

from seqlm.errors import SeqlmError

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("zaremba", "plateau", "constant")
PRECISIONS = ("fp32", "bf16", "auto")
UNITS = ("stream", "sentence")


@dataclass
class TrainConfig:
    """How to train (the model's architecture is :class:`seqlm.lm.RNNLMConfig`)."""

    epochs: int = 13
    batch_size: int = 20
    bptt: int = 20
    variable_bptt: bool = False     # AWD-LSTM style random segment lengths around bptt
    # stream: one token stream, state carried (and detached) across segments and
    # sentences (the PTB convention). sentence: batches of whole sentences, each
    # from the zero state (independent sentences; bptt is unused, and validation,
    # which picks the best model, is in sentence mode too).
    unit: str = "stream"
    optimizer: str = "sgd"          # sgd | adamw
    lr: float = 20.0
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "zaremba"       # zaremba | plateau | constant
    decay_start: int = 4            # zaremba: epochs at constant lr before decaying
    lr_decay: float = 0.5           # multiply lr by this at every decay
    plateau_patience: int = 0       # plateau: epochs without improvement before a decay
    min_lr: float = 0.0
    clip: float | None = 0.25       # global gradient-norm threshold (Pascanu); None = off
    early_stopping: int | None = None  # stop after this many epochs without improvement
    log_interval: int = 100         # steps between metrics.jsonl lines
    checkpoint_every: int = 0       # steps between mid-epoch checkpoints (0: only per epoch)
    valid_batch_size: int = 10      # stream-mode validation batch (see seqlm.eval)
    precision: str = "auto"         # fp32 | bf16 | auto (bf16 autocast where the device supports it)
    max_steps: int | None = None    # stop after this many optimisation steps (benchmarks)
    inject_nan_at_step: int | None = None  # testing the NaN guard: poison the loss at this step
    sleep_per_step: float = 0.0     # testing resume: slow a tiny run down so it can be killed

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise SeqlmError(f"unknown optimizer {self.optimizer!r} (choose from {', '.join(OPTIMIZERS)})")
        if self.schedule not in SCHEDULES:
            raise SeqlmError(f"unknown schedule {self.schedule!r} (choose from {', '.join(SCHEDULES)})")
        if self.unit not in UNITS:
            raise SeqlmError(f"unknown training unit {self.unit!r} (choose from {', '.join(UNITS)})")
        if self.precision not in PRECISIONS:
            raise SeqlmError(f"unknown precision {self.precision!r} (choose from {', '.join(PRECISIONS)})")
        for name in ("epochs", "batch_size", "bptt", "log_interval", "valid_batch_size"):
            if int(getattr(self, name)) < 1:
                raise SeqlmError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise SeqlmError(f"lr must be > 0, got {self.lr}")
        if self.clip is not None and self.clip <= 0:
            raise SeqlmError(f"clip must be > 0 (or None to disable), got {self.clip}")

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
    # For tests and smoke runs: seconds on the synthetic corpus.
    "tiny": dict(
        cell="lstm", num_layers=1, embed_size=16, hidden_size=16, dropout=0.0, init="uniform",
        init_scale=0.1, epochs=2, batch_size=4, bptt=8, optimizer="sgd", lr=5.0, clip=1.0,
        schedule="constant", log_interval=10, valid_batch_size=4, precision="fp32"),
}


def split_fields(values: dict) -> tuple[dict, dict]:
    """Split a flat dict of settings into (model fields, training fields);
    unknown names raise a one-line SeqlmError."""
    from seqlm.lm.model import RNNLMConfig
    model_names = {f.name for f in fields(RNNLMConfig)}
    train_names = {f.name for f in fields(TrainConfig)}
    model, train = {}, {}
    for k, v in values.items():
        if k in model_names:
            model[k] = v
        elif k in train_names:
            train[k] = v
        else:
            raise SeqlmError(f"unknown setting {k!r}")
    return model, train


def preset(name: str) -> dict:
    if name not in PRESETS:
        raise SeqlmError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return dict(PRESETS[name])
