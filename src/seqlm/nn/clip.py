"""Gradient clipping (Pascanu, Mikolov & Bengio 2013), shared by the trainer and
the gradient lab.

Norm clipping is Pascanu et al.'s Algorithm 1: with ĝ the gradient of all
parameters as one vector, if ‖ĝ‖ > threshold then ĝ ← threshold · ĝ / ‖ĝ‖.
The direction is kept; only the step length is capped. Element-wise clipping
(clamp every component to [-v, v]) is kept for comparison: it changes the
direction.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import torch


def clip_grad_norm_(parameters: Iterable[torch.Tensor], max_norm: float) -> float:
    """Rescale gradients in place so their global L2 norm is at most ``max_norm``.

    Returns the norm *before* clipping (``inf``/``nan`` if the gradient is not
    finite, in which case nothing is changed: the caller decides what to do).
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    total = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g.detach(), 2.0).to(torch.float64) for g in grads]), 2.0
    ).item()
    if math.isfinite(total) and max_norm is not None and total > max_norm:
        scale = max_norm / (total + 1e-12)
        for g in grads:
            g.detach().mul_(scale)
    return total


def clip_grad_value_(parameters: Iterable[torch.Tensor], clip_value: float) -> float:
    """Clamp every gradient component to ``[-clip_value, clip_value]``; returns the
    global norm before clipping."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    total = math.sqrt(sum(float(g.detach().double().pow(2).sum()) for g in grads))
    for g in grads:
        g.detach().clamp_(-clip_value, clip_value)
    return total


def clip_norm_np(grads: dict[str, np.ndarray], max_norm: float) -> tuple[dict[str, np.ndarray], float]:
    """Algorithm 1 on a dict of NumPy gradients (the reference path). Returns
    the clipped copy and the norm before clipping."""
    total = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads.values()))
    if math.isfinite(total) and total > max_norm:
        s = max_norm / (total + 1e-12)
        return {k: g * s for k, g in grads.items()}, total
    return dict(grads), total
