"""`seqlm generate` (not implemented yet)."""
from seqlm.errors import SeqlmError


def register(sub) -> None:
    p = sub.add_parser("generate", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SeqlmError("'seqlm generate' is not implemented yet")
