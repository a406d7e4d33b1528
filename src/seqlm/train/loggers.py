"""Where a training run's numbers go besides ``metrics.jsonl``: a plain line per event
for logs nobody watches live, TensorBoard, or any logger of your own.

The trainer calls ``callback(record)`` with every record it writes to ``metrics.jsonl``
(``event`` = ``train`` per log interval, ``epoch`` per validation, ``note``, ...). These
are such callbacks; :func:`combine` chains several. Anything else — Weights & Biases,
MLflow, a CSV — is a function of one dict::

    seqlm.train.train(corpus, model, cfg, out_dir="runs/x",
                      callback=lambda rec: print(rec["step"], rec.get("train_loss")))
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, TextIO

Callback = Callable[[dict], None]


def _num(x, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


class LineLogger:
    """One plain line per log interval and per validation, flushed at once: what a batch
    job (SLURM, nohup, ``> log 2>&1``) shows while it runs, as pytorch/examples and
    nanoGPT print theirs."""

    def __init__(self, stream: TextIO | None = None, prefix: str = "seqlm train") -> None:
        self.stream, self.prefix = stream or sys.stderr, prefix

    def __call__(self, rec: dict) -> None:
        event = rec.get("event")
        if event == "train":
            line = (f"step {rec['step']} | epoch {rec['epoch']} | loss {_num(rec.get('train_loss'), '.4f')} | "
                    f"ppl {_num(rec.get('train_ppl'), '.2f')} | lr {_num(rec.get('lr'), '.4g')} | "
                    f"grad norm {_num(rec.get('grad_norm'), '.3f')} | "
                    f"{_num(rec.get('tokens_per_s'), '.0f')} tokens/s | {_num(rec.get('wall_time'), '.1f')} s")
        elif event == "epoch":
            line = (f"epoch {rec['epoch']} done at step {rec['step']} | valid ppl {_num(rec.get('valid_ppl'), '.2f')} "
                    f"(best {_num(rec.get('best_valid_ppl'), '.2f')}) | train ppl {_num(rec.get('train_ppl'), '.2f')} | "
                    f"lr {_num(rec.get('lr'), '.4g')} | {_num(rec.get('wall_time'), '.1f')} s")
        else:
            return
        print(f"{self.prefix}: {line}", file=self.stream, flush=True)


class TensorBoardLogger:
    """The same scalars as TensorBoard event files in ``logdir`` (``torch.utils.tensorboard``;
    the ``tensorboard`` extra): ``train/loss``, ``train/ppl``, ``train/lr``,
    ``train/grad_norm``, ``train/tokens_per_s`` per log interval, ``valid/ppl`` and
    ``valid/bits_per_token`` per validation, against the optimisation step."""

    TRAIN = {"train_loss": "train/loss", "train_ppl": "train/ppl", "lr": "train/lr",
             "grad_norm": "train/grad_norm", "tokens_per_s": "train/tokens_per_s"}
    EPOCH = {"valid_ppl": "valid/ppl", "valid_bits_per_token": "valid/bits_per_token"}

    def __init__(self, logdir: str | Path) -> None:
        from seqlm.errors import SeqlmError
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise SeqlmError("--tensorboard needs the tensorboard package: pip install 'seqlm[tensorboard]'") from None
        self.writer = SummaryWriter(log_dir=str(logdir))

    def __call__(self, rec: dict) -> None:
        names = {"train": self.TRAIN, "epoch": self.EPOCH}.get(rec.get("event"))
        if not names:
            return
        for key, tag in names.items():
            if isinstance(rec.get(key), (int, float)):
                self.writer.add_scalar(tag, float(rec[key]), int(rec["step"]))
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def combine(*callbacks: Callback | None) -> Callback | None:
    """One callback that calls each given one in turn (None when there is none)."""
    todo = [c for c in callbacks if c is not None]
    if not todo:
        return None
    if len(todo) == 1:
        return todo[0]
    return lambda rec: [c(rec) for c in todo] and None
