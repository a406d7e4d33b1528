"""T3: parameter counts of RNN, LSTM and GRU layers, checked against every implementation."""
from __future__ import annotations

import numpy as np
import torch

from seqlm.exercises.theory import Claim, claim
from seqlm.lm import RNNLanguageModel, RNNLMConfig
from seqlm.nn import RecurrentStack
from seqlm.reference import GRU, LSTM, RNN

GRID = [(1, 1), (1, 5), (7, 5), (32, 64), (200, 200)]  # (X, H)
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def book(cell: str, X: int, H: int) -> int:
    """One bias per gate block: G (H² + XH + H)."""
    return GATES[cell] * (H * H + X * H + H)


def pytorch(cell: str, X: int, H: int) -> int:
    """torch.nn.RNN/LSTM/GRU keep two bias vectors per block: G (H² + XH + 2H)."""
    return GATES[cell] * (H * H + X * H + 2 * H)


def _numel(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _reference(cell: str, X: int, H: int, variant: str = "cho") -> int:
    rng = np.random.default_rng(0)
    m = (GRU.init(X, H, rng, variant=variant) if cell == "gru" else {"rnn": RNN, "lstm": LSTM}[cell].init(X, H, rng))
    return sum(v.size for v in m.params.values())


def verify() -> list[Claim]:
    rows, bad_book, bad_torch = [], [], []
    for X, H in GRID:
        for cell in GATES:
            variant = "cho" if cell == "gru" else None
            counts = {"reference": _reference(cell, X, H),
                      "explicit": _numel(RecurrentStack(cell, X, H, backend="explicit", variant=variant))}
            torch_counts = {"torch.nn": _numel({"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](X, H)),
                            "fused": _numel(RecurrentStack(cell, X, H, backend="fused"))}
            bad_book += [f"{cell} {k} X={X} H={H}: {v} ≠ {book(cell, X, H)}"
                         for k, v in counts.items() if v != book(cell, X, H)]
            bad_torch += [f"{cell} {k} X={X} H={H}: {v} ≠ {pytorch(cell, X, H)}"
                          for k, v in torch_counts.items() if v != pytorch(cell, X, H)]
            rows.append((cell, X, H))
    ra_ref = [_reference("gru", X, H, "reset_after") for X, H in GRID]
    ra_exp = [_numel(RecurrentStack("gru", X, H, backend="explicit", variant="reset_after")) for X, H in GRID]
    ra_want = [3 * (H * H + X * H + H) + H for X, H in GRID]
    ratio = {(X, H): (book("gru", X, H) / book("lstm", X, H), pytorch("gru", X, H) / pytorch("lstm", X, H))
             for X, H in GRID}
    V, D, Hh, L = 50, 16, 16, 2
    lm_want = {tie: V * D + book("lstm", D, Hh) + (L - 1) * book("lstm", Hh, Hh)
               + (0 if tie else V * Hh) + V for tie in (False, True)}
    lm_got = {tie: RNNLanguageModel(RNNLMConfig(vocab_size=V, cell="lstm", backend="explicit", num_layers=L,
                                                embed_size=D, hidden_size=Hh, tie_weights=tie)).num_parameters()
              for tie in (False, True)}
    return [
        claim("C1", "RNN: H² + XH + H; LSTM: 4(H² + XH + H); GRU: 3(H² + XH + H) — seqlm's reference and "
              "explicit layers", not bad_book,
              f"{len(rows)} (cell, X, H) combinations, (X, H) ∈ {GRID}" + (f"; {bad_book[0]}" if bad_book else "")),
        claim("C2", "torch.nn.RNN/LSTM/GRU (and seqlm's fused backend) count one more H per gate block: "
              "G(H² + XH + 2H), from the two bias vectors b_ih and b_hh",
              not bad_torch, f"{len(rows)} combinations" + (f"; {bad_torch[0]}" if bad_torch else "")),
        claim("C3", "a GRU has exactly 3/4 of an LSTM's parameters at the same X, H, in both conventions "
              "(3 gate blocks against 4)", all(abs(a - 0.75) < 1e-15 and abs(b - 0.75) < 1e-15 for a, b in ratio.values()),
              "ratios " + ", ".join(f"{a:.4f}" for a, _ in ratio.values())),
        claim("C4", "the reset-after GRU with one merged bias per block needs one extra H for b_hn: "
              "3(H² + XH + H) + H (it cannot be merged: it sits inside r_t ⊙ (·))",
              ra_ref == ra_want and ra_exp == ra_want, f"reference {ra_ref}, explicit {ra_exp}"),
        claim("C5", "an LSTM language model adds V·D (embedding) + V·H + V (decoder) to its layers; tying "
              "the decoder to the embedding removes V·H", lm_got == lm_want,
              f"V={V}, D=H={Hh}, 2 layers: untied {lm_got[False]:,}, tied {lm_got[True]:,}"),
    ]
