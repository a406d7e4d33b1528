"""The one exception type for user errors.

A ``SeqlmError`` is something the user can fix: a bad path, a file that is not
UTF-8, a flag value out of range, a checkpoint from another vocabulary. The CLI
prints its message as one line on stderr and exits with status 2. Anything else
is a bug and keeps its traceback.
"""


class SeqlmError(Exception):
    """A user error; ``str(err)`` is one line that says what and where."""


def require(condition: bool, message: str) -> None:
    """Raise ``SeqlmError(message)`` unless ``condition`` holds."""
    if not condition:
        raise SeqlmError(message)


class SeqlmWarning(UserWarning):
    """Something the user should know that does not stop the command (a fallback,
    a setting changed on resume); the CLI prints it as one line."""


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM) stopped a command after it saved what it could;
    ``signum`` gives the CLI its exit status, 128 + signum (130, 143)."""

    def __init__(self, message: str = "interrupted", signum: int = 2) -> None:
        super().__init__(message)
        self.signum = int(signum)
