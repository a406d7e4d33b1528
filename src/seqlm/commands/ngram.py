"""`seqlm ngram` (not implemented yet)."""
from seqlm.errors import SeqlmError


def register(sub) -> None:
    p = sub.add_parser("ngram", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SeqlmError("'seqlm ngram' is not implemented yet")
