"""Numerical checks of the theory exercises' worked solutions: one :class:`Claim` per
claim the solution makes (its label, [C1] … , appears in the solution text)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    label: str      # "C1", as tagged in the worked solution
    text: str       # the claim, in one line
    holds: bool
    measured: str   # the numbers that decide it

    def to_dict(self) -> dict:
        return {"label": self.label, "text": self.text, "holds": self.holds, "measured": self.measured}


def claim(label: str, text: str, holds, measured: str) -> Claim:
    return Claim(label, text, bool(holds), measured)
