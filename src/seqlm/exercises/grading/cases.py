"""What a graded case is, and the comparisons every check is written with.

A check module (``seqlm.exercises.checks.pN``) lists :class:`Case` objects. A case
runs in the grader's process: it draws seeded inputs, computes the expected answer
with seqlm's own implementation, asks the learner's process for its answer
(:meth:`Context.call`, :meth:`Context.fn` — only the inputs travel) and compares.
It returns a one-line message (passed) or raises :class:`Fail`.

A failure's hint is *earned*:

- a **mistake** hint names a misconception only when the learner's answer is what
  that misconception computes (each :class:`Mistake` is the reference with the
  mistake made, run on the same inputs), on every output that differs;
- a **property** hint names what a measurement singles out: a dtype, a shape, a
  count, values right only up to float32 rounding;
- otherwise the **neutral** hint says which outputs differ and which already match,
  and names the equations involved, without a diagnosis.

No hint states the fix.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from seqlm.exercises.grading.wire import Opaque

MAX_MESSAGE = 400  # characters of one message line
H_NAMES = "the starter's names and signatures are what the grader calls (seqlm exercises start writes them)"


def one_line(text: Any, limit: int = MAX_MESSAGE) -> str:
    """``text`` squeezed onto one line of at most ``limit`` characters."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


class Fail(Exception):
    """A failed case: ``message`` says what was measured, ``hint`` what to look at, and
    ``kind`` why that hint: "mistake", "property" or "neutral" (None: no hint)."""

    def __init__(self, message: str, hint: str | None = None, kind: str | None = None) -> None:
        super().__init__(one_line(message))
        self.message, self.hint = one_line(message), hint
        self.kind = kind or (None if hint is None else "property")


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
    """A known misconception: what it computes — one array, or a dict of outputs by
    name (or a callable giving either, formed only when needed) — and its hint."""

    value: Any
    hint: str

    def answer(self) -> Any:
        return self.value() if callable(self.value) else self.value


@dataclass(frozen=True)
class Case:
    """One graded case. ``run(ctx)`` returns the pass message or raises :class:`Fail`.

    ``equations`` names what the case is about (the neutral hint cites it);
    ``requires`` names cases that must pass first; ``seconds`` is the learner's time
    for the case; ``points`` its default weight (a teacher's config may change it and
    its Gradescope ``visibility``).
    """

    name: str
    run: Callable[["Context"], str]
    equations: str
    tolerance: str | None = None
    requires: tuple[str, ...] = ()
    seconds: float = 10.0
    points: float = 1.0
    visibility: str = "visible"


class Raised(Exception):
    """The learner's code raised, ran out of time, or lacks a name, inside one call:
    ``status`` (error | timeout | missing) and the one-line message from its process."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class Context:
    """What a case gets: a generator seeded for this case, and the learner's process
    behind :meth:`call` (``remote(driver, args) -> value``)."""

    def __init__(self, remote: Callable[[str, dict], Any], seed: int, index: int, filename: str) -> None:
        self.remote = remote
        self.rng = np.random.default_rng([seed, index])
        self.seed, self.index, self.filename = seed, index, filename

    def call(self, driver: str, **args) -> Any:
        """Run ``driver`` (see :mod:`seqlm.exercises.grading.drivers`) in the learner's
        process on copies of ``args``; its answer, decoded. Raises :class:`Fail` when
        a name the exercise asks for is missing, :class:`Raised` when learner code
        raised or timed out."""
        try:
            return self.remote(driver, args)
        except Raised as err:
            if err.status == "missing":
                raise Fail(f"{self.filename} {err.message}", H_NAMES) from None
            raise

    def fn(self, name: str, *args, **kwargs) -> Any:
        """The learner's function ``name`` called on copies of ``args``."""
        return self.call("call", name=name, args=list(args), kwargs=kwargs)


# ---------------------------------------------------------------------------- arrays

def _numpy(value: Any) -> Any:
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        return value.detach().cpu().numpy()
    return value


def as_float_array(value: Any, what: str, shape: tuple[int, ...], shapes: dict | None = None) -> np.ndarray:
    """``value`` as a float64 NumPy array of exactly ``shape``, finite; else Fail with
    what was measured. ``shapes``: {a wrong shape: the property hint that names it}."""
    value = _numpy(value)
    if isinstance(value, Opaque) or not isinstance(value, (np.ndarray, np.generic, float, int)) \
            or isinstance(value, bool):
        name = value.name if isinstance(value, Opaque) else f"a {type(value).__name__}"
        raise Fail(f"{what} is {name}, expected a NumPy array of shape {shape}",
                   "the docstring says what each function returns, in which order and type")
    arr = np.asarray(value)
    if arr.shape != tuple(shape):
        raise Fail(f"{what} has shape {arr.shape}, expected {tuple(shape)}",
                   (shapes or {}).get(arr.shape, "the shapes in the docstring: time first (T, B, ·), "
                                                 "one row per batch element"))
    if arr.dtype.kind not in "fiu":
        raise Fail(f"{what} has dtype {arr.dtype}, expected a float array",
                   "the exercise works with real floating-point arrays (float64)")
    arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(arr[at]) else "inf"
        raise Fail(f"{what} contains {kind} (first at index {list(at)}; {int(bad.sum())} of {arr.size} "
                   "entries are not finite)", "an overflow or a division by zero gives values that are not finite")
    return arr


