"""Neural stages side by side: a preset's ``workers`` processes, one thread each.

Why: the chapter's small recurrent models use a second core poorly inside one
process (step by step, small GEMMs), while two one-thread runs side by side each
keep nearly their one-thread speed (11–12k training tokens/s each for a 2×200 LSTM
with a 10,000-word softmax on this project's 2-core machine; docs/benchmarks.md,
"The PTB comparison end to end"). So a preset with ``workers: 2`` trains two models
at a time, each in its own process with one thread. Each model is the same
function of its settings and the seed as in a serial run: on the CPU, a stage
trained in a worker equals the same stage trained alone, bit for bit
(tests/test_compare_parallel.py).

Each worker is a fresh ``spawn`` process (no forked torch/OpenMP state) that gets
the corpus and one stage's arguments, and returns the stage's rows; the parent
writes each stage's file as it finishes (so a killed run keeps every finished
stage), and a stage stopped by a signal keeps its checkpoint, as in a serial run.
SIGINT reaches the workers with the terminal's process group; SIGTERM to the parent
is passed on to them.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Callable


def _init_worker(threads: int, parent: int) -> None:
    import warnings

    from seqlm.processes import die_with_parent
    die_with_parent(parent)  # a SIGKILL of the parent ends the workers too: no orphans

    def show(message, category, filename, lineno, file=None, line=None):  # as the CLI says them
        print(f"seqlm compare: note: {str(message).splitlines()[0] if str(message) else ''}", file=sys.stderr)
    warnings.showwarning = show
    import torch
    torch.set_num_threads(max(1, int(threads)))
    # A worker's trainer takes SIGINT/SIGTERM itself while it trains (checkpoint, then
    # stop); outside that (idle, evaluating) a signal must not kill the process: the
    # stage in hand finishes and the parent starts no other.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _train_stage(name: str, spec: dict, corpus, oracle: dict, model_dir, stage_hash: str, seed: int,
                 device: str, eval_cfg: dict, desc: str, data: str, position: int):
    """One neural stage in a worker: (rows, seconds)."""
    from seqlm.compare.stages import run_neural

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    rows = run_neural(name, spec, corpus, oracle, model_dir, stage_hash, seed, device, eval_cfg,
                      desc, data, log=log, progress_position=position)
    return rows, time.perf_counter() - t0


def run_parallel(jobs: list[dict], corpus, workers: int, threads: int,
                 finished: Callable[[dict, list[dict], float], None]) -> None:
    """Run ``jobs`` (each the keyword arguments of :func:`_train_stage` but
    ``corpus`` and ``position``) on ``workers`` processes, in the list's order;
    ``finished(job, rows, seconds)`` is called in the parent as each stage ends.
    The first error is raised once the running stages have ended (their results
    recorded) and the waiting ones are dropped; a signal drops the waiting ones
    too and raises StageInterrupted once the running ones have stopped."""
    ctx = multiprocessing.get_context("spawn")
    # glibc hands every large freed block back to the kernel and faults it in again on
    # the next step: a fifth of a worker's CPU time went to the kernel (page faults).
    # Keeping freed memory in the process (the workers only; a user's setting wins)
    # cuts the kernel time about tenfold, +5% tokens/s (docs/benchmarks.md).
    old_tunables = os.environ.get("GLIBC_TUNABLES")
    if old_tunables is None:
        os.environ["GLIBC_TUNABLES"] = MALLOC_TUNABLES
    try:
        _run_pool(ctx, jobs, corpus, workers, threads, finished)
    finally:
        if old_tunables is None:
            os.environ.pop("GLIBC_TUNABLES", None)


MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=2147483648"


def _run_pool(ctx, jobs, corpus, workers, threads, finished) -> None:
    from seqlm.compare.stages import StageInterrupted

    free = list(range(min(workers, len(jobs))))  # progress-bar rows
    pending: dict[Future, tuple[dict, int]] = {}
    errors: list[BaseException] = []
    queue = list(jobs)
    stopped: list[int] = []
    with ProcessPoolExecutor(max_workers=max(1, len(free)), mp_context=ctx, initializer=_init_worker,
                             initargs=(threads, os.getpid())) as pool:

        def on_signal(signum, frame):  # stop starting stages; the running ones checkpoint
            stopped.append(signum)
            queue.clear()
            for pid in list(getattr(pool, "_processes", None) or {}):
                try:
                    os.kill(pid, signum)
                except OSError:
                    pass

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while queue or pending:
                while queue and free and not errors:
                    job, pos = queue.pop(0), free.pop(0)
                    pending[pool.submit(_train_stage, corpus=corpus, position=pos, **job)] = (job, pos)
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    job, pos = pending.pop(fut)
                    free.append(pos)
                    try:
                        rows, seconds = fut.result()
                    except BaseException as exc:  # noqa: BLE001 - raised below, once the others end
                        errors.append(exc)
                        queue.clear()
                        continue
                    finished(job, rows, seconds)
        finally:
            for s, h in old.items():
                signal.signal(s, h)
    interrupted = [e for e in errors if isinstance(e, StageInterrupted)]
    if interrupted:
        raise interrupted[0]
    if stopped:  # a worker the signal caught while it started up ends the pool: not an error
        raise StageInterrupted(f"stopped by signal {stopped[0]}; the stages that finished are kept", stopped[0])
    if errors:
        raise errors[0]
