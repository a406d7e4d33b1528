"""The fixed-size bottleneck: an encoder–decoder without attention copying a sequence.

The chapter ends on this limit of the recurrent sequence-to-sequence model
(Sutskever et al. 2014; Cho et al. 2014): the encoder reads x_1..x_T and the
decoder must write its output from the encoder's *last* state alone — h_T (and
c_T for the LSTM), H numbers, whatever T is. Chapter 6's attention lets the
decoder look at every h_t instead.

The tasks: the source is T symbols drawn uniformly from an alphabet of V; the
target is the source itself (``copy``) or reversed (``reverse``). T·log2(V)
bits must pass through the H floats of the final state.

The model (one per cell type, both halves of the same cell):

    encoder  h_t = cell(x_t, h_{t-1})             t = 1..T, from h_0 = 0 (one-hot x_t)
    decoder  s_0 = h_T  (and c_T)                 the bottleneck: nothing else crosses
             s_j = cell'(y_{j-1}, s_{j-1})        y_0 = <go>; teacher forcing in training
             p(y_j | y_<j, x) = softmax(W s_j + b)

``seqlm.nn.RecurrentStack`` for both (fused backend by default: the GRU is then
PyTorch's ``reset_after``; ``backend="explicit"`` runs the book's ``cho`` GRU),
Adam, ``seqlm.nn.clip_grad_norm_``, a fresh batch every step. Evaluation is
greedy decoding (the decoder reads its own previous prediction) on a fixed test
set: per-position accuracy, token accuracy and exact-sequence accuracy.

Deterministic: weights, training batches and the test set come from explicit
``torch.Generator``\\ s seeded from ``seed``; with a step budget a CPU run is
bitwise repeatable.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch

from seqlm.nn import RecurrentStack, clip_grad_norm_

CELLS = ("rnn", "lstm", "gru")
TASKS = ("copy", "reverse")
SOLVED_TOKEN_ACCURACY = 0.99  # "solved": at least this greedy per-token test accuracy


@dataclass
class BottleneckConfig:
    task: str = "copy"
    length: int = 10  # T, source and target length
    cell: str = "lstm"
    hidden: int = 64  # H: the size of the bottleneck h_T (and c_T)
    symbols: int = 8  # V: alphabet size; log2(V) bits per token
    batch: int = 64
    lr: float = 1e-2  # Adam
    steps: int = 300  # at most this many updates
    eval_every: int = 100  # greedy test accuracy; training stops once solved
    test_size: int = 500
    clip: float = 1.0
    backend: str = "fused"  # seqlm.nn backend; the fused GRU is PyTorch's reset_after variant
    seed: int = 0

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; expected one of {', '.join(TASKS)}")
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; expected one of {', '.join(CELLS)}")
        if min(self.length, self.hidden, self.batch, self.steps, self.eval_every, self.test_size) < 1:
            raise ValueError("length, hidden, batch, steps, eval_every and test_size must be positive")
        if self.symbols < 2:
            raise ValueError(f"symbols must be >= 2, got {self.symbols}")


@dataclass
class BottleneckResult:
    config: BottleneckConfig
    steps_done: int
    seconds: float
    position_accuracy: list[float]  # greedy test accuracy at each output position j = 1..T
    token_accuracy: float  # mean of position_accuracy
    sequence_accuracy: float  # fraction of test sequences reproduced exactly
    solved_at_step: int | None
    curve: list[dict] = field(default_factory=list)  # {step, seconds, train_loss (None at 0), token_accuracy}

    @property
    def solved(self) -> bool:
        return self.token_accuracy >= SOLVED_TOKEN_ACCURACY

    def to_dict(self) -> dict:
        d = asdict(self)
        d["solved"] = self.solved
        return d


def task_batch(task: str, T: int, batch: int, symbols: int,
               gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``src (T, B)`` uniform over ``symbols`` and ``tgt (T, B)``: ``src`` (copy) or ``src`` reversed."""
    src = torch.randint(0, symbols, (T, batch), generator=gen)
    return src, (src if task == "copy" else src.flip(0))


