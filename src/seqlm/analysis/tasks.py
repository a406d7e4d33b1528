"""Synthetic long-lag tasks: the adding problem and the temporal-order problem.

Both put the information that decides the target at a few early positions and
fill the rest of the sequence with distractors, so a model can only solve them
if gradient signal survives the time gap (Hochreiter & Schmidhuber 1997,
experiments 4 and 6a; the adding problem in the form of Pascanu et al. 2013).

Every sampler takes an explicit ``torch.Generator``: the same generator state
gives the same batch, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from seqlm.errors import SeqlmError

ADDING_MEAN_MSE = 1.0 / 6.0  # Var(u1 + u2) for u_i ~ U[0,1]: MSE of always predicting 1
ORDER_SYMBOLS = ("a", "b", "c", "d", "X", "Y", "B", "E")  # distractors, the two signals, start, end
ORDER_CLASSES = ("XX", "XY", "YX", "YY")


@dataclass(frozen=True)
class Task:
    """What a training loop needs to know about a task."""

    name: str
    input_size: int
    output_size: int
    kind: str  # "regression" (MSE) or "classification" (cross-entropy)
    solved_threshold: float  # adding: test MSE below it; order: test error rate below it
    chance: float  # the score of the best input-blind predictor


TASKS = {
    "adding": Task("adding", 2, 1, "regression", 0.01, ADDING_MEAN_MSE),
    "order": Task("order", len(ORDER_SYMBOLS), len(ORDER_CLASSES), "classification", 0.01, 0.75),
}


def adding_batch(T: int, batch: int, gen: torch.Generator,
                 dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """The adding problem: ``x (T, B, 2)``, ``y (B, 1)``.

    Channel 0 holds values u_t ~ U[0, 1]; channel 1 is a marker that is 1 at
    exactly two positions, one drawn uniformly from the first half of the
    sequence and one from the second half, 0 elsewhere. The target is the sum
    of the two marked values. Predicting the constant 1 gives MSE = 1/6 ≈ 0.167.
    """
    if T < 2:
        raise SeqlmError("the adding problem needs T >= 2")
    values = torch.rand(T, batch, generator=gen, dtype=dtype)
    half = T // 2
    first = torch.randint(0, half, (batch,), generator=gen)
    second = torch.randint(half, T, (batch,), generator=gen)
    markers = torch.zeros(T, batch, dtype=dtype)
    cols = torch.arange(batch)
    markers[first, cols] = 1.0
    markers[second, cols] = 1.0
    x = torch.stack([values, markers], dim=-1)  # (T, B, 2)
    y = (values[first, cols] + values[second, cols]).unsqueeze(-1)  # (B, 1)
    return x, y


def order_batch(T: int, batch: int, gen: torch.Generator,
                dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """The temporal-order problem (H&S 1997, exp. 6a): ``x (T, B, 8)`` one-hot, ``y (B,)`` class.

    The sequence starts with B and ends with E; in between are random
    distractors from {a, b, c, d}, except at two positions t1 ∈ [0.1T, 0.2T)
    and t2 ∈ [0.5T, 0.6T) which hold X or Y. The class is the ordered pair
    (XX, XY, YX, YY); guessing gives an error rate of 0.75.
    """
    if T < 10:
        raise SeqlmError("the temporal-order problem needs T >= 10")
    sym = torch.randint(0, 4, (T, batch), generator=gen)  # distractors a..d
    sym[0] = ORDER_SYMBOLS.index("B")
    sym[-1] = ORDER_SYMBOLS.index("E")
    lo1, hi1 = max(1, T // 10), max(2, T // 5)
    lo2, hi2 = T // 2, max(T // 2 + 1, (6 * T) // 10)
    t1 = torch.randint(lo1, hi1, (batch,), generator=gen)
    t2 = torch.randint(lo2, hi2, (batch,), generator=gen)
    b1 = torch.randint(0, 2, (batch,), generator=gen)
    b2 = torch.randint(0, 2, (batch,), generator=gen)
    cols = torch.arange(batch)
    x_id = ORDER_SYMBOLS.index("X")
    sym[t1, cols] = x_id + b1
    sym[t2, cols] = x_id + b2
    x = torch.nn.functional.one_hot(sym, len(ORDER_SYMBOLS)).to(dtype)  # (T, B, 8)
    y = 2 * b1 + b2  # XX=0, XY=1, YX=2, YY=3
    return x, y


SAMPLERS = {"adding": adding_batch, "order": order_batch}
