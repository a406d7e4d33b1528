"""`seqlm figures` (not implemented yet)."""
from seqlm.errors import SeqlmError


def register(sub) -> None:
    p = sub.add_parser("figures", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SeqlmError("'seqlm figures' is not implemented yet")