H_PRECISION = ("floating-point precision: the answer is right up to single-precision (float32) rounding, "
               "far from the float64 tolerance: somewhere a float32 array or tensor rounds the inputs")


def _float32_close(got: np.ndarray, want: np.ndarray) -> bool:
    eps = float(np.finfo(np.float32).eps)
    scale = 1.0 + float(np.abs(want).max(initial=0.0))
    return Tol(100 * eps * scale, 100 * eps).ok(got, want)


def _detail(name: str, got: np.ndarray, want: np.ndarray, tol: Tol) -> str:
    err = np.abs(got - want)
    at = [int(i) for i in np.unravel_index(int(np.argmax(err - tol.rtol * np.abs(want))), err.shape)]
    where = f" at index {at}" if want.ndim else ""
    return (f"{name}: max |Δ| = {float(err.max()):.3g}{where} (expected {float(want[tuple(at)]):.6g}, "
            f"got {float(got[tuple(at)]):.6g}; tolerance {tol})")


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def neutral(differ: list[str], match: list[str], equations: str) -> str:
    """Which outputs differ and which already match, and the equations involved."""
    text = f"{_names(differ)} {'differs' if len(differ) == 1 else 'differ'} from the reference"
    if match:
        text += f"; {_names(match)} {'matches' if len(match) == 1 else 'match'}"
    return f"{text} — the equations involved: {equations}"


def _explains(m: Mistake, got: dict, differ: list[str], tol: Tol) -> bool:
    """Does the mistake compute every output that differs from the truth?"""
    try:
        alt = m.answer()
    except Exception:  # a mistake that cannot be formed for these inputs says nothing
        return False
    if not isinstance(alt, dict):
        alt = {differ[0]: alt} if len(differ) == 1 else {}
    for name in differ:
        if name not in alt:
            return False
        a = np.asarray(alt[name], dtype=np.float64)
        if a.shape != got[name].shape or not np.all(np.isfinite(a)) or not tol.ok(got[name], a):
            return False
    return True


def compare_all(got: dict, want: dict, tol: Tol, equations: str, mistakes: Iterable[Mistake] = (),
                shapes: dict | None = None) -> float:
    """Check every output ``got[name]`` against ``want[name]``; return the max |Δ|.

    On a mismatch the hint is earned: the first mistake that computes every differing
    output; else :data:`H_PRECISION` when they are right up to float32 rounding; else
    the neutral hint (what differs, what matches, ``equations``)."""
    arrays, wants = {}, {}
    for name, w in want.items():
        wants[name] = np.asarray(w, dtype=np.float64)
        arrays[name] = as_float_array(got[name], name, wants[name].shape, shapes)
    differ = [n for n in want if not tol.ok(arrays[n], wants[n])]
    errs = [float(np.abs(arrays[n] - wants[n]).max()) if wants[n].size else 0.0 for n in want]
    if not differ:
        return max(errs, default=0.0)
    message = _detail(differ[0], arrays[differ[0]], wants[differ[0]], tol)
    if len(differ) > 1:
        message += f" (and {len(differ) - 1} more output{'s' * (len(differ) > 2)} differ)"
    for m in mistakes:
        if _explains(m, arrays, differ, tol):
            raise Fail(message, m.hint, "mistake")
    if all(_float32_close(arrays[n], wants[n]) for n in differ):
        raise Fail(message, H_PRECISION, "property")
    raise Fail(message, neutral(differ, [n for n in want if n not in differ], equations), "neutral")


def compare(got: Any, want: Any, what: str, tol: Tol, equations: str, mistakes: Iterable[Mistake] = (),
            shapes: dict | None = None) -> float:
    """:func:`compare_all` for one output named ``what``."""
    return compare_all({what: got}, {what: want}, tol, equations, mistakes, shapes)


def max_abs(errors: Iterable[float]) -> str:
    """'max |Δ| = …' over several comparisons."""
    return f"max |Δ| = {max(errors, default=0.0):.2g}"


def unpack(value: Any, n: int, what: str) -> tuple:
    """A tuple of ``n`` results, or Fail naming what was returned instead."""
    if not isinstance(value, (tuple, list)) or len(value) != n:
        got = (value.name if isinstance(value, Opaque) else f"a {type(value).__name__}") + \
            (f" of length {len(value)}" if isinstance(value, (tuple, list)) else "")
        raise Fail(f"{what} returned {got}, expected a tuple of {n}",
                   "the docstring says what each function returns, in which order")
    return tuple(value)


def get_key(d: Any, key: Any, what: str) -> Any:
    """``d[key]`` from a returned dict, or Fail."""
    if not isinstance(d, dict):
        name = d.name if isinstance(d, Opaque) else f"a {type(d).__name__}"
        raise Fail(f"{what} returned {name}, expected a dict", "the docstring says how the dict is keyed")
    if key not in d:
        raise Fail(f"{what}: the returned dict has no key {key!r} (keys: {sorted(map(str, d))})",
                   "the docstring says how the dict is keyed")
    return d[key]
