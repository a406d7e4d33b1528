"""Section 5.2.4: gradient clipping rescues a vanilla RNN with exploding gradients.

A tanh RNN whose weights are drawn with a large scale (σ_max(W_hh) ≈ 2·scale)
is trained with plain SGD on the adding problem. Without clipping, a few large
gradients throw the weights far enough that the loss overflows: the run
*diverges* and we report the step where the loss or gradient stopped being
finite. With Pascanu et al.'s Algorithm 1 (``seqlm.nn.clip_grad_norm_``: if
‖g‖ > threshold, g ← threshold·g/‖g‖) the same run, same seed, converges.
Element-wise clipping (``clip_grad_value_``) is run beside it for comparison:
it also bounds the step but bends its direction.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch

from seqlm.analysis.tasks import ADDING_MEAN_MSE, adding_batch
from seqlm.analysis.theory import sigma_max
from seqlm.errors import SeqlmError
from seqlm.nn.clip import clip_grad_norm_, clip_grad_value_

MODES = ("none", "norm", "value")


@dataclass
class ClipDemoConfig:
    length: int = 10
    hidden: int = 32
    batch: int = 32
    init_scale: float = 3.0  # weights ~ N(0, (scale/√H)²): σ_max(W_hh) ≈ 2·scale
    lr: float = 0.05
    threshold: float = 1.0  # norm threshold (mode "norm") or component bound (mode "value")
    steps: int = 600
    seed: int = 0


@dataclass
class ClipRun:
    mode: str
    sigma_max_init: float
    losses: list[float] = field(default_factory=list)  # training MSE per step, until divergence
    grad_norms: list[float] = field(default_factory=list)  # before clipping
    diverged_at: int | None = None  # first step with a non-finite loss or gradient

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    @property
    def final_loss(self) -> float:
        """Mean training MSE over the last 50 steps (``nan`` if the run diverged)."""
        if self.diverged or not self.losses:
            return float("nan")
        tail = self.losses[-50:]
        return sum(tail) / len(tail)

    @property
    def converged(self) -> bool:
        """Finite, and better than always predicting the mean (MSE 1/6)."""
        return not self.diverged and self.final_loss < ADDING_MEAN_MSE

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(final_loss=self.final_loss, converged=self.converged, diverged=self.diverged)
        return d


def clipping_run(mode: str, cfg: ClipDemoConfig = ClipDemoConfig()) -> ClipRun:
    """Train the large-scale RNN once with clipping ``mode`` ∈ {none, norm, value}."""
    if mode not in MODES:
        raise SeqlmError(f"unknown clipping mode {mode!r}; expected one of {', '.join(MODES)}")
    g_init = torch.Generator().manual_seed(cfg.seed)
    g_data = torch.Generator().manual_seed(cfg.seed + 1)
    rnn = torch.nn.RNN(2, cfg.hidden, nonlinearity="tanh")
    head = torch.nn.Linear(cfg.hidden, 1)
    params = list(rnn.parameters()) + list(head.parameters())
    with torch.no_grad():
        for p in params:
            torch.nn.init.normal_(p, 0.0, cfg.init_scale / math.sqrt(cfg.hidden), generator=g_init)
    run = ClipRun(mode, sigma_max(rnn.weight_hh_l0.detach().double().numpy()))
    opt = torch.optim.SGD(params, lr=cfg.lr)
    for step in range(cfg.steps):
        x, y = adding_batch(cfg.length, cfg.batch, g_data)
        out, _ = rnn(x)  # (T, B, H)
        loss = torch.nn.functional.mse_loss(head(out[-1]), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if mode == "norm":
            norm = clip_grad_norm_(params, cfg.threshold)
        elif mode == "value":
            norm = clip_grad_value_(params, cfg.threshold)
        else:
            norm = clip_grad_norm_(params, math.inf)  # measures the norm, clips nothing
        value = float(loss.detach())
        if not (math.isfinite(value) and math.isfinite(norm)):
            run.diverged_at = step
            break
        run.losses.append(value)
        run.grad_norms.append(norm)
        opt.step()
    return run


def clipping_demo(cfg: ClipDemoConfig = ClipDemoConfig(), modes=MODES) -> dict[str, ClipRun]:
    """The same run (same seed, same batches) once per clipping mode."""
    return {m: clipping_run(m, cfg) for m in modes}


def describe(runs: dict[str, ClipRun]) -> str:
    """One line per mode, for printing."""
    lines = []
    for m, r in runs.items():
        if r.diverged:
            lines.append(f"clip={m:<5} diverged at step {r.diverged_at} (loss or gradient not finite)")
        else:
            lines.append(f"clip={m:<5} final train MSE {r.final_loss:.4f} "
                         f"({'converged' if r.converged else 'not converged'}; mean-predictor "
                         f"{ADDING_MEAN_MSE:.3f}), max grad norm {max(r.grad_norms):.3g}")
    return "\n".join(lines)


def runs_csv(runs: dict[str, ClipRun]) -> str:
    """One row per (mode, step): the training MSE and the gradient norm before clipping.
    A diverged run's rows stop at its last finite step."""
    lines = ["mode,step,loss,grad_norm"]
    for m, r in runs.items():
        lines += [f"{m},{k},{loss:.9g},{norm:.9g}" for k, (loss, norm) in enumerate(zip(r.losses, r.grad_norms))]
    return "\n".join(lines) + "\n"
