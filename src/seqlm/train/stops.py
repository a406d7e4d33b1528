"""What stops a training run early: divergence, and SIGINT / SIGTERM.

**Divergence.** A loss, gradient norm or validation perplexity that is not
finite stops the run; so does one that is finite but exploding: a mean loss
above ``DIVERGENCE_FACTOR`` times ln V (the uniform guess's loss: an untrained
model sits at 1x, no model that is learning gets near 10x, while a finite
blow-up such as ``--lr 1e6 --clip none`` passes it within a few steps), or, with
clipping off, a pre-clip gradient norm above ``GRAD_NORM_LIMIT`` (the gradient of
the mean token loss is O(1..100) for these models while they learn; with
clipping on, a large norm is what clipping is for). The trainer then raises one
line naming the step and the last good checkpoint, and saves nothing diverged.

**Signals.** SIGINT / SIGTERM only set a flag: the loop saves a checkpoint at the
end of the step and returns.
"""
from __future__ import annotations

import math
import signal
import threading

DIVERGENCE_FACTOR = 10.0
GRAD_NORM_LIMIT = 1e6


class DivergenceGuard:
    """The divergence tests of one run: each returns None, or (what, value, why)."""

    def __init__(self, vocab_size: int, clip: float | None):
        self.vocab_size = vocab_size
        self.clip = clip
        self.loss_limit = DIVERGENCE_FACTOR * math.log(max(vocab_size, 2))   # nats per token

    def limit_text(self) -> str:
        return (f"above {DIVERGENCE_FACTOR:g} x ln V = {self.loss_limit:.3g} nats, "
                f"V = {self.vocab_size}")

    def step(self, loss: float, gnorm: float) -> tuple[str, float, str] | None:
        """A training step's loss and pre-clip gradient norm."""
        if not math.isfinite(loss):
            return "the loss", loss, ""
        if loss > self.loss_limit:
            return "the loss", loss, f" ({self.limit_text()})"
        if not math.isfinite(gnorm):
            return "the gradient norm", gnorm, ""
        if self.clip is None and gnorm > GRAD_NORM_LIMIT:
            return "the gradient norm", gnorm, f" (above {GRAD_NORM_LIMIT:g} with clipping off)"
        return None

    def validation(self, ev) -> tuple[str, float, str] | None:
        """A validation :class:`~seqlm.metrics.Evaluation`."""
        if not math.isfinite(ev.mean_nll) or ev.mean_nll > self.loss_limit:
            return ("the validation perplexity", ev.ppl,
                    f" (mean loss {ev.mean_nll:.4g} nats, {self.limit_text()})")
        return None


class Signals:
    """SIGINT/SIGTERM set ``received``; the loop saves a checkpoint at the next step and returns."""

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
