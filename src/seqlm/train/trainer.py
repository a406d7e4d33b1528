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
``best/`` (lowest validation perplexity) and ``metrics.jsonl``. Under
``torchrun`` each rank trains its own B / world_size columns, DDP all-reduces
(averages) the gradients and rank 0 alone writes files.
"""
from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from seqlm.data.batching import lm_batches, segments, sentence_batches
from seqlm.errors import SeqlmError
from seqlm.eval.scoring import autocast_context, evaluate
from seqlm.lm.base import (build_model, detach_state, map_state, model_class, state_from_tensors,
                           state_tensors, state_to)
from seqlm.nn import clip_grad_norm_
from seqlm.train import checkpoint as ckpt
from seqlm.train.config import TrainConfig
from seqlm.train.devices import (DistInfo, finish_distributed, init_distributed, resolve_device,
                                 resolve_precision)


@dataclass
class TrainResult:
    out_dir: Path
    best_valid_ppl: float
    epochs: int                 # epochs completed
    steps: int
    interrupted: bool = False   # stopped by SIGINT/SIGTERM (a checkpoint was saved)
    signal: int | None = None   # the signal number that interrupted it
    stopped_early: bool = False
    history: list = field(default_factory=list)  # one dict per epoch


class _Signals:
    """SIGINT/SIGTERM set a flag; the loop saves a checkpoint at the next step and returns."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._old: dict = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.received = signum

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


