"""Pieces shared by the NumPy reference cells: activations, initialisation, the
gradient container, and shape checks."""
from __future__ import annotations

from typing import Any

import numpy as np

from seqlm.errors import SeqlmError


def sigmoid(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """σ(a) = 1 / (1 + e^{-a}), written as ½(1 + tanh(a/2)): the same function,
    but it never overflows for large |a| and costs one transcendental call."""
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def uniform(rng: np.random.Generator, shape: tuple[int, ...], scale: float,
            dtype: Any = np.float64) -> np.ndarray:
    """U(-scale, scale), the Zaremba et al. (2014) initialisation."""
    return rng.uniform(-scale, scale, size=shape).astype(dtype, copy=False)


def sigma_max(W: np.ndarray) -> float:
    """Largest singular value ‖W‖₂ (computed in float64)."""
    return float(np.linalg.norm(np.asarray(W, dtype=np.float64), 2))


def scale_to_sigma_max(W: np.ndarray, sigma: float) -> np.ndarray:
    """W rescaled so its largest singular value σ_max(W) = ``sigma`` (dtype kept).

    ‖∂h_t/∂h_{t-1}‖ ≤ σ_max(W_hh)·max|tanh'| ≤ σ_max(W_hh), so σ_max < 1 guarantees
    vanishing gradients through eq. (5.3) (Pascanu et al. 2013)."""
    s = sigma_max(W)
    if s == 0:
        raise SeqlmError("cannot rescale an all-zero matrix to a given singular value")
    return W * (sigma / s)


def scale_to_spectral_radius(W: np.ndarray, rho: float) -> np.ndarray:
    """W rescaled so its spectral radius max|λ(W)| = ``rho`` (square W only)."""
    r = float(np.max(np.abs(np.linalg.eigvals(W))))
    if r == 0:
        raise SeqlmError("cannot rescale a nilpotent matrix to a given spectral radius")
    return W * (rho / r)


def orthogonal(rng: np.random.Generator, n: int, dtype: Any = np.float64) -> np.ndarray:
    """A Haar-random n×n orthogonal matrix (QR of a Gaussian, signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * np.sign(np.diag(r))).astype(dtype, copy=False)


class Grads(dict):
    """Gradients returned by a reference ``backward``.

    As a dict it holds exactly the parameter gradients, under the parameter
    names (so ``for k in grads`` visits parameters only). The other gradients are
    attributes, also readable as ``grads["dxs"]`` etc.:

    - ``dxs``  (T, B, I): ∂L/∂x_t.
    - ``dh``   (T+1, B, H): the TOTAL ∂L/∂h_k for k = 0..T (k = 0 is the initial
      state): the direct loss gradient plus everything that flows back through
      later steps.
    - ``dc``   (T+1, B, H): the total ∂L/∂c_k (LSTM only, else None).
    - ``dh0`` / ``dc0`` / ``dstate0``: the initial-state gradient (``dstate0`` is
      ``dh0`` or the tuple ``(dh0, dc0)``, shaped like ``state0``).
    """

    _extra = ("dxs", "dh", "dc", "dh0", "dc0", "dstate0")

    def __init__(self, params: dict[str, np.ndarray], dxs: np.ndarray, dh: np.ndarray,
                 dc: np.ndarray | None = None) -> None:
        super().__init__(params)
        self.dxs = dxs
        self.dh = dh
        self.dc = dc

    @property
    def dh0(self) -> np.ndarray:
        return self.dh[0]

    @property
    def dc0(self) -> np.ndarray | None:
        return None if self.dc is None else self.dc[0]

    @property
    def dstate0(self) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        return self.dh[0] if self.dc is None else (self.dh[0], self.dc[0])

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The parameter gradients as a plain dict."""
        return dict(self.items())

    def __missing__(self, key: str) -> Any:
        if key in self._extra:
            return getattr(self, key)
        raise KeyError(key)


def check_params(name: str, params: dict[str, np.ndarray],
                 shapes: dict[str, tuple[int, ...]]) -> None:
    """Raise SeqlmError unless ``params`` has exactly these keys and shapes."""
    if set(params) != set(shapes):
        raise SeqlmError(f"{name}: parameters {sorted(params)} do not match the expected {sorted(shapes)}")
    for k, shape in shapes.items():
        if tuple(params[k].shape) != tuple(shape):
            raise SeqlmError(f"{name}: parameter {k} has shape {tuple(params[k].shape)}, expected {tuple(shape)}")


def check_inputs(name: str, xs: np.ndarray, input_size: int) -> tuple[int, int]:
    """(T, B) of a (T, B, I) input, or SeqlmError."""
    if xs.ndim != 3 or xs.shape[2] != input_size:
        raise SeqlmError(f"{name}: input must have shape (T, B, {input_size}), got {tuple(xs.shape)}")
    return xs.shape[0], xs.shape[1]


def initial(state: np.ndarray | None, B: int, H: int, dtype: Any, what: str = "h0") -> np.ndarray:
    """The initial state, zeros when None, shape-checked."""
    if state is None:
        return np.zeros((B, H), dtype=dtype)
    state = np.asarray(state)
    if state.shape != (B, H):
        raise SeqlmError(f"{what} must have shape ({B}, {H}), got {tuple(state.shape)}")
    return state.astype(dtype, copy=False)
