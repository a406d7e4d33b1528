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
import json
import os
import shutil
from pathlib import Path

from seqlm.errors import SeqlmError
from seqlm.io import lock_dir, recover_dir

CHECKPOINT_DIRS = ("checkpoint", "best")
RUN_FILES = ("metrics.jsonl", "results.json")
RESULTS_KIND = "seqlm-train-results"  # results.json of a training run


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


def foreign(out: Path) -> str | None:
    """What other seqlm command's outputs ``out`` holds (a directory ``train`` must not
    take over, even with --force), or None."""
    results = out / "results.json"
    kind = None
    if results.is_file() and not results.is_symlink():
        try:
            doc = json.loads(results.read_text(encoding="utf-8"))
            kind = doc.get("kind") if isinstance(doc, dict) else None
        except (OSError, ValueError):
            kind = None
    if (out / "stages").is_dir() or kind == "seqlm-compare-results":
        return "a comparison's outputs (seqlm compare: stages/, results.json)"
    if (out / "probe.json").is_file():
        return "probe results (seqlm probe)"
    if kind not in (None, RESULTS_KIND):
        return f"another command's results.json (kind {kind!r})"
    return None


def check_links(out: Path) -> None:
    """A run's own entries are never symbolic links: seqlm would write or delete through them."""
    for name in CHECKPOINT_DIRS + RUN_FILES:
        for p in (out / name, out / f"{name}.old"):
            if p.is_symlink():
                raise SeqlmError(f"{p}: is a symbolic link (to {os.readlink(p)}); a run directory's "
                                 f"{name} is seqlm's own — remove the link, or choose another --out")


def check_fresh(out: Path) -> None:
    """Refuse a directory that already holds another run's outputs."""
    check_links(out)
    other = foreign(out)
    if other:
        raise SeqlmError(f"{out} holds {other}, not a training run; choose another --out "
                         "(--force deletes only a training run's outputs)")
    found = run_outputs(out)
    if found:
        shown = ", ".join(p.name + ("/" if p.is_dir() else "") for p in found[:4])
        raise SeqlmError(f"{out} already holds a training run ({shown}); continue it with "
                         f"--resume {out} (resume={str(out)!r} in Python), start over with --force "
                         "(force=True; deletes those), or choose another --out")


def clear(out: Path) -> None:
    """Delete a previous run's outputs (``--force``); other files stay, and a directory of
    another kind (a comparison, probes) is refused, not cleared."""
    other = foreign(out)
    if other:
        raise SeqlmError(f"{out} holds {other}, not a training run: --force deletes only a training "
                         "run's outputs; choose another --out")
    for p in run_outputs(out):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def prepare(out: Path, resume: bool, force: bool) -> None:
    """Make ``out`` ready for this run (the caller holds its lock): recover
    interrupted swaps, then refuse or (``force``) clear another run's outputs."""
    check_links(out)
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
