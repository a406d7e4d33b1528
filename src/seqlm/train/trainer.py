# long: one Trainer class whose methods share its state (448 lines); what is not the loop already lives beside it (resume, checkpoint, stops, rundir, faults, settings)
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

``Trainer._fit`` is the loop (batches → step → log → end of epoch); its parts are
named methods here, and what is not the loop lives beside it: ``resume``
(snapshot/restore), ``stops`` (divergence, signals), ``rundir`` (lock, --force),
``devices`` (DDP collectives), ``checkpoint``. (About 430 lines: the loop's parts
share the run's counters, and splitting them across files would hide that.)
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
import warnings
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seqlm.data.batching import lm_batches, segments, sentence_batches
from seqlm.errors import SeqlmError, SeqlmWarning
from seqlm.eval.scoring import autocast_context, evaluate
from seqlm.io import append_line
from seqlm.lm.base import detach_state
from seqlm.lm.build import build_model, model_class
from seqlm.nn import clip_grad_norm_
from seqlm.train import checkpoint as ckpt
from seqlm.train import rundir
from seqlm.train.config import TrainConfig
from seqlm.train.devices import (
    DistInfo,
    all_gather_float,
    finish_distributed,
    init_distributed,
    resolve_device,
    resolve_precision,
)
from seqlm.train.resume import load_resume, restore, snapshot
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

    @property
    def out(self) -> Path:
        """The run directory (``out_dir``)."""
        return self.out_dir


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
        self.initial_model = None  # a model given ready-made (the LM protocol): trained as it is
        if isinstance(model_config, nn.Module):
            if not dataclasses.is_dataclass(getattr(model_config, "config", None)):
                raise SeqlmError("train() takes a model config, or a model with a .config dataclass "
                                 "(the LM protocol of seqlm.lm.base)")
            self.initial_model, model_config = model_config, model_config.config
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
        append_line(self.out / "metrics.jsonl", json.dumps(record))

    def _all_gather(self, x: float) -> list[float]:
        return all_gather_float(self.dist, self.device, x)

    def _save(self, name: str, with_state: bool, state=None) -> None:
        """Write ``OUT/name`` (rank 0); collective when distributed (gathers the state)."""
        trainer_state = snapshot(self, state) if with_state else None
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
                lock = rundir.locked(self.out, self.resume, self.force) if self.dist.is_main else nullcontext()
                with lock, Signals() as sig:
                    if self.resume is not None:
                        self.resume_ckpt = load_resume(self.resume, self.corpus.vocab, self.model_config,
                                                       self.cfg)
                    return self._fit(sig)
            finally:
                finish_distributed(self.dist)

    def _fit(self, sig: Signals) -> TrainResult:
        """The training loop: batches → step → log → end of epoch."""
        model = self._setup()
        history: list[dict] = []
        while self.epoch < self.cfg.epochs:
            batches = self._epoch_batches()               # a function of (seed, epoch): resumable
            state = self._start_epoch(model, len(batches))
            while self.segment < len(batches):
                state = self._step(model, batches[self.segment], state)
                stop = self._after_step(state, sig, len(batches))
                if stop:                                  # a signal, or --max-steps mid-epoch
                    return self._result(history, **stop)
            history.append(self._end_epoch(self._t0))     # validate, schedule, keep the best
            self.epoch, self.segment = self.epoch + 1, 0
            self._save("checkpoint", True, None)
            if self._early_stop() or self._max_steps_reached():
                break
        return self._result(history, stopped_early=self._stopped_early,
                            max_steps_reached=self._max_steps_reached())

    # ------------------------------------------------------------ the loop's parts
    def _setup(self):
        """Model (seeded), its DDP wrapper, the optimizer, this rank's data, the
        counters, a resumed run's state; then the notes. Returns the model to call."""
        cfg = self.cfg
        self.raw_model = (self.initial_model if self.initial_model is not None
                          else build_model(self.model_config, seed=self.seed)).to(self.device)
        self.state_dim = getattr(self.raw_model, "state_batch_dim", 1)
        model = self.raw_model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP
            model = DDP(self.raw_model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.params = [p for p in self.raw_model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(cfg, self.params)
        # Data: B global columns, this rank's slice of them.
        self.local_batch = cfg.batch_size // self.dist.world_size
        self.cols = slice(self.dist.rank * self.local_batch, (self.dist.rank + 1) * self.local_batch)
        if cfg.unit == "stream":
            inputs, targets, _ = lm_batches(self.corpus.train, cfg.batch_size, self.corpus.vocab.eos_id)
            self.stream = (inputs[:, self.cols].to(self.device), targets[:, self.cols].to(self.device))
        self.step, self.epoch, self.segment = 0, 0, 0
        self.lr, self.best_valid, self.bad_epochs = cfg.lr, math.inf, 0
        self.interval = {"loss": 0.0, "steps": 0, "tokens": 0, "gnorm": 0.0}
        self.epoch_acc = {"loss": 0.0, "steps": 0}
        self.speed = {"tokens": 0, "time": 0.0}  # this epoch since (re)start; never saved
        self.last_good, self._carried, self._stopped_early = None, None, False
        if self.resume_ckpt is not None:
            self._carried = restore(self, self.resume_ckpt)
        elif self.dist.is_main:
            (self.out / "metrics.jsonl").unlink(missing_ok=True)
        self._say_notes()
        self._bar_obj = None
        self._t0 = time.perf_counter()
        return model

    def _say_notes(self) -> None:
        if self.resume_ckpt is not None and self.epoch >= self.cfg.epochs:
            self.notes.append(f"the run already finished its {self.cfg.epochs} epochs; nothing to train "
                              "(raise --epochs to train longer)")
        if not self.dist.is_main:
            return
        for note in self.notes:
            warnings.warn(note, SeqlmWarning, stacklevel=4)
            self._write_metrics({"event": "note", "step": self.step, "note": note})
        if self.precision == "bf16" and self.model_config.get("backend") == "explicit":
            from seqlm.nn.cells import AUTOCAST_NOTE
            self._write_metrics({"event": "note", "step": self.step, "note": AUTOCAST_NOTE})
            if self.progress:
                print(f"note: {AUTOCAST_NOTE}", file=sys.stderr)

    def _epoch_batches(self) -> list:
        """This epoch's batches: ``(start, length)`` segments of the stream, or whole
        sentence batches; both drawn from ``rng(seed, epoch)`` alone."""
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.cfg.unit == "stream":
            return list(segments(self.stream[0].size(0), self.cfg.bptt, self.cfg.variable_bptt, rng))
        return self._sentence_batches(rng, self.cols)

    def _start_epoch(self, model, n_batches: int):
        """The state the epoch starts from (a resumed mid-epoch run's carried state)."""
        state, self._carried = self._carried, None
        if self.segment == 0 or state is None:
            state = self.raw_model.init_state(self.local_batch, self.device)
        for g in self.optimizer.param_groups:
            g["lr"] = self.lr
        self._n_batches = n_batches
        self._bar_obj = self._bar(n_batches, self._bar_obj)
        model.train()
        self._t_int = time.perf_counter()
        return state

    def _step(self, model, batch, state):
        """One update: forward, loss, backward, clip (Pascanu Alg. 1), optimizer step."""
        cfg, t_step = self.cfg, time.perf_counter()
        if cfg.unit == "stream":
            start, length = batch
            x, y = self.stream[0][start:start + length], self.stream[1][start:start + length]  # (T, b)
            state = detach_state(state)  # the truncation: no graph crosses this line
            n_tokens = length * cfg.batch_size
        else:
            x, y = (t.to(self.device) for t in batch)                   # (T, b), -100 on padding
            state = self.raw_model.init_state(x.size(1), self.device)  # every sentence starts over
            length = x.size(0)
            n_tokens = int((y != -100).sum()) * self.dist.world_size
        with autocast_context(self.device, self.precision):
            if cfg.fused_loss:  # no (T, b, V) logits: the decoder and its loss in one node
                loss, state = model(x, state, targets=y)
            else:
                logits, state = model(x, state)                              # (T, b, V)
        if not cfg.fused_loss:
            loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), ignore_index=-100)
        if self.step_hook is not None:
            replaced = self.step_hook(self.step + 1, loss)
            loss = loss if replaced is None else replaced
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = clip_grad_norm_(self.params, cfg.clip if cfg.clip is not None else math.inf)
        loss_value = float(loss.item())
        problem = self.guard.step(loss_value, gnorm)
        if problem:
            raise self._diverged(problem)
        lr = self.lr
        if cfg.schedule == "cosine" or cfg.warmup_steps:  # the schedule within the epoch
            lr = cfg.step_lr(self.lr, (self.epoch + self.segment / self._n_batches) / cfg.epochs, self.step)
            if cfg.schedule == "cosine":
                self.lr = lr  # what the log shows; the next step recomputes it
        if cfg.variable_bptt and cfg.unit == "stream":  # AWD-LSTM: shorter segments take proportionally smaller steps
            lr = lr * length / cfg.bptt
        if lr != self.optimizer.param_groups[0]["lr"]:
            for g in self.optimizer.param_groups:
                g["lr"] = lr
        self.optimizer.step()
        self.step += 1
        self.segment += 1
        self._account(loss_value, gnorm, n_tokens, time.perf_counter() - t_step)
        return state

    def _account(self, loss: float, gnorm: float, n_tokens: int, seconds: float) -> None:
        iv = self.interval
        iv["loss"], iv["steps"], iv["tokens"], iv["gnorm"] = (iv["loss"] + loss, iv["steps"] + 1,
                                                              iv["tokens"] + n_tokens, iv["gnorm"] + gnorm)
        self.epoch_acc["loss"] += loss
        self.epoch_acc["steps"] += 1
        self.speed["tokens"] += n_tokens
        self.speed["time"] += seconds
        if self._bar_obj is not None:
            self._bar_obj.update(1)

    def _after_step(self, state, sig: Signals, n_batches: int) -> dict | None:
        """Log, checkpoint, and stop for a signal or ``--max-steps`` mid-epoch (the
        result's flags), keeping the work done so far; None to go on."""
        cfg, mid_epoch = self.cfg, self.segment < n_batches
        carried = state if cfg.unit == "stream" else None  # a sentence batch's state is never carried on
        if self.step % cfg.log_interval == 0 or not mid_epoch:
            self._log_interval(self._t_int, self._t0, self._bar_obj)
            self._t_int = time.perf_counter()
        received = self._agree_on_signal(sig)
        if received is not None or (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and mid_epoch):
            self._save("checkpoint", True, carried)
        if received is not None:
            self._write_metrics({"event": "interrupted", "step": self.step, "signal": received})
            return {"interrupted": True, "signal": received}
        if self._max_steps_reached() and mid_epoch:  # resumable with a higher limit
            self._log_interval(self._t_int, self._t0, self._bar_obj)
            self._save("checkpoint", True, carried)
            return {"max_steps_reached": True}
        return None

    def _agree_on_signal(self, sig: Signals) -> int | None:
        """The signal received by any rank: all must stop together before the collective save."""
        if self.dist.enabled:
            got = max(self._all_gather(float(sig.received or 0)))
            sig.received = int(got) if got else None
        return None if sig.received is None else int(sig.received)

    def _max_steps_reached(self) -> bool:
        return self.cfg.max_steps is not None and self.step >= self.cfg.max_steps

    def _early_stop(self) -> bool:
        if self.cfg.early_stopping and self.bad_epochs >= self.cfg.early_stopping:
            self._stopped_early = True
            self._write_metrics({"event": "early_stop", "epoch": self.epoch, "step": self.step})
        return self._stopped_early

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
        self.lr = cfg.next_lr(self.lr, self.epoch, improved, self.bad_epochs)
        return rec


def make_optimizer(cfg: TrainConfig, params: list) -> torch.optim.Optimizer:
    """SGD (Zaremba; with optional momentum) or AdamW, at the configured rate."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def train(corpus, model_config, train_config: TrainConfig | None = None, out_dir=None,
          seed: int = 0, **kwargs) -> TrainResult:
    """Train a model on ``corpus`` (a :class:`seqlm.data.corpus.Corpus`, e.g.
    ``seqlm.load_corpus(...)``); see :class:`Trainer`.

    ``model_config``: a config (:class:`seqlm.lm.RNNLMConfig`, or its dict) built with
    ``seed``, or a model of the LM protocol, trained as it is. ``out_dir``: the run
    directory (``checkpoint/``, ``best/``, ``metrics.jsonl``); ``None`` uses a new
    temporary directory (``result.out_dir``) and writes nothing where you are. A directory
    holding a run is refused unless ``resume=out_dir`` or ``force=True``."""
    if out_dir is None:
        import tempfile
        out_dir = tempfile.mkdtemp(prefix="seqlm-train-")
    return Trainer(corpus, model_config, train_config or TrainConfig(), out_dir, seed, **kwargs).fit()
