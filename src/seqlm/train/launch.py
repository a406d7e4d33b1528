"""`seqlm train` as one library call: settings, resume, run directory, training, final evaluation.

:func:`plan` turns a :class:`TrainRequest` (what the command line asked) into
what will run, reading only small files: the layered settings of a new run, or
the settings saved with the run being resumed plus the changes a resumed run
allows (each said in a :class:`~seqlm.errors.SeqlmWarning` once the trainer has
checked everything and starts; any other change is refused). It checks the output location and refuses a directory holding another
run before any data is loaded. :func:`launch` then loads the corpus, trains and,
on the main process, evaluates ``best/`` in stream mode (batch 1) into
``results.json``.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from seqlm.errors import SeqlmError
from seqlm.io import check_output_dir, lock_dir, write_json
from seqlm.lm.config import RNNLMConfig
from seqlm.train import rundir, settings
from seqlm.train.config import TrainConfig

if TYPE_CHECKING:
    from seqlm.train.trainer import TrainResult

# torch (through the trainer and the checkpoint module) is imported only where it
# is needed: a new run's settings and its run directory are checked without it,
# so a mistyped flag or TOML key costs no torch start-up.


@dataclass
class TrainRequest:
    """What `seqlm train` was asked (each field is a flag)."""

    data: str | None = None                        # --data (or the split files below)
    files: dict = field(default_factory=dict)      # --train/--valid/--test
    corpus: dict = field(default_factory=dict)     # --level, --tokenizer, --lowercase, --max-vocab, --min-freq
    out: str | Path | None = None
    preset: str | None = None
    config: str | Path | None = None
    resume: str | Path | None = None
    seed: int | None = None
    settings: dict = field(default_factory=dict)  # explicit flags: setting name -> value
    device: str = "auto"
    force: bool = False
    deterministic: bool = False
    progress: bool = True
    final_eval: bool = True
    step_hook: Callable | None = None             # fault injection (seqlm.train.faults)
    tensorboard: str | Path | None = None         # --tensorboard DIR: the scalars as event files
    log_lines: bool | None = None                 # a plain line per log interval (None: when stderr is no TTY)
    callback: Callable | None = None              # any other logger: called with every metrics record


@dataclass
class Plan:
    model: dict
    train: TrainConfig
    seed: int
    out: Path
    resume: Path | None = None
    saved: dict | None = None                       # the resumed run's config.json
    notes: list[str] = field(default_factory=list)  # said once the run really starts


@dataclass
class Outcome:
    result: TrainResult
    out: Path
    main: bool                     # the process that wrote files (rank 0)
    final: dict | None = None      # the stream-mode evaluation of best/ (results.json)


def is_main_process() -> bool:
    """Rank 0 under torchrun (``RANK``), or a plain launch."""
    return int(os.environ.get("RANK", "0")) == 0


def plan(req: TrainRequest) -> Plan:
    """Settings, seed, data and run directory of the request; refuses what cannot run."""
    if req.resume is not None:
        p = _plan_resume(req)
    else:
        if not (req.data or req.files) or not req.out:
            raise SeqlmError("--data (or --train/--valid/--test) and --out are required (or --resume DIR)")
        s = settings.resolve(req.preset, req.config, req.settings, req.seed)
        RNNLMConfig(vocab_size=1, **s.model)  # cross-field rules (tie_weights) before any work
        p = Plan(s.model, TrainConfig(**s.train), s.seed, Path(req.out))
    check_output_dir(p.out, "run directory")
    if is_main_process() and not req.force and not rundir.is_run_of(p.out, p.resume):
        rundir.check_fresh(p.out)  # early; the trainer checks again under the lock
    return p


def _plan_resume(req: TrainRequest) -> Plan:
    if req.force:
        raise SeqlmError("--force starts a new run; it cannot be combined with --resume")
    if req.preset or req.config:
        raise SeqlmError("--preset and --config set up a new run; a resumed run keeps the settings "
                         "saved in its checkpoint (flags such as --epochs may change)")
    from seqlm.train import checkpoint as ckpt
    resume = ckpt.resolve(req.resume, prefer="checkpoint")
    saved = ckpt.read_config(resume)
    train_dict, changes = settings.resume_overrides(saved["model"], saved.get("train") or {},
                                                    req.settings)
    saved_seed = saved.get("seed", 0)
    if req.seed is not None and req.seed != saved_seed:
        raise SeqlmError(f"--seed {req.seed} conflicts with the resumed run (seed {saved_seed}); "
                         "a resumed run keeps its seed")
    out = Path(req.out) if req.out else (resume.parent if resume.name in ("checkpoint", "checkpoint.old")
                                         else resume)
    inside = resume.resolve()
    if out.resolve() != inside and inside in out.resolve().parents:
        raise SeqlmError(f"--out {out} is inside the checkpoint {resume} it resumes from; choose a "
                         "directory outside it")
    train_cfg = TrainConfig(**train_dict)
    state = ckpt.load_trainer_state(resume)
    if state is None:
        raise SeqlmError(f"{resume}: cannot resume (no trainer state: a best/ checkpoint holds weights only)")
    if train_cfg.max_steps is not None and state["step"] >= train_cfg.max_steps:
        raise SeqlmError(f"{resume}: the run is at step {state['step']}, already at max_steps "
                         f"{train_cfg.max_steps}; raise --max-steps (or --max-steps none) to train on")
    notes = [f"resuming {resume} with {change}" for change in changes]
    return Plan(saved["model"], train_cfg, saved_seed, out, resume, saved, notes)


def launch(req: TrainRequest) -> Outcome:
    """Plan, load the corpus, train; then (main process, unless interrupted or told
    not to) evaluate ``best/`` into ``results.json``."""
    p = plan(req)
    from seqlm.train.devices import resolve_device
    from seqlm.train.trainer import train
    resolve_device(req.device)  # an unknown or absent device: refused before the run directory exists
    corpus, data = load_run_corpus(req, p)
    main = is_main_process()
    callback, tb = _loggers(req, main)
    # rank 0 holds the run's lock from before training until results.json is written (the
    # trainer takes the same lock again inside): no --force run can start in between
    with lock_dir(p.out, "seqlm train") if main else contextlib.nullcontext():
        result = train(corpus, p.model, p.train, p.out, seed=p.seed, device=req.device, resume=p.resume,
                       progress=req.progress, deterministic=req.deterministic, data_source=data,
                       step_hook=req.step_hook, force=req.force, notes=p.notes, callback=callback)
        if tb is not None:
            tb.close()
        outcome = Outcome(result, p.out, main)
        if main and not result.interrupted and req.final_eval and (p.out / "best").exists():
            outcome.final = final_evaluation(p.out, corpus)
    return outcome


def _loggers(req: TrainRequest, main: bool):
    """(the trainer's callback, the TensorBoard writer to close) for this process."""
    import sys

    from seqlm.train.loggers import LineLogger, TensorBoardLogger, combine
    lines = req.log_lines if req.log_lines is not None else not sys.stderr.isatty()
    tb = TensorBoardLogger(req.tensorboard) if (req.tensorboard and main) else None
    return combine(LineLogger() if (lines and main) else None, tb, req.callback), tb


def load_run_corpus(req: TrainRequest, p: Plan):
    """(corpus, data source) of the run: the corpus flags for a new run; for a resumed
    one its recorded corpus, or the ``--data`` one if it builds the run's vocabulary
    (a different corpus is said in a note, :func:`seqlm.train.run_corpus.corpus_for_run`)."""
    if p.resume is None:
        from seqlm.data import load_corpus
        from seqlm.data.spec import corpus_spec
        corpus = load_corpus(corpus_spec(req.data, **req.files, **req.corpus))
        return corpus, corpus.spec.label()
    from seqlm.data.vocab import Vocabulary
    from seqlm.train.run_corpus import corpus_for_run
    vocab = Vocabulary.load(p.resume / "vocab.json")
    corpus, note = corpus_for_run(p.saved, vocab, p.resume, data=req.data, files=req.files,
                                  settings=req.corpus)
    if note:
        p.notes.append(note)
    return corpus, req.data or p.saved.get("data") or corpus.spec.label()


def final_evaluation(out: Path, corpus) -> dict:
    """Stream-mode (batch 1, the literature's convention) valid and test perplexity
    of ``out/best``, written to ``out/results.json``. An infinite perplexity is
    ``null`` with the reason beside it (JSON has no infinity)."""
    from seqlm.eval import evaluate
    from seqlm.train.checkpoint import load_model
    model, _vocab = load_model(out / "best")
    from seqlm.train.rundir import RESULTS_KIND
    res: dict = {"kind": RESULTS_KIND, "mode": "stream", "batch_size": 1}
    for split in ("valid", "test"):
        ev = evaluate(model, corpus.split(split), "stream", 1, chars=corpus.chars.get(split))
        res[f"{split}_ppl"] = None if ev.inf_reason else ev.ppl
        res[f"{split}_tokens"] = ev.tokens
        res[f"{split}_bits_per_token"] = None if ev.inf_reason else ev.bits_per_token
        if ev.inf_reason:
            res[f"{split}_ppl_inf_reason"] = ev.inf_reason
    write_json(out / "results.json", res)
    return res
