"""The ``seqlm`` command line: a thin layer over the library.

Every subcommand lives in ``seqlm.commands.<name>`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a function
``run(args) -> int``. Heavy imports (torch, matplotlib) happen inside ``run``,
so ``seqlm --help`` stays fast. User errors (``SeqlmError``) print one line to
stderr and exit 2; ``--debug`` shows their traceback too.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from seqlm import __version__
from seqlm.errors import SeqlmError

# The one place subcommands are registered, in the order --help lists them.
COMMANDS = (
    "data", "ngram", "train", "eval", "score", "generate",
    "gradients", "longlag", "bottleneck", "clipping", "inspect", "probe", "compare", "figures", "exercises",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqlm",
        description="Recurrent sequence models and language models: RNN, LSTM, GRU, n-grams.",
    )
    parser.add_argument("--version", action="version", version=f"seqlm {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of user errors too")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"seqlm.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SeqlmError as err:
        if args.debug:
            raise
        print(f"seqlm {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"seqlm {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `seqlm ... | head`: the reader left; that is not an error. Point stdout
        # at devnull so the interpreter's final flush does not raise again.
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