class Seq2Seq(torch.nn.Module):
    """Encoder and decoder ``RecurrentStack``\\ s of one cell; the decoder starts from the
    encoder's final state and nothing else. Inputs are one-hot; id ``symbols`` is <go>."""

    def __init__(self, cell: str, symbols: int, hidden: int, gen: torch.Generator,
                 backend: str = "fused") -> None:
        super().__init__()
        self.symbols = symbols
        fb = 1.0 if cell == "lstm" else None  # the longlag setting: remember by default
        self.encoder = RecurrentStack(cell, symbols, hidden, backend=backend, init="pytorch",
                                      forget_bias=fb, generator=gen)
        self.decoder = RecurrentStack(cell, symbols + 1, hidden, backend=backend, init="pytorch",
                                      forget_bias=fb, generator=gen)
        self.head = torch.nn.Linear(hidden, symbols)
        a = 1.0 / math.sqrt(hidden)
        with torch.no_grad():  # the read-out from our generator too, not the global RNG
            for p in self.head.parameters():
                torch.nn.init.uniform_(p, -a, a, generator=gen)

    def encode(self, src: torch.Tensor):
        """The final state of the encoder: h_T (1, B, H), or (h_T, c_T) for the LSTM."""
        _, state = self.encoder(torch.nn.functional.one_hot(src, self.symbols).float())
        return state

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits ``(T, B, V)`` for target ``tgt (T, B)``."""
        go = torch.full_like(tgt[:1], self.symbols)
        inp = torch.nn.functional.one_hot(torch.cat([go, tgt[:-1]]), self.symbols + 1).float()
        out, _ = self.decoder(inp, self.encode(src))  # (T, B, H)
        return self.head(out)

    @torch.no_grad()
    def greedy(self, src: torch.Tensor) -> torch.Tensor:
        """Greedy decoding: each step reads the previous step's own prediction; ``(T, B)``."""
        state = self.encode(src)
        prev = torch.full_like(src[0], self.symbols)  # (B,)
        preds = []
        for _ in range(src.shape[0]):
            x = torch.nn.functional.one_hot(prev, self.symbols + 1).float().unsqueeze(0)  # (1, B, V+1)
            out, state = self.decoder(x, state)
            prev = self.head(out[0]).argmax(-1)
            preds.append(prev)
        return torch.stack(preds)


def evaluate(model: Seq2Seq, src: torch.Tensor, tgt: torch.Tensor) -> tuple[list[float], float]:
    """Greedy per-position accuracy (a list of T) and exact-sequence accuracy."""
    hit = model.greedy(src) == tgt  # (T, B)
    return hit.double().mean(1).tolist(), float(hit.all(0).double().mean())


