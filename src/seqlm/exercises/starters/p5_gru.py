"""P5 — a GRU cell exactly as eq. (5.11) writes it, and LSTM vs GRU on a long-lag task (Section 5.4).

    z_t = σ(W_z [h_{t-1}, x_t] + b_z)                                      (5.9)
    r_t = σ(W_r [h_{t-1}, x_t] + b_r)                                      (5.10)
    h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ tanh(W_h [r_t ⊙ h_{t-1}, x_t] + b_h)   (5.11)

This is the book's GRU (Cho et al. 2014): z_t weights the *candidate*, and r_t
resets h_{t-1} *before* W_h. PyTorch's nn.GRU does both the other way round.

The long-lag task is the adding problem: seqlm.analysis.tasks.adding_batch(T, B,
generator) gives x (T, B, 2) and y (B, 1); predicting the mean gives MSE 1/6.

Check your work:   seqlm exercises check P5 p5_gru.py
(the cell alone, without training:   seqlm exercises check P5 p5_gru.py --only "GRU cell")
"""
import torch
from torch import nn

from seqlm.analysis.tasks import adding_batch  # noqa: F401  (for train_adding)


class GRUCell(nn.Module):
    """Eqs. (5.9)–(5.11) for one step.

    Parameters, with exactly these names: W_z, W_r, W_h (H, H + I) acting on the
    concatenation [h_{t-1}, x_t] (h first), and b_z, b_r, b_h (H,).
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        raise NotImplementedError

    def forward(self, x_t, h_prev):
        """x_t (B, I), h_prev (B, H) -> h_t (B, H). Plain torch operations, so autograd
        computes the gradients."""
        raise NotImplementedError


class AddingModel(nn.Module):
    """cell = "gru": your GRUCell unrolled over the sequence from h_0 = 0;
    cell = "lstm": torch.nn.LSTM. Then a linear read-out of the last state h_T.

    forward: x (T, B, 2) -> (B, 1).
    """

    def __init__(self, cell, hidden_size=32, input_size=2):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError


def train_adding(cell, T, steps, seed):
    """Train AddingModel(cell) on the adding problem with sequences of length T for
    `steps` updates (a fresh batch of 64 each step); return the trained model.
    Everything random comes from `seed`. Suggested: Adam, lr 1e-2, gradient
    clipping at norm 1, and for the LSTM a forget-gate bias of 1.
    """
    raise NotImplementedError
