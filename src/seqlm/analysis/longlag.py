"""Training RNN, LSTM and GRU on long-lag tasks within a fixed budget.

One model = a one-layer ``seqlm.nn.RecurrentStack`` over the whole sequence
(fused backend by default: torch.nn.RNN/LSTM/GRU, so the GRU is PyTorch's
``reset_after`` variant; ``backend="explicit"`` runs the book's ``cho``
variant) and a linear read-out of the last hidden state h_T. Adam, gradient-norm clipping (Pascanu Alg. 1, the
shared ``seqlm.nn.clip_grad_norm_``), a fresh batch every step, a fixed test
set. Training stops when the budget (steps and/or seconds) is spent or when the
task is solved (adding: test MSE < 0.01; order: test error rate < 1%).

Deterministic: the model's initial weights, every training batch and the test
set come from explicit ``torch.Generator``s seeded from ``seed``; with a step
budget a CPU run is bitwise repeatable. A budget in seconds is not (the number
of steps depends on the machine's load), so results record the steps done.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch

from seqlm.analysis.tasks import SAMPLERS, TASKS
from seqlm.errors import SeqlmError
from seqlm.nn import RecurrentStack, clip_grad_norm_

CELLS = ("rnn", "lstm", "gru")


@dataclass
class LongLagConfig:
    task: str = "adding"
    length: int = 100
    cell: str = "lstm"
    hidden: int = 32
    batch: int = 64
    lr: float = 1e-2  # Adam; 1e-3 and 3e-3 were slower for every cell at T=100 (docs/longlag.md)
    steps: int = 2000  # at most this many updates
    budget_seconds: float | None = None  # and at most this much wall time
    eval_every: int = 50
    test_size: int = 1000
    clip: float = 1.0
    forget_bias: float = 1.0  # LSTM only
    backend: str = "fused"  # seqlm.nn backend; the fused GRU is PyTorch's reset_after variant
    seed: int = 0


@dataclass
class LongLagResult:
    config: LongLagConfig
    steps_done: int
    seconds: float
    final_test: float  # adding: MSE; order: error rate
    solved: bool
    solved_at_step: int | None
    diverged: bool
    curve: list[dict] = field(default_factory=list)  # {step, seconds, train_loss, test}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["config"] = asdict(self.config)
        return d


class LongLagModel(torch.nn.Module):
    """A one-layer ``seqlm.nn.RecurrentStack`` (PyTorch-default init U(±1/√H), drawn
    from ``gen``; LSTM forget bias ``forget_bias``) and a linear read-out of h_T."""

    def __init__(self, cell: str, input_size: int, hidden: int, output_size: int,
                 gen: torch.Generator, forget_bias: float = 1.0, backend: str = "fused") -> None:
        super().__init__()
        if cell not in CELLS:
            raise SeqlmError(f"unknown cell {cell!r}; expected one of {', '.join(CELLS)}")
        self.cell = cell
        self.rnn = RecurrentStack(cell, input_size, hidden, backend=backend, init="pytorch",
                                  forget_bias=forget_bias if cell == "lstm" else None, generator=gen)
        self.head = torch.nn.Linear(hidden, output_size)
        a = 1.0 / math.sqrt(hidden)
        with torch.no_grad():  # the read-out too, from our generator, not the global RNG
            for p in self.head.parameters():
                torch.nn.init.uniform_(p, -a, a, generator=gen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (T, B, I)
        out, _ = self.rnn(x)  # (T, B, H)
        return self.head(out[-1])  # (B, O)


def _loss_and_metric(task, out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float]:
    if task.kind == "regression":
        loss = torch.nn.functional.mse_loss(out, y)
        return loss, float(loss.detach())
    loss = torch.nn.functional.cross_entropy(out, y)
    return loss, float((out.argmax(-1) != y).double().mean())


def train_longlag(cfg: LongLagConfig, log=None) -> LongLagResult:
    """Train one model on one task; see the module docstring. ``log(str)`` gets progress lines."""
    if cfg.task not in TASKS:
        raise SeqlmError(f"unknown task {cfg.task!r}; expected one of {', '.join(TASKS)}")
    task, sample = TASKS[cfg.task], SAMPLERS[cfg.task]
    g_init = torch.Generator().manual_seed(cfg.seed)
    g_train = torch.Generator().manual_seed(cfg.seed + 1)
    g_test = torch.Generator().manual_seed(10_000 + cfg.length)  # the same test set for every cell
    x_test, y_test = sample(cfg.length, cfg.test_size, g_test)
    model = LongLagModel(cfg.cell, task.input_size, cfg.hidden, task.output_size, g_init,
                         cfg.forget_bias, cfg.backend)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def evaluate() -> float:
        with torch.no_grad():
            return _loss_and_metric(task, model(x_test), y_test)[1]

    curve: list[dict] = [{"step": 0, "seconds": 0.0, "train_loss": float("nan"), "test": evaluate()}]
    t0 = time.perf_counter()
    step, solved_at, diverged, running = 0, None, False, []
    while step < cfg.steps:
        if cfg.budget_seconds is not None and time.perf_counter() - t0 >= cfg.budget_seconds:
            break
        x, y = sample(cfg.length, cfg.batch, g_train)
        loss, _ = _loss_and_metric(task, model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = clip_grad_norm_(model.parameters(), cfg.clip)
        if not (math.isfinite(float(loss.detach())) and math.isfinite(norm)):
            diverged = True
            break
        opt.step()
        step += 1
        running.append(float(loss.detach()))
        if step % cfg.eval_every == 0 or step == cfg.steps:
            test = evaluate()
            curve.append({"step": step, "seconds": time.perf_counter() - t0,
                          "train_loss": sum(running) / len(running), "test": test})
            running = []
            if log:
                log(f"{cfg.task} T={cfg.length} {cfg.cell}: step {step} test {test:.4f}")
            if test < task.solved_threshold:
                solved_at = step
                break
    seconds = time.perf_counter() - t0
    final = curve[-1]["test"] if curve[-1]["step"] == step else evaluate()
    if curve[-1]["step"] != step:
        curve.append({"step": step, "seconds": seconds,
                      "train_loss": sum(running) / len(running) if running else float("nan"), "test": final})
    return LongLagResult(cfg, step, seconds, final, final < task.solved_threshold, solved_at, diverged, curve)


def run_sweep(task: str, lengths: list[int], cells: list[str], log=None, **overrides) -> list[LongLagResult]:
    """Train every cell at every length with the same settings (``overrides`` go to LongLagConfig)."""
    return [train_longlag(LongLagConfig(task=task, length=T, cell=c, **overrides), log=log)
            for T in lengths for c in cells]


def results_markdown(results: list[LongLagResult]) -> str:
    """A markdown table: one row per (T, cell)."""
    if not results:
        return ""
    task = TASKS[results[0].config.task]
    metric = "test MSE" if task.kind == "regression" else "test error"
    lines = [f"| task | T | cell | {metric} | solved (< {task.solved_threshold:g}) | steps | seconds |",
             "|---|---:|---|---:|---|---:|---:|"]
    for r in results:
        c = r.config
        status = ("diverged" if r.diverged else
                  f"yes (step {r.solved_at_step})" if r.solved else "no")
        lines.append(f"| {c.task} | {c.length} | {c.cell} | {r.final_test:.4f} | {status} | "
                     f"{r.steps_done} | {r.seconds:.1f} |")
    lines.append(f"\nChance ({'predict the mean' if task.kind == 'regression' else 'guess'}): "
                 f"{task.chance:.3f}. Backend: {results[0].config.backend}"
                 + (" (the GRU is PyTorch's reset_after variant)." if results[0].config.backend == "fused"
                    else " (the GRU is the book's cho variant)."))
    return "\n".join(lines) + "\n"
