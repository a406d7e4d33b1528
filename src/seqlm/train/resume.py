"""Resuming a run: its checkpoint read back into a trainer, every field checked.

The trainer state (:mod:`seqlm.train.checkpoint`) holds the step, the epoch and
the position in it, the learning rate and early-stopping counters, the optimizer
state, every RNG state and the carried hidden state, so that a run killed and
resumed ends bitwise equal to one that was never stopped (CPU,
``--deterministic``). Whatever does not fit the run it is resumed into — another
vocabulary or architecture, an optimizer state of other shapes, a hidden state
of another batch size — is a one-line error.
"""
from __future__ import annotations

import json
from pathlib import Path

from seqlm.errors import SeqlmError
from seqlm.lm.base import state_from_tensors, state_tensors
from seqlm.train import checkpoint as ckpt
from seqlm.train.config import TrainConfig
from seqlm.train.devices import gather_state, local_slice

REQUIRED = ("step", "epoch", "segment", "lr", "best_valid", "bad_epochs", "optimizer", "rng", "hidden")


def load_resume(path: Path, vocab, model_config: dict, cfg: TrainConfig) -> ckpt.Checkpoint:
    """The checkpoint to resume from (read once the run directory is locked and
    recovered), checked against this run's vocabulary, architecture and max_steps."""
    path = Path(path)
    if path.name.endswith(".old") and not path.exists():
        # resolved to the only complete copy a killed swap left; the recovery under
        # the lock has since put it back under its own name (seqlm.io.recover_dir)
        path = path.with_name(path.name[: -len(".old")])
    ck = ckpt.load_checkpoint(path, prefer="checkpoint")
    st = ck.trainer_state
    if st is None:
        raise SeqlmError(f"{ck.path}: cannot resume (no trainer state)")
    ckpt.check_compatible(ck, vocab, model_config, "the training data/config")
    missing = [k for k in REQUIRED if k not in st]
    if missing:
        raise ckpt.corrupt(ck.path, f"trainer state lacks {', '.join(missing)}")
    if cfg.max_steps is not None and st["step"] >= cfg.max_steps:
        raise SeqlmError(f"{ck.path}: the run is at step {st['step']}, already at max_steps "
                         f"{cfg.max_steps}; raise --max-steps (or --max-steps none) to train on")
    return ck


def snapshot(tr, state) -> dict:
    """The trainer state of ``tr`` for a checkpoint: what :func:`restore` puts back.
    Collective under DDP (the carried state is gathered from every rank)."""
    hidden = gather_state(tr.dist, state, tr.state_dim) if state is not None else None
    return {"step": tr.step, "epoch": tr.epoch, "segment": tr.segment,
            "lr": tr.lr, "best_valid": tr.best_valid, "bad_epochs": tr.bad_epochs,
            "optimizer": tr.optimizer.state_dict(), "rng": ckpt.snapshot_rng(),
            "hidden": [t.detach().cpu().clone() for t in state_tensors(hidden)] if hidden is not None else [],
            "interval": dict(tr.interval), "epoch_acc": dict(tr.epoch_acc),
            "world_size": tr.dist.world_size}  # (no wall times: identical runs, identical files)


def restore(tr, ck: ckpt.Checkpoint):
    """Put the checkpoint's weights, optimizer, counters and RNG states into the
    trainer ``tr``; return the carried hidden state (this rank's slice) or None."""
    st = ck.trainer_state
    if st.get("world_size", 1) != tr.dist.world_size and st["segment"]:
        raise SeqlmError(f"{ck.path}: a mid-epoch checkpoint written by {st.get('world_size', 1)} "
                         f"processes cannot be resumed by {tr.dist.world_size}")
    tr.raw_model.load_state_dict(ck.model.state_dict())
    try:
        tr.optimizer.load_state_dict(st["optimizer"])
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as e:
        raise ckpt.corrupt(ck.path, f"optimizer state does not fit the model ({str(e)[:150]})") from None
    tr.step, tr.epoch, tr.segment = int(st["step"]), int(st["epoch"]), int(st["segment"])
    tr.lr, tr.best_valid, tr.bad_epochs = float(st["lr"]), float(st["best_valid"]), int(st["bad_epochs"])
    if ck.train_config and ck.train_config.get("lr") != tr.cfg.lr:
        tr.lr = tr.cfg.lr  # --lr on resume: the step size from now on
    tr.interval = {**tr.interval, **(st.get("interval") or {})}
    tr.epoch_acc = {k: (st.get("epoch_acc") or {}).get(k, v) for k, v in tr.epoch_acc.items()}
    tr.last_good = (ck.path, tr.step)
    ckpt.restore_rng(st["rng"], ck.path)
    if tr.dist.is_main:
        truncate_metrics(tr.out / "metrics.jsonl", tr.step)
    if not st["hidden"]:
        return None
    template = tr.raw_model.init_state(tr.cfg.batch_size, "cpu")
    shapes = [tuple(t.shape) for t in state_tensors(template)]
    if [tuple(getattr(t, "shape", ())) for t in st["hidden"]] != shapes:
        raise ckpt.corrupt(ck.path, f"carried state does not fit the model and batch size "
                                    f"(expected shapes {shapes})")
    full = state_from_tensors(template, list(st["hidden"]))
    return local_slice(tr.dist, full, tr.state_dim, tr.cfg.batch_size, tr.device)


def truncate_metrics(path: Path, step: int) -> None:
    """Drop metric lines logged after the checkpoint we resume from."""
    if not path.exists():
        return
    from seqlm.io import write_text
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                keep.append(line)
        except json.JSONDecodeError:
            continue
    write_text(path, "".join(k + "\n" for k in keep))