class Trainer:
    """One training run. ``Trainer(...).fit()``; :func:`train` is the one-call form."""

    def __init__(self, corpus, model_config, train_config: TrainConfig, out_dir, seed: int = 0,
                 device: str = "auto", resume: str | Path | None = None, progress: bool = True,
                 progress_position: int = 0, progress_desc: str | None = None,
                 callback: Callable[[dict], None] | None = None, deterministic: bool = False,
                 data_source: str | None = None,
                 step_hook: Callable[[int, torch.Tensor], None] | None = None):
        self.data_source = data_source
        # What the checkpoints record of the corpus (spec and fingerprint): eval, score and
        # generate find it again without --data (seqlm.train.run_corpus).
        self.corpus_record = corpus.record() if hasattr(corpus, "record") else None
        self.step_hook = step_hook  # called with (step, loss) before backward; for tests/analysis
        self.corpus, self.cfg, self.seed = corpus, train_config, seed
        self.out = Path(out_dir)
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
        self.resume_ckpt = None
        if resume is not None:
            self.resume_ckpt = ckpt.load_checkpoint(resume, prefer="checkpoint")
            if self.resume_ckpt.trainer_state is None:
                raise SeqlmError(f"{self.resume_ckpt.path}: cannot resume (no trainer_state.pt)")
            ckpt.check_compatible(self.resume_ckpt, corpus.vocab, model_config, "the training data/config")
        self.model_config = model_config
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
        """``x`` from every rank (a list of one without torchrun)."""
        if not self.dist.enabled:
            return [x]
        import torch.distributed as dist
        dev = self.device if self.device.type == "cuda" else "cpu"
        t = torch.tensor([x], dtype=torch.float64, device=dev)
        parts = [torch.empty_like(t) for _ in range(self.dist.world_size)]
        dist.all_gather(parts, t)
        return [float(p.item()) for p in parts]

    def _gather_state(self, state):
        """The full (all ranks') carried state, for a checkpoint."""
        if not self.dist.enabled:
            return state_to(state, "cpu")
        import torch.distributed as dist

        def gather(t):
            parts = [torch.empty_like(t) for _ in range(self.dist.world_size)]
            dist.all_gather(parts, t.contiguous())
            return torch.cat(parts, dim=self.state_dim).cpu()
        return map_state(gather, state)

    def _local_slice(self, state):
        if not self.dist.enabled:
            return state_to(state, self.device)
        b = self.cfg.batch_size // self.dist.world_size
        r = self.dist.rank
        return map_state(lambda t: t.narrow(self.state_dim, r * b, b).contiguous().to(self.device), state)

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
                "world_size": self.dist.world_size,
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

    def _diverged(self, what: str, value: float) -> SeqlmError:
        where = (f"last good checkpoint: {self.last_good[0]} (step {self.last_good[1]})"
                 if self.last_good else "no checkpoint was written yet")
        return SeqlmError(f"training diverged at step {self.step + 1} (epoch {self.epoch + 1}): "
                          f"{what} is {value}; weights not saved; {where}")

    # --------------------------------------------------------------------- fit
    def fit(self) -> TrainResult:
        with torch.random.fork_rng(devices=[self.device.index or 0] if self.device.type == "cuda" else []):
            torch.manual_seed(self.seed)
            try:
                with _Signals() as sig:
                    return self._fit(sig)
            finally:
                finish_distributed(self.dist)

    def _fit(self, sig: _Signals) -> TrainResult:
        cfg = self.cfg
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
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
        self.epoch_acc = {"loss": 0.0, "steps": 0, "tokens": 0, "time": 0.0}
        self.last_good = None
        history: list[dict] = []
        state = None
        if self.resume_ckpt is not None:
            state = self._restore(self.resume_ckpt)
        elif self.dist.is_main:
            (self.out / "metrics.jsonl").unlink(missing_ok=True)

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
                if cfg.inject_nan_at_step is not None and self.step + 1 == cfg.inject_nan_at_step:
                    loss = loss * float("nan")
                if self.step_hook is not None:
                    self.step_hook(self.step + 1, loss)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                gnorm = clip_grad_norm_(params, cfg.clip if cfg.clip is not None else math.inf)
                loss_value = float(loss.item())
                if not math.isfinite(loss_value):
                    raise self._diverged("the loss", loss_value)
                if not math.isfinite(gnorm):
                    raise self._diverged("the gradient norm", gnorm)
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
                ea = self.epoch_acc
                ea["loss"] += loss_value
                ea["steps"] += 1
                ea["tokens"] += n_tokens
                ea["time"] += time.perf_counter() - t_step
                if tqdm_bar is not None:
                    tqdm_bar.update(1)
                if cfg.sleep_per_step:
                    time.sleep(cfg.sleep_per_step)
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
            if cfg.max_steps is not None and self.step >= cfg.max_steps and self.segment < len(segs):
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
        return self._result(history, stopped_early=stopped_early)

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
               "tokens_per_s": ea["tokens"] / ea["time"] if ea["time"] else None,
               "valid_ppl": valid_ppl,
               "valid_bits_per_token": ev.bits_per_token, "best_valid_ppl": self.best_valid,
               "lr": self.lr, "wall_time": time.perf_counter() - t0}
        self._write_metrics(rec)
        self.epoch_acc = {"loss": 0.0, "steps": 0, "tokens": 0, "time": 0.0}
        # The learning rate of the next epoch.
        if cfg.schedule == "zaremba":
            self.lr = cfg.lr * cfg.lr_decay ** max(self.epoch + 2 - cfg.decay_start, 0)
        elif cfg.schedule == "plateau" and not improved and self.bad_epochs > cfg.plateau_patience:
            self.lr *= cfg.lr_decay
        self.lr = max(self.lr, cfg.min_lr)
        return rec

    def _restore(self, ck) -> object:
        st = ck.trainer_state
        if st.get("world_size", 1) != self.dist.world_size and st["segment"]:
            raise SeqlmError(f"{ck.path}: a mid-epoch checkpoint written by {st.get('world_size', 1)} "
                             f"processes cannot be resumed by {self.dist.world_size}")
        self.raw_model.load_state_dict(ck.model.state_dict())
        self.optimizer.load_state_dict(st["optimizer"])
        self.step, self.epoch, self.segment = int(st["step"]), int(st["epoch"]), int(st["segment"])
        self.lr, self.best_valid, self.bad_epochs = float(st["lr"]), float(st["best_valid"]), int(st["bad_epochs"])
        self.interval = dict(st.get("interval") or self.interval)
        self.epoch_acc = dict(st.get("epoch_acc") or self.epoch_acc)
        self.last_good = (ck.path, self.step)
        ckpt.restore_rng(st["rng"])
        if self.dist.is_main:
            _truncate_metrics(self.out / "metrics.jsonl", self.step)
        if not st["hidden"]:
            return None
        template = self.raw_model.init_state(self.cfg.batch_size, "cpu")
        return self._local_slice(state_from_tensors(template, list(st["hidden"])))


def _truncate_metrics(path: Path, step: int) -> None:
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


def train(corpus, model_config, train_config: TrainConfig | None = None, out_dir="runs/train",
          seed: int = 0, **kwargs) -> TrainResult:
    """Train a model on ``corpus`` (a :class:`seqlm.data.corpus.Corpus`); see :class:`Trainer`."""
    return Trainer(corpus, model_config, train_config or TrainConfig(), out_dir, seed, **kwargs).fit()
