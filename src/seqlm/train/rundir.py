"""The run directory of `seqlm train --out RUN`: one run, one writer, nothing mixed.

``RUN`` holds ``checkpoint/`` (the latest, to resume from), ``best/`` (lowest
validation perplexity), ``metrics.jsonl`` and ``results.json``. Three rules keep
a run's work from being lost, mixed with another's or mis-reported:

* one writer: the trainer holds ``RUN/.seqlm.lock`` (:func:`seqlm.io.lock_dir`)
  while it runs; a second ``seqlm train`` on the same directory is refused;
* one run: a new run refuses a directory that already holds a run's outputs,
  unless told to ``--resume`` it or to start over with ``--force``, which
  deletes exactly those outputs (nothing else in the directory is touched);
* nothing half-swapped: a checkpoint swap interrupted by a kill is completed or
  undone (:func:`seqlm.io.recover_dir`) before the run goes on.
"""
from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from seqlm.errors import SeqlmError
from seqlm.io import lock_dir, recover_dir

CHECKPOINT_DIRS = ("checkpoint", "best")
RUN_FILES = ("metrics.jsonl", "results.json")


def is_run_of(out: Path, resume: Path | None) -> bool:
    """Is ``out`` the directory of the run ``resume`` points into (a run directory
    or one of its checkpoints), rather than a new directory it is forked into?"""
    if resume is None:
        return False
    r, o = Path(resume).resolve(), Path(out).resolve()
    return r == o or o in r.parents


def run_outputs(out: Path) -> list[Path]:
    """What a training run wrote in ``out`` (with swap leftovers), sorted."""
    if not out.is_dir():
        return []
    found = []
    for name in CHECKPOINT_DIRS + RUN_FILES:
        found += [p for p in (out / name, out / f"{name}.old") if p.exists() or p.is_symlink()]
        found += list(out.glob(f".{name}.*.tmp"))
    return sorted(found)


def check_fresh(out: Path) -> None:
    """Refuse a directory that already holds another run's outputs."""
    found = run_outputs(out)
    if found:
        shown = ", ".join(p.name + ("/" if p.is_dir() else "") for p in found[:4])
        raise SeqlmError(f"{out} already holds a training run ({shown}); continue it with "
                         f"--resume {out}, start over with --force (deletes those), or choose "
                         "another --out")


def clear(out: Path) -> None:
    """Delete a previous run's outputs (``--force``); other files stay."""
    for p in run_outputs(out):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def prepare(out: Path, resume: bool, force: bool) -> None:
    """Make ``out`` ready for this run (the caller holds its lock): recover
    interrupted swaps, then refuse or (``force``) clear another run's outputs."""
    for name in CHECKPOINT_DIRS:
        recover_dir(out / name)
    for name in RUN_FILES:
        recover_dir(out / name)
    if resume:
        return
    if force:
        clear(out)
    else:
        check_fresh(out)


@contextlib.contextmanager
def locked(out: Path, resume: Path | None, force: bool):
    """Hold ``out``'s lock for the whole run, having readied it (:func:`prepare`)."""
    with lock_dir(out, "seqlm train"):
        prepare(out, resume=is_run_of(out, resume), force=force)
        yield
