"""Truncated-BPTT training of a neural LM (any model implementing the LM protocol).

The training stream is cut into ``B`` contiguous columns and read ``bptt``
rows at a time. The hidden state is carried from one segment to the next and
**detached** at every boundary: the forward pass sees the whole history, the
backward pass stops after ``bptt`` steps, and no autograd graph outlives its
segment (never ``retain_graph``). Per step:

    loss  = mean_{t,b} -log p(y[t,b] | x[<=t, b])        # (bptt, B) tokens
    g     = ∇ loss;  ‖g‖ > clip ⇒ g ← clip · g / ‖g‖     # Pascanu et al., Alg. 1
    θ     ← θ - lr · g   (SGD)   or an AdamW step

A run directory ``OUT`` receives ``checkpoint/`` (the latest, for resuming),
``best/`` (lowest validation perplexity) and ``metrics.jsonl``; rank 0 holds its
lock while it trains (:mod:`seqlm.train.rundir`). Under ``torchrun`` each rank
trains its own B / world_size columns, DDP all-reduces (averages) the gradients
and rank 0 alone writes files.

Divergence stops the run in one line naming the step: a loss, gradient norm or
validation perplexity that is not finite, or a mean loss above
``DIVERGENCE_FACTOR`` times that of the uniform guess (ln V). Nothing diverged is
saved: ``checkpoint/`` stays the last good one, ``best/`` the best good one.
"""
from __future__ import annotations

import json
import math
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from seqlm.data.batching import lm_batches, segments, sentence_batches
from seqlm.errors import SeqlmError, SeqlmWarning
from seqlm.eval.scoring import autocast_context, evaluate
from seqlm.lm.base import build_model, detach_state, model_class, state_tensors
from seqlm.io import lock_dir
from seqlm.nn import clip_grad_norm_
from seqlm.train import checkpoint as ckpt
from seqlm.train import rundir
from seqlm.train.config import TrainConfig
from seqlm.train.resume import load_resume, restore
from seqlm.train.devices import (DistInfo, all_gather_float, finish_distributed, gather_state,
                                 init_distributed, local_slice, resolve_device, resolve_precision)
from seqlm.train.stops import DivergenceGuard, Signals


@dataclass
class TrainResult:
    out_dir: Path
    best_valid_ppl: float
    epochs: int                 # epochs completed
    steps: int
    interrupted: bool = False   # stopped by SIGINT/SIGTERM (a checkpoint was saved)
    signal: int | None = None   # the signal number that interrupted it
    stopped_early: bool = False
    max_steps_reached: bool = False  # stopped by max_steps (a checkpoint was saved there)
    history: list = field(default_factory=list)  # one dict per epoch of this invocation


