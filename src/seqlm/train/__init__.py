"""Training: truncated BPTT, schedules, clipping, checkpoints and resume, DDP."""
from seqlm.train.checkpoint import load_checkpoint, load_model, save_checkpoint
from seqlm.train.config import PRESETS, TrainConfig
from seqlm.train.trainer import Trainer, TrainResult, train

__all__ = ["Trainer", "TrainResult", "TrainConfig", "PRESETS", "train", "load_checkpoint",
           "load_model", "save_checkpoint"]
