"""`seqlm data` (info, download): being written."""
from seqlm.errors import SeqlmError


def register(sub) -> None:
    p = sub.add_parser("data", help="corpus statistics and downloads")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SeqlmError("'seqlm data' is not implemented yet")
