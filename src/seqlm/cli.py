"""The ``seqlm`` command line: a thin layer over the library.

Every subcommand lives in ``seqlm.commands.<name>`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a function
``run(args) -> int``. Heavy imports (torch, matplotlib) happen inside ``run``,
so ``seqlm --help`` stays fast. User errors (``SeqlmError``, a bad flag, a file
that cannot be read or written) print one line to stderr and exit 2; ``--debug``
shows their traceback too. A :class:`~seqlm.errors.SeqlmWarning` from the library
is printed as one ``note:`` line.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from seqlm import __version__
from seqlm.errors import Interrupted, SeqlmError, SeqlmWarning

# The one place subcommands are registered, in the order --help lists them.
COMMANDS = (
    "data", "ngram", "train", "eval", "score", "generate",
    "gradients", "longlag", "bottleneck", "clipping", "inspect", "probe", "compare", "figures", "exercises",
)


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (``seqlm train: error: ...``)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="seqlm",
        description="Recurrent sequence models and language models: RNN, LSTM, GRU, n-grams.",
    )
    parser.add_argument("--version", action="version", version=f"seqlm {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of user errors too")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"seqlm.commands.{name}").register(sub)
    _plain(parser)
    return parser


def _plain(parser: argparse.ArgumentParser) -> None:
    """Help for a terminal: the docstrings' RST literals (``x``) become plain x; a
    subcommand without a description gets its one-line help as one."""
    for attr in ("description", "epilog"):
        text = getattr(parser, attr)
        if text:
            setattr(parser, attr, text.replace("``", ""))
    for action in parser._actions:
        if isinstance(action.help, str):
            action.help = action.help.replace("``", "")
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                if not sub.description and helps.get(name):
                    sub.description = helps[name][0].upper() + helps[name][1:] + "."
                _plain(sub)


def _unknown_arguments(parser: argparse.ArgumentParser, args, extras: list[str]) -> None:
    """Refuse unrecognised arguments in the (sub)command's own voice, with a close match."""
    import difflib
    p = parser
    while True:  # down to the subcommand that was chosen (seqlm data info ...)
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, subs[0].dest, None) if subs else None
        if name not in (subs[0].choices if subs else {}):
            break
        p = subs[0].choices[name]
    options = [o for a in p._actions for o in a.option_strings if o not in ("-h", "--help")]
    flag = next((e.split("=")[0] for e in extras if e.startswith("--")), None)
    close = difflib.get_close_matches(flag, options, n=1) if flag else []
    if flag and "--lr" in options:  # another tool's name for a training setting (--learning-rate)
        from seqlm.train.settings import suggest
        other = suggest(flag[2:])
        close = [f"--{other}"] if other and f"--{other}" in options else close
    hint = f"; did you mean {close[0]}?" if close else ""
    p.error(f"unrecognized arguments: {' '.join(extras)}{hint}")


def _on_sigterm(signum, frame):
    raise Interrupted("terminated", signum)  # unwinds like Ctrl-C: temporary files are removed


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv[: argv.index("--") if "--" in argv else len(argv)]
    if debug:  # accepted anywhere on the line, not only before the command
        argv.remove("--debug")
    args, extras = parser.parse_known_args(argv)
    args.debug = debug
    if extras:
        _unknown_arguments(parser, args, extras)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    prefix = f"seqlm {args.command}"

    def show(message, category, filename, lineno, file=None, line=None):
        word = "note" if issubclass(category, SeqlmWarning) else "warning"
        print(f"{prefix}: {word}: {str(message).splitlines()[0] if str(message) else ''}", file=sys.stderr)

    import signal
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", SeqlmWarning)
            warnings.showwarning = show
            return int(args.func(args) or 0)
    except SeqlmError as err:
        if args.debug:
            raise
        print(f"{prefix}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `seqlm ... | head`: the reader left; that is not an error. Point stdout
        # at devnull so the interpreter's final flush does not raise again.
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:  # the disk is full, a file vanished, a permission: the user's to fix
        if args.debug:
            raise
        where = f"{err.filename}: " if err.filename else ""
        print(f"{prefix}: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:  # Ctrl-C (130) or SIGTERM (143)
        signum = getattr(stop, "signum", signal.SIGINT)
        print(f"{prefix}: {'terminated' if signum == signal.SIGTERM else 'interrupted'}", file=sys.stderr)
        return 128 + int(signum)
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
