"""CLI subcommands, one module each; see ``seqlm.cli.COMMANDS``.

Shared argument types live here, so every command parses and words its errors
alike: comma-separated flags (``--cells rnn,gru``, ``--length 10,50``) and numbers
with bounds (checked by :mod:`seqlm.schema`). A bad value is a one-line usage
error (exit 2) before any work.
"""
from __future__ import annotations

import argparse

from seqlm.schema import number

positive_int = number(int, ge=1)
nonnegative_int = number(int, ge=0)
seed_int = number(int, ge=0, lt=2**63)
finite_float = number(float)
positive_float = number(float, gt=0)


def comma_choices(choices: tuple[str, ...]):
    """An argparse type: a comma-separated, duplicate-free subset of ``choices``, lower-cased."""
    def parse(text: str) -> list[str]:
        items = [c.strip().lower() for c in text.split(",") if c.strip()]
        if not items or any(c not in choices for c in items) or len(set(items)) != len(items):
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated subset of {','.join(choices)}, got {text!r}")
        return items
    return parse


def comma_ints(minimum: int, what: str):
    """An argparse type: comma-separated integers, each at least ``minimum``."""
    def parse(text: str) -> list[int]:
        try:
            items = [int(t) for t in text.split(",") if t.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
        if not items or min(items) < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be integers >= {minimum}, got {text!r}")
        return items
    return parse
