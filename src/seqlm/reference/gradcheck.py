"""Central finite differences, the independent check of every hand-written backward."""
from __future__ import annotations

from typing import Callable

import numpy as np


def numerical_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """∂f/∂x by central differences (f(x+ε) - f(x-ε)) / 2ε, perturbing ``x`` in
    place (and restoring it): ``f`` reads ``x`` through the closure."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_grad needs a contiguous array it can perturb in place")
    for j in range(flat.size):
        old = flat[j]
        flat[j] = old + eps
        fp = f()
        flat[j] = old - eps
        fm = f()
        flat[j] = old
        gflat[j] = (fp - fm) / (2 * eps)
    return grad


def rel_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """‖a - n‖ / max(‖a‖ + ‖n‖, 1e-12), the norm-wise relative error of a whole tensor."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-12))


def check_gradients(f: Callable[[], float], arrays: dict[str, np.ndarray],
                    analytic: dict[str, np.ndarray], eps: float = 1e-6) -> dict[str, float]:
    """Relative error of ``analytic[k]`` against central differences of ``f`` with
    respect to ``arrays[k]``, for every k."""
    return {k: rel_error(analytic[k], numerical_grad(f, arrays[k], eps)) for k in arrays}