def train_bottleneck(cfg: BottleneckConfig, log=None) -> BottleneckResult:
    """Train one encoder–decoder on one (task, T, cell, H); see the module docstring."""
    g_init = torch.Generator().manual_seed(cfg.seed)
    g_train = torch.Generator().manual_seed(cfg.seed + 1)
    g_test = torch.Generator().manual_seed(10_000 + cfg.length)  # the same test set for every cell
    src_test, tgt_test = task_batch(cfg.task, cfg.length, cfg.test_size, cfg.symbols, g_test)
    model = Seq2Seq(cfg.cell, cfg.symbols, cfg.hidden, g_init, cfg.backend)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    pos, seq = evaluate(model, src_test, tgt_test)
    curve = [{"step": 0, "seconds": 0.0, "train_loss": None, "token_accuracy": sum(pos) / len(pos)}]
    t0, step, solved_at, running = time.perf_counter(), 0, None, []
    while step < cfg.steps:
        src, tgt = task_batch(cfg.task, cfg.length, cfg.batch, cfg.symbols, g_train)
        loss = torch.nn.functional.cross_entropy(model(src, tgt).flatten(0, 1), tgt.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = clip_grad_norm_(model.parameters(), cfg.clip)
        if math.isfinite(norm):  # Adam with clipping does not diverge here; skip a bad step if it did
            opt.step()
        step += 1
        running.append(float(loss.detach()))
        if step % cfg.eval_every == 0 or step == cfg.steps:
            pos, seq = evaluate(model, src_test, tgt_test)
            acc = sum(pos) / len(pos)
            curve.append({"step": step, "seconds": time.perf_counter() - t0,
                          "train_loss": sum(running) / len(running), "token_accuracy": acc})
            running = []
            if log:
                log(f"{cfg.task} T={cfg.length} {cfg.cell} H={cfg.hidden}: step {step} "
                    f"token acc {acc:.3f} sequence acc {seq:.3f}")
            if acc >= SOLVED_TOKEN_ACCURACY:
                solved_at = step
                break
    return BottleneckResult(cfg, step, time.perf_counter() - t0, pos, sum(pos) / len(pos), seq,
                            solved_at, curve)


def _train_one(cfg: BottleneckConfig) -> BottleneckResult:
    """One model on one torch thread (a worker process of :func:`run_sweep`)."""
    torch.set_num_threads(1)
    return train_bottleneck(cfg)


def run_sweep(task: str, lengths: list[int], cells: list[str], hiddens: list[int], log=None,
              jobs: int = 1, **overrides) -> list[BottleneckResult]:
    """Every (H, T, cell) with the same settings (``overrides`` go to BottleneckConfig).

    ``jobs > 1`` trains that many models at a time in separate processes, one torch
    thread each, longest first; every model has its own generators, so the results
    equal a one-thread ``jobs=1`` run bit for bit, in the same order.
    """
    configs = [BottleneckConfig(task=task, length=T, cell=c, hidden=H, **overrides)
               for H in hiddens for T in lengths for c in cells]
    if jobs <= 1:
        return [train_bottleneck(cfg, log=log) for cfg in configs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    results: list = [None] * len(configs)
    # Longest first (cost ~ H^2 T), so the workers finish together. "spawn": a forked
    # child of a process that has used OpenMP can hang.
    order = sorted(range(len(configs)), key=lambda i: -configs[i].hidden ** 2 * configs[i].length)
    import os

    from seqlm.processes import die_with_parent
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:  # no orphans after a kill of the parent
        futures = {pool.submit(_train_one, configs[i]): i for i in order}
        for fut in as_completed(futures):
            r = results[futures[fut]] = fut.result()
            if log:
                c = r.config
                log(f"{c.task} T={c.length} {c.cell} H={c.hidden}: {r.steps_done} steps, "
                    f"token acc {r.token_accuracy:.3f}, sequence acc {r.sequence_accuracy:.3f}")
    return results


def results_markdown(results: list[BottleneckResult]) -> str:
    """A markdown table, one row per (H, T, cell), and the chance level."""
    if not results:
        return ""
    c0 = results[0].config
    lines = ["| task | H | T | cell | token acc | sequence acc | first / last position acc | "
             f"solved (≥ {SOLVED_TOKEN_ACCURACY:g}) | steps | seconds |",
             "|---|---:|---:|---|---:|---:|---:|---|---:|---:|"]
    for r in results:
        c = r.config
        status = f"yes (step {r.solved_at_step})" if r.solved else "no"
        lines.append(f"| {c.task} | {c.hidden} | {c.length} | {c.cell} | {r.token_accuracy:.3f} | "
                     f"{r.sequence_accuracy:.3f} | {r.position_accuracy[0]:.2f} / "
                     f"{r.position_accuracy[-1]:.2f} | {status} | {r.steps_done} | {r.seconds:.1f} |")
    gru = " (the GRU is PyTorch's reset_after variant)" if c0.backend == "fused" else " (the book's cho GRU)"
    lines.append(f"\nChance: token accuracy 1/V = {1 / c0.symbols:.3f} (V = {c0.symbols} symbols, "
                 f"{math.log2(c0.symbols):g} bits per token); greedy decoding on {c0.test_size} "
                 f"test sequences. Backend: {c0.backend}{gru}.")
    return "\n".join(lines) + "\n"


def results_csv(results: list[BottleneckResult]) -> str:
    """One row per (H, T, cell, output position): the greedy test accuracy there."""
    lines = ["task,hidden,length,cell,position,accuracy"]
    for r in results:
        c = r.config
        lines += [f"{c.task},{c.hidden},{c.length},{c.cell},{j},{a:.6f}"
                  for j, a in enumerate(r.position_accuracy, 1)]
    return "\n".join(lines) + "\n"
