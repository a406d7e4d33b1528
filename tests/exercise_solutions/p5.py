"""P5, reference solution: the book's GRU cell (eq. 5.11) in PyTorch, and LSTM vs GRU
on the adding problem."""
import math

import torch
from torch import nn

from seqlm.analysis.tasks import adding_batch


class GRUCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        H, I = hidden_size, input_size
        for g in "zrh":
            setattr(self, f"W_{g}", nn.Parameter(torch.empty(H, H + I)))
            setattr(self, f"b_{g}", nn.Parameter(torch.empty(H)))
        self.reset_parameters()

    def reset_parameters(self, generator=None):
        a = 1.0 / math.sqrt(self.b_z.numel())
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-a, a, generator=generator)

    def forward(self, x_t, h_prev):
        hx = torch.cat([h_prev, x_t], dim=1)                   # [h_{t-1}, x_t], (B, H+I)
        z = torch.sigmoid(hx @ self.W_z.T + self.b_z)          # (5.9)
        r = torch.sigmoid(hx @ self.W_r.T + self.b_r)          # (5.10)
        cand = torch.tanh(torch.cat([r * h_prev, x_t], dim=1) @ self.W_h.T + self.b_h)  # reset before W_h
        return (1 - z) * h_prev + z * cand                     # (5.11)


class AddingModel(nn.Module):
    def __init__(self, cell, hidden_size=32, input_size=2):
        super().__init__()
        self.kind = cell
        self.cell = GRUCell(input_size, hidden_size) if cell == "gru" else nn.LSTM(input_size, hidden_size)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):                                      # (T, B, 2) -> (B, 1)
        if self.kind == "gru":
            h = x.new_zeros(x.shape[1], self.head.in_features)
            for t in range(x.shape[0]):
                h = self.cell(x[t], h)
        else:
            h = self.cell(x)[0][-1]
        return self.head(h)                                    # read out h_T


def train_adding(cell, T, steps, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):                    # nn.LSTM/Linear draw from the global RNG
        torch.manual_seed(seed)
        model = AddingModel(cell)
    if cell == "lstm":
        with torch.no_grad():
            model.cell.bias_ih_l0[32:64].fill_(1.0)            # forget-gate bias 1 (PyTorch order i, f, g, o)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        x, y = adding_batch(T, 64, gen)
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model
