"""Softmax output layer and cross-entropy, eq. (5.2), in NumPy.

    y_t = softmax(W_hy h_t + b_y)                                        (5.2)
    L   = -(1/N) Σ_t Σ_b log y_t[target_{t,b}]      (mean over N = T·B tokens)

Backward: ∂L/∂logits = (y_t - onehot(target)) / N, the classic result.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from seqlm.errors import SeqlmError
from seqlm.reference._common import check_params, uniform


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log softmax over the last axis, shifted by the max so exp never overflows."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """softmax over the last axis (eq. 5.2)."""
    return np.exp(log_softmax(logits))


class SoftmaxOutput:
    """Output layer ``W_hy (V, H)``, ``b_y (V,)`` with a cross-entropy loss."""

    param_names = ("W_hy", "b_y")

    def __init__(self, params: dict[str, np.ndarray]) -> None:
        V, H = params["W_hy"].shape
        check_params("SoftmaxOutput", params, {"W_hy": (V, H), "b_y": (V,)})
        self.params, self.vocab_size, self.hidden_size = params, V, H

    @classmethod
    def init(cls, hidden_size: int, vocab_size: int, rng: np.random.Generator,
             scale: float = 0.1, dtype: Any = np.float64) -> "SoftmaxOutput":
        return cls({"W_hy": uniform(rng, (vocab_size, hidden_size), scale, dtype),
                    "b_y": uniform(rng, (vocab_size,), scale, dtype)})

    def probs(self, hs: np.ndarray) -> np.ndarray:
        """y_t (T, B, V) of eq. (5.2)."""
        return softmax(hs @ self.params["W_hy"].T + self.params["b_y"])

    def forward(self, hs: np.ndarray, targets: np.ndarray
                ) -> tuple[float, dict[str, np.ndarray]]:
        """Mean cross-entropy (natural log) of ``targets`` (T, B) under y_t = softmax(W_hy h_t + b_y)."""
        if targets.shape != hs.shape[:-1]:
            raise SeqlmError(f"targets must have shape {hs.shape[:-1]}, got {targets.shape}")
        if targets.size and (targets.min() < 0 or targets.max() >= self.vocab_size):
            raise SeqlmError(f"target ids must lie in [0, {self.vocab_size})")
        logp = log_softmax(hs @ self.params["W_hy"].T + self.params["b_y"])  # (5.2), in log space
        picked = np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
        loss = -float(picked.mean())
        return loss, {"hs": hs, "targets": targets, "logp": logp}

    def backward(self, cache: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """(parameter gradients, ∂L/∂h_t (T, B, H)) of the mean cross-entropy."""
        hs, targets, logp = cache["hs"], cache["targets"], cache["logp"]
        N = targets.size
        dlogits = np.exp(logp)                                  # y_t
        np.put_along_axis(dlogits, targets[..., None],
                          np.take_along_axis(dlogits, targets[..., None], axis=-1) - 1.0, axis=-1)
        dlogits /= N                                            # ∂L/∂logits of (5.2): (y_t - onehot) / N
        H, V = self.hidden_size, self.vocab_size
        d2 = dlogits.reshape(-1, V)
        grads = {"W_hy": d2.T @ hs.reshape(-1, H), "b_y": d2.sum(0)}
        dhs = dlogits @ self.params["W_hy"]
        return grads, dhs
