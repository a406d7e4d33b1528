"""Training: truncated BPTT, schedules, clipping, checkpoints and resume, DDP.

Names are imported on first use (PEP 562): the settings (:mod:`seqlm.train.config`,
:mod:`seqlm.train.settings`) can be read without importing torch.
"""
from __future__ import annotations

from seqlm._lazy import lazy_names

_LAZY = {
    "Trainer": "seqlm.train.trainer", "TrainResult": "seqlm.train.trainer", "train": "seqlm.train.trainer",
    "TrainConfig": "seqlm.train.config", "PRESETS": "seqlm.train.config",
    "load_checkpoint": "seqlm.train.checkpoint", "load_model": "seqlm.train.checkpoint",
    "save_checkpoint": "seqlm.train.checkpoint",
}

__all__ = list(_LAZY)
__getattr__, __dir__ = lazy_names("seqlm.train", _LAZY)
