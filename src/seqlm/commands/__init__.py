"""CLI subcommands, one module each; see ``seqlm.cli.COMMANDS``.

Shared argument types for comma-separated flags (``--cells rnn,gru``,
``--length 10,50``) live here, so every command parses and words its errors alike.
"""
from __future__ import annotations

import argparse


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
