"""What a graded case is, and the comparisons every check is written with.

A check module (``seqlm.exercises.checks.pN``) lists :class:`Case` objects. A
case calls the learner's code on seeded random inputs, compares the answer with
seqlm's own implementation (the ground truth) and either returns a one-line
message (passed) or raises :class:`Fail` with a one-line message and a *hint*
that names the equation or concept at fault, never the solution.

Hints come from two places. Every case has a default hint: the concept it
isolates (a T = 1 case tests the step, a case with the loss on the last step
only tests the flow back through time). And a comparison may be given
*mistakes*: the answer a known misconception would produce (tanh left out,
W_hh transposed, ...), each with its own hint; when the learner's wrong answer
matches one of them within the tolerance, that hint is given instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

MAX_MESSAGE = 400  # characters of one message line


def one_line(text: Any, limit: int = MAX_MESSAGE) -> str:
    """``text`` squeezed onto one line of at most ``limit`` characters."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


class Fail(Exception):
    """A failed case: ``message`` says what was measured, ``hint`` what to look at."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(one_line(message))
        self.message, self.hint = one_line(message), hint


@dataclass(frozen=True)
class Tol:
    """Passes when |got − expected| ≤ atol + rtol·|expected| elementwise."""

    atol: float
    rtol: float = 0.0

    def __str__(self) -> str:
        return f"|Δ| ≤ {self.atol:g}" + (f" + {self.rtol:g}·|expected|" if self.rtol else "")

    def ok(self, got: np.ndarray, want: np.ndarray) -> bool:
        return bool(np.all(np.abs(got - want) <= self.atol + self.rtol * np.abs(want)))


@dataclass(frozen=True)
class Mistake:
    """A known misconception: the answer it gives (``value``, or a callable that
    computes it only when needed) and the hint that names the concept."""

    value: Any
    hint: str

    def answer(self) -> Any:
        return self.value() if callable(self.value) else self.value


@dataclass(frozen=True)
class Case:
    """One graded case. ``run(ctx)`` returns the pass message or raises :class:`Fail`.

    ``requires`` names cases that must pass first (a training case needs a
    correct cell); ``seconds`` is the case's own time limit inside the child.
    """

    name: str
    run: Callable[["Context"], str]
    hint: str
    tolerance: str | None = None
    requires: tuple[str, ...] = ()
    seconds: float = 10.0


class Context:
    """What a case gets: the learner's module and a generator seeded for this case."""

    def __init__(self, module: Any, seed: int, index: int, filename: str) -> None:
        self.module = module
        self.rng = np.random.default_rng([seed, index])
        self.seed, self.index, self.filename = seed, index, filename

    def fn(self, name: str) -> Callable:
        """The learner's function (or class) ``name``, or a Fail that says it is missing."""
        obj = getattr(self.module, name, None)
        if obj is None:
            raise Fail(f"{self.filename} defines no `{name}`",
                       "keep the starter's names and signatures (seqlm exercises start writes them)")
        if not callable(obj):
            raise Fail(f"`{name}` in {self.filename} is a {type(obj).__name__}, not a function",
                       "keep the starter's names and signatures")
        return obj


def as_float_array(value: Any, what: str, shape: tuple[int, ...], hint: str | None = None) -> np.ndarray:
    """``value`` as a float64 NumPy array of exactly ``shape``, finite; else Fail
    (``hint``: the concept to name when it is not finite)."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if not isinstance(value, (np.ndarray, np.generic, float, int)) or isinstance(value, bool):
        raise Fail(f"{what} is a {type(value).__name__}, expected a NumPy array of shape {shape}",
                   "return the arrays the docstring describes, in that order")
    arr = np.asarray(value)
    if arr.shape != tuple(shape):
        raise Fail(f"{what} has shape {arr.shape}, expected {tuple(shape)}",
                   "the shapes in the docstring: time first (T, B, ·), rows are batch elements")
    if arr.dtype.kind not in "fiu":
        raise Fail(f"{what} has dtype {arr.dtype}, expected a float array",
                   "return floating-point arrays (float64)")
    arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(arr[at]) else "inf"
        raise Fail(f"{what} contains {kind} (first at index {list(at)}; {int(bad.sum())} of {arr.size} "
                   "entries are not finite: an overflow, or a division by zero?)", hint)
    return arr


H_PRECISION = ("floating-point precision: the answer is right up to single-precision rounding; compute "
               "and return float64 (the inputs are float64: a float32 array or tensor somewhere rounds them)")


def _rounding(value: Any) -> float | None:
    """The machine epsilon of ``value``'s dtype when it is a float type narrower than float64."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    dtype = getattr(value, "dtype", None)
    if dtype is None or getattr(dtype, "kind", "") != "f" or dtype.itemsize >= 8:
        return None
    return float(np.finfo(dtype).eps)


def compare(got: Any, want: np.ndarray, what: str, tol: Tol, hint: str,
            mistakes: Iterable[Mistake] = ()) -> float:
    """Check ``got`` against ``want``; return the max |Δ|. On a mismatch, the hint of
    the first mistake whose answer ``got`` reproduces; else, for a float32 (or narrower)
    answer that is right up to its rounding, :data:`H_PRECISION`; else ``hint``."""
    want = np.asarray(want, dtype=np.float64)
    eps = _rounding(got)
    arr = as_float_array(got, what, want.shape, hint)
    err = np.abs(arr - want)
    if tol.ok(arr, want):
        return float(err.max()) if err.size else 0.0
    at = [int(i) for i in np.unravel_index(int(np.argmax(err - tol.rtol * np.abs(want))), err.shape)]
    where = f" at index {at}" if want.ndim else ""
    message = (f"{what}: max |Δ| = {float(err.max()):.3g}{where} "
               f"(expected {float(want[tuple(at)]):.6g}, got {float(arr[tuple(at)]):.6g}; tolerance {tol})")
    for m in mistakes:
        try:
            alt = np.asarray(m.answer(), dtype=np.float64)
        except Exception:  # a mistake that cannot be formed for these inputs says nothing
            continue
        if alt.shape == arr.shape and np.all(np.isfinite(alt)) and tol.ok(arr, alt):
            raise Fail(message, m.hint)
    if eps is not None and max(tol.atol, tol.rtol) < 10 * eps:  # a tolerance float32 cannot meet
        scale = 1.0 + float(np.abs(want).max(initial=0.0))
        if Tol(100 * eps * scale, 100 * eps).ok(arr, want):  # right up to its rounding
            raise Fail(message, H_PRECISION)
    raise Fail(message, hint)


def max_abs(errors: Iterable[float]) -> str:
    """'max |Δ| = …' over several comparisons."""
    return f"max |Δ| = {max(errors, default=0.0):.2g}"


def unpack(value: Any, n: int, what: str) -> tuple:
    """A tuple of ``n`` results, or Fail naming what was returned instead."""
    if not isinstance(value, (tuple, list)) or len(value) != n:
        got = f"a {type(value).__name__}" + (f" of length {len(value)}" if isinstance(value, (tuple, list)) else "")
        raise Fail(f"{what} returned {got}, expected a tuple of {n}",
                   "return exactly what the docstring lists, in that order")
    return tuple(value)


def get_key(d: Any, key: str, what: str) -> Any:
    """``d[key]`` from a returned dict, or Fail."""
    if not isinstance(d, dict):
        raise Fail(f"{what} returned a {type(d).__name__}, expected a dict",
                   "return a dict keyed as the docstring says")
    if key not in d:
        raise Fail(f"{what}: the returned dict has no key {key!r} (keys: {sorted(map(str, d))})",
                   "return a dict keyed as the docstring says")
    return d[key]