class Trainer:
    """One training run. ``Trainer(...).fit()``; :func:`train` is the one-call form."""

    def __init__(self, corpus, model_config, train_config: TrainConfig, out_dir, seed: int = 0,
                 device: str = "auto", resume: str | Path | None = None, progress: bool = True,
                 progress_position: int = 0, progress_desc: str | None = None,
                 callback: Callable[[dict], None] | None = None, deterministic: bool = False,
                 data_source: str | None = None,
                 step_hook: Callable[[int, torch.Tensor], torch.Tensor | None] | None = None,
                 force: bool = False, notes: list[str] | None = None):
        self.data_source = data_source
        # What the checkpoints record of the corpus (spec and fingerprint): eval, score and
        # generate find it again without --data (seqlm.train.run_corpus).
        self.corpus_record = corpus.record() if hasattr(corpus, "record") else None
        # Called with (step, loss) after the forward pass, before backward; it may
        # return a replacement loss (fault injection: seqlm.train.faults).
        self.step_hook = step_hook
        self.corpus, self.cfg, self.seed = corpus, train_config, seed
        self.out = Path(out_dir)
        self.force = force
        self.notes = list(notes or [])  # said (SeqlmWarning, metrics.jsonl) once the run starts
        self.dist: DistInfo = init_distributed(device)
        self.device = resolve_device(device, self.dist.local_rank if self.dist.enabled else None)
        self.precision = resolve_precision(train_config.precision, self.device)
        self.progress, self.progress_position, self.progress_desc = progress, progress_position, progress_desc
        self.callback = callback
        if deterministic:
            torch.use_deterministic_algorithms(True)
        if not isinstance(model_config, dict):
            model_config = asdict(model_config)
        model_config = dict(model_config)
        model_config.setdefault("kind", "rnn")
        model_config.setdefault("vocab_size", len(corpus.vocab))
        # Normalise to the full dataclass (defaults filled in) so that what is
        # saved and compared on resume is the complete architecture.
        model_config = asdict(model_class(model_config["kind"]).config_from_dict(model_config))
        if model_config["vocab_size"] != len(corpus.vocab):
            raise SeqlmError(f"model vocab_size {model_config['vocab_size']} != corpus vocabulary "
                             f"size {len(corpus.vocab)}")
        self.resume = Path(resume) if resume is not None else None
        self.resume_ckpt = None
        self.model_config = model_config
        self.guard = DivergenceGuard(len(corpus.vocab), train_config.clip)
        if train_config.batch_size % self.dist.world_size:
            raise SeqlmError(f"batch size {train_config.batch_size} is not divisible by the "
                             f"{self.dist.world_size} processes")

    # ------------------------------------------------------------------ helpers
    def _write_metrics(self, record: dict) -> None:
        if self.callback is not None:
            self.callback(record)
        if not self.dist.is_main:
            return
        with open(self.out / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def _all_gather(self, x: float) -> list[float]:
        return all_gather_float(self.dist, self.device, x)

    def _gather_state(self, state):
        return gather_state(self.dist, state, self.state_dim)

    def _local_slice(self, state):
        return local_slice(self.dist, state, self.state_dim, self.cfg.batch_size, self.device)

    def _save(self, name: str, with_state: bool, state=None) -> None:
        """Write ``OUT/name`` (rank 0); collective when distributed (gathers the state)."""
        trainer_state = None
        if with_state:
            trainer_state = {
                "step": self.step, "epoch": self.epoch, "segment": self.segment,
                "lr": self.lr, "best_valid": self.best_valid, "bad_epochs": self.bad_epochs,
                "optimizer": self.optimizer.state_dict(), "rng": ckpt.snapshot_rng(),
                "hidden": [t.detach().cpu().clone() for t in state_tensors(self._gather_state(state))]
                if state is not None else [],
                "interval": dict(self.interval), "epoch_acc": dict(self.epoch_acc),
                "world_size": self.dist.world_size,  # (no wall times: identical runs, identical files)
            }
        if self.dist.is_main:
            ckpt.save_checkpoint(self.out / name, self.raw_model, self.corpus.vocab,
                                 train_config=self.cfg.to_dict(), trainer_state=trainer_state,
                                 extra={"seed": self.seed, "data": self.data_source,
                                        "corpus": self.corpus_record})
        if self.dist.enabled:
            import torch.distributed as dist
            dist.barrier()
        if with_state:
            self.last_good = (self.out / name, self.step)

    def _diverged(self, problem: tuple[str, float, str], step: int | None = None) -> SeqlmError:
        what, value, why = problem
        step = self.step + 1 if step is None else step
        where = (f"last good checkpoint: {self.last_good[0]} (step {self.last_good[1]})"
                 if self.last_good else "no checkpoint was written yet")
        if self.dist.is_main:
            self._write_metrics({"event": "diverged", "step": step, "what": what, "value": repr(value)})
        return SeqlmError(f"training diverged at step {step} (epoch {self.epoch + 1}): {what} is "
                          f"{value:.4g}{why}; weights not saved; {where}")

    # --------------------------------------------------------------------- fit
    def fit(self) -> TrainResult:
        with torch.random.fork_rng(devices=[self.device.index or 0] if self.device.type == "cuda" else []):
            torch.manual_seed(self.seed)
            try:
                with self._locked(), Signals() as sig:
                    if self.resume is not None:
                        self.resume_ckpt = load_resume(self.resume, self.corpus.vocab, self.model_config,
                                                       self.cfg)
                    return self._fit(sig)
            finally:
                finish_distributed(self.dist)

    def _locked(self):
        """Rank 0 holds the run directory's lock and readies it (rundir.prepare)."""
        import contextlib
        if not self.dist.is_main:
            return contextlib.nullcontext()
        stack = contextlib.ExitStack()
        stack.enter_context(lock_dir(self.out, "seqlm train"))
        try:
            rundir.prepare(self.out, resume=rundir.is_run_of(self.out, self.resume), force=self.force)
        except BaseException:
            stack.close()
            raise
        return stack

    def _fit(self, sig: Signals) -> TrainResult:
        cfg = self.cfg
        self.raw_model = build_model(self.model_config, seed=self.seed).to(self.device)
        self.state_dim = getattr(self.raw_model, "state_batch_dim", 1)
        model = self.raw_model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP
            model = DDP(self.raw_model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        params = [p for p in self.raw_model.parameters() if p.requires_grad]
        if cfg.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                                             weight_decay=cfg.weight_decay)
        else:
            self.optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

        # Data: B global columns, this rank's slice of them.
        b = cfg.batch_size // self.dist.world_size
        cols = slice(self.dist.rank * b, (self.dist.rank + 1) * b)
        if cfg.unit == "stream":
            inputs, targets, _ = lm_batches(self.corpus.train, cfg.batch_size, self.corpus.vocab.eos_id)
            inputs, targets = inputs[:, cols].to(self.device), targets[:, cols].to(self.device)
            n_rows = inputs.size(0)

        self.step, self.epoch, self.segment = 0, 0, 0
        self.lr, self.best_valid, self.bad_epochs = cfg.lr, math.inf, 0
        self.interval = {"loss": 0.0, "steps": 0, "tokens": 0, "gnorm": 0.0}
        self.epoch_acc = {"loss": 0.0, "steps": 0}
        self.speed = {"tokens": 0, "time": 0.0}  # this epoch since (re)start; never saved
        self.last_good = None
        history: list[dict] = []
        state = None
        if self.resume_ckpt is not None:
            state = restore(self, self.resume_ckpt)
        elif self.dist.is_main:
            (self.out / "metrics.jsonl").unlink(missing_ok=True)

        if self.resume_ckpt is not None and self.epoch >= cfg.epochs:
            self.notes.append(f"the run already finished its {cfg.epochs} epochs; nothing to train "
                              "(raise --epochs to train longer)")
        if self.dist.is_main:
            for note in self.notes:
                warnings.warn(note, SeqlmWarning, stacklevel=3)
                self._write_metrics({"event": "note", "step": self.step, "note": note})
        if (self.precision == "bf16" and self.model_config.get("backend") == "explicit"
                and self.dist.is_main):
            from seqlm.nn.cells import AUTOCAST_NOTE
            self._write_metrics({"event": "note", "step": self.step, "note": AUTOCAST_NOTE})
            if self.progress:
                print(f"note: {AUTOCAST_NOTE}", file=sys.stderr)
        tqdm_bar = self._bar_obj = None
        stopped_early = False
        t0 = time.perf_counter()
        while self.epoch < cfg.epochs:
            rng = np.random.default_rng([self.seed, self.epoch])
            if cfg.unit == "stream":
                segs = list(segments(n_rows, cfg.bptt, cfg.variable_bptt, rng))
            else:  # a function of (seed, epoch) alone, so a resumed epoch sees the same batches
                segs = self._sentence_batches(rng, cols)
            if self.segment == 0 or state is None:
                state = self.raw_model.init_state(b, self.device)
            for g in self.optimizer.param_groups:
                g["lr"] = self.lr
            tqdm_bar = self._bar_obj = self._bar(len(segs), tqdm_bar)
            model.train()
            t_int = time.perf_counter()
            while self.segment < len(segs):
                t_step = time.perf_counter()
                if cfg.unit == "stream":
                    start, length = segs[self.segment]
                    x, y = inputs[start:start + length], targets[start:start + length]  # (T, b)
                    state = detach_state(state)  # the truncation: no graph crosses this line
                    n_tokens = length * cfg.batch_size
                else:
                    x, y = (t.to(self.device) for t in segs[self.segment])    # (T, b), -100 on padding
                    state = self.raw_model.init_state(x.size(1), self.device)  # every sentence starts over
                    length = x.size(0)
                    n_tokens = int((y != -100).sum()) * self.dist.world_size
                with autocast_context(self.device, self.precision):
                    logits, state = model(x, state)                                  # (T, b, V)
                loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), ignore_index=-100)
                if self.step_hook is not None:
                    replaced = self.step_hook(self.step + 1, loss)
                    loss = loss if replaced is None else replaced
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                gnorm = clip_grad_norm_(params, cfg.clip if cfg.clip is not None else math.inf)
                loss_value = float(loss.item())
                problem = self.guard.step(loss_value, gnorm)
                if problem:
                    raise self._diverged(problem)
                if cfg.variable_bptt and cfg.unit == "stream":  # AWD-LSTM: shorter segments take proportionally smaller steps
                    for g in self.optimizer.param_groups:
                        g["lr"] = self.lr * length / cfg.bptt
                self.optimizer.step()
                self.step += 1
                self.segment += 1
                iv = self.interval
                iv["loss"] += loss_value
                iv["steps"] += 1
                iv["tokens"] += n_tokens
                iv["gnorm"] += gnorm
                self.epoch_acc["loss"] += loss_value
                self.epoch_acc["steps"] += 1
                self.speed["tokens"] += n_tokens
                self.speed["time"] += time.perf_counter() - t_step
                if tqdm_bar is not None:
                    tqdm_bar.update(1)
                if self.step % cfg.log_interval == 0 or self.segment == len(segs):
                    self._log_interval(t_int, t0, tqdm_bar)
                    t_int = time.perf_counter()
                done = cfg.max_steps is not None and self.step >= cfg.max_steps
                if self.dist.enabled:  # all ranks must agree before the collective save
                    got = max(self._all_gather(float(sig.received or 0)))
                    sig.received = int(got) if got else None
                if sig.received is not None or (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0
                                                 and self.segment < len(segs)):
                    # A sentence batch's state is never carried on, so there is none to keep.
                    self._save("checkpoint", True, state if cfg.unit == "stream" else None)
                if sig.received is not None:
                    self._write_metrics({"event": "interrupted", "step": self.step,
                                         "signal": int(sig.received)})
                    return self._result(history, interrupted=True, signal=int(sig.received))
                if done:  # --max-steps: keep the work done so far, resumable with a higher limit
                    if self.segment < len(segs):
                        self._log_interval(t_int, t0, tqdm_bar)
                        self._save("checkpoint", True, state if cfg.unit == "stream" else None)
                    break
            reached = cfg.max_steps is not None and self.step >= cfg.max_steps
            if reached and self.segment < len(segs):
                break
            # ---- end of epoch: validate, schedule, keep the best, checkpoint
            record = self._end_epoch(t0)
            history.append(record)
            self.epoch += 1
            self.segment = 0
            state = None
            self._save("checkpoint", True, None)
            if cfg.early_stopping and self.bad_epochs >= cfg.early_stopping:
                stopped_early = True
                self._write_metrics({"event": "early_stop", "epoch": self.epoch, "step": self.step})
                break
            if reached:  # max_steps fell on the last step of an epoch
                break
        reached = cfg.max_steps is not None and self.step >= cfg.max_steps
        return self._result(history, stopped_early=stopped_early, max_steps_reached=reached)

    def _result(self, history, **kw) -> TrainResult:
        if self._bar_obj is not None:
            self._bar_obj.close()
        return TrainResult(self.out, self.best_valid, self.epoch, self.step, history=history, **kw)

    def _bar(self, total: int, old):
        if old is not None:
            old.close()
        if not self.progress or not self.dist.is_main:
            return None
        from tqdm.auto import tqdm
        desc = self.progress_desc or "train"
        return tqdm(total=total, initial=self.segment, position=self.progress_position, leave=False,
                    desc=f"{desc} epoch {self.epoch + 1}/{self.cfg.epochs}", unit="step",
                    disable=None, dynamic_ncols=True)

    def _log_interval(self, t_int: float, t0: float, bar) -> None:
        iv = self.interval
        if not iv["steps"]:
            return
        elapsed = time.perf_counter() - t_int
        rank_losses = self._all_gather(iv["loss"] / iv["steps"])
        loss = sum(rank_losses) / len(rank_losses)  # = the global-batch mean: equal slices
        rec = {"event": "train", "epoch": self.epoch + 1, "step": self.step, "train_loss": loss,
               "train_ppl": math.exp(min(loss, 700)), "lr": self.lr, "grad_norm": iv["gnorm"] / iv["steps"],
               "tokens_per_s": iv["tokens"] / elapsed if elapsed > 0 else None,
               "wall_time": time.perf_counter() - t0}
        if self.dist.enabled:
            rec["rank_train_loss"] = rank_losses
        self._write_metrics(rec)
        if bar is not None:
            bar.set_postfix(ppl=f"{rec['train_ppl']:.1f}", tok_s=f"{rec['tokens_per_s'] or 0:.0f}", lr=f"{self.lr:.3g}")
        self.interval = {"loss": 0.0, "steps": 0, "tokens": 0, "gnorm": 0.0}

    def _sentence_batches(self, rng: np.random.Generator, cols: slice) -> list:
        """This epoch's batches of whole sentences, this rank's columns of each.
        Under DDP every batch must give each rank at least one sentence, so the
        few sentences that do not fill a last batch of ``batch_size`` are left
        out of that epoch."""
        cfg = self.cfg
        batches = sentence_batches(self.corpus.train, cfg.batch_size, self.corpus.vocab.eos_id, rng)
        if self.dist.enabled:
            batches = [(x[:, cols], y[:, cols]) for x, y in batches if x.size(1) == cfg.batch_size]
        return batches

    def _end_epoch(self, t0: float) -> dict:
        cfg = self.cfg
        # Validation always in fp32: the number that selects the best model is exact.
        if cfg.unit == "stream":
            ev = evaluate(self.raw_model, self.corpus.valid, "stream", batch_size=cfg.valid_batch_size,
                          bptt=max(cfg.bptt, 64), device=self.device, precision="fp32")
        else:
            ev = evaluate(self.raw_model, self.corpus.valid, "sentence", device=self.device,
                          precision="fp32")
        valid_ppl = ev.ppl
        problem = self.guard.validation(ev)
        if problem:
            raise self._diverged(problem, step=self.step)
        improved = valid_ppl < self.best_valid
        if improved:
            self.best_valid, self.bad_epochs = valid_ppl, 0
            self._save("best", False)
        else:
            self.bad_epochs += 1
        ea = self.epoch_acc
        train_loss = sum(self._all_gather(ea["loss"] / max(ea["steps"], 1))) / self.dist.world_size
        rec = {"event": "epoch", "epoch": self.epoch + 1, "step": self.step, "train_loss": train_loss,
               "train_ppl": math.exp(min(train_loss, 700)),
               "tokens_per_s": self.speed["tokens"] / self.speed["time"] if self.speed["time"] else None,
               "valid_ppl": valid_ppl,
               "valid_bits_per_token": ev.bits_per_token, "best_valid_ppl": self.best_valid,
               "lr": self.lr, "wall_time": time.perf_counter() - t0}
        self._write_metrics(rec)
        self.epoch_acc = {"loss": 0.0, "steps": 0}
        self.speed = {"tokens": 0, "time": 0.0}
        # The learning rate of the next epoch.
        if cfg.schedule == "zaremba":
            self.lr = cfg.lr * cfg.lr_decay ** max(self.epoch + 2 - cfg.decay_start, 0)
        elif cfg.schedule == "plateau" and not improved and self.bad_epochs > cfg.plateau_patience:
            self.lr *= cfg.lr_decay
        self.lr = max(self.lr, cfg.min_lr)
        return rec


def train(corpus, model_config, train_config: TrainConfig | None = None, out_dir="runs/train",
          seed: int = 0, **kwargs) -> TrainResult:
    """Train a model on ``corpus`` (a :class:`seqlm.data.corpus.Corpus`); see :class:`Trainer`."""
    return Trainer(corpus, model_config, train_config or TrainConfig(), out_dir, seed, **kwargs).fit()
