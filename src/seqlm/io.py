"""Safe writes: a reader never sees a half-written artifact, and no work is lost.

Everything seqlm writes (vocabularies, checkpoints, results, figures) goes to a
temporary name in the destination directory and is renamed into place, so a
crash or a kill leaves either the old file or the new one, never a torn one
(:func:`atomic_path`, :func:`atomic_dir`; :func:`recover_dir` tidies up after
a kill). Every writing command checks its output location before any work
(:func:`check_output_dir`, :func:`check_output_file`), and a directory that one
process writes is locked against a second (:func:`lock_dir`).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any, Iterator

from seqlm.errors import SeqlmError

# mkstemp/mkdtemp create 0600/0700 entries; artifacts get the usual permissions
# (0666/0777 minus the umask), like a plain open() or mkdir() would give them.
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    Use it for writers that want a filename (``torch.save``, ``savefig``,
    ``safetensors.save_file``). On an exception the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """``open`` for writing, atomically: ``with atomic_open(p) as fh: fh.write(...)``."""
    if "b" in mode:
        encoding = None
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=encoding) as fh:
            yield fh


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> None:
    with atomic_open(path, "w") as fh:
        json.dump(obj, fh, indent=indent, sort_keys=False)
        fh.write("\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Build a directory under a temporary name, then swap it into place.

    If ``path`` already exists it is replaced only after the new one is
    complete (old → ``.old``, new → ``path``, then ``.old`` removed), so a kill
    at any point leaves a complete directory at ``path`` or at ``path.old``
    (:func:`recovered_dir` finds it, :func:`recover_dir` puts it back).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        yield tmp
        old = path.with_name(path.name + ".old")
        if path.exists():
            if old.exists():  # left by an earlier kill after the swap: path is the complete one
                shutil.rmtree(old)
            os.replace(path, old)
        # else an ``old`` is the only complete copy: it goes only once the new one is in place
        os.replace(tmp, path)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def recovered_dir(path: str | os.PathLike) -> Path:
    """``path``, or ``path.old`` where a kill during :func:`atomic_dir`'s swap left
    only that complete copy (read-only: nothing is moved)."""
    path = Path(path)
    old = path.with_name(path.name + ".old")
    return old if not path.exists() and old.is_dir() else path


def recover_dir(path: str | os.PathLike) -> None:
    """Tidy up after a kill during :func:`atomic_dir` or :func:`atomic_path`: put
    ``path.old`` back when it is the only complete copy, drop a stale ``.old``,
    and delete the temporary ``.NAME.*.tmp`` entries beside ``path``. Call it
    while holding the directory's lock (:func:`lock_dir`): another writer's
    temporary files are not leftovers."""
    path = Path(path)
    old = path.with_name(path.name + ".old")
    if old.is_dir():
        if path.exists():
            shutil.rmtree(old)
        else:
            os.replace(old, path)
    if path.parent.is_dir():
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)


# ------------------------------------------------------------------ output locations
VIRTUAL_FS = ("/proc", "/sys")   # kernel interfaces, never a place for files


def check_output_dir(path: str | os.PathLike, what: str = "output directory") -> Path:
    """Refuse, in one line and before any work, a directory seqlm cannot write:
    one under a regular file, on a read-only or virtual filesystem, or without
    write permission. It probes with a temporary file in the nearest existing
    ancestor (removed at once); nothing is created."""
    path = Path(path)
    full = Path(os.path.realpath(path))
    if full.exists() and not full.is_dir():
        raise SeqlmError(f"{path}: {what} exists and is not a directory")
    _check_writable(path, full, what)
    return path


def check_output_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """:func:`check_output_dir` for a file's directory, and the file itself must be
    a regular file if it exists (an atomic write would replace a device node)."""
    path = Path(path)
    full = Path(os.path.realpath(path))
    if full.is_dir():
        raise SeqlmError(f"{path}: {what} is a directory")
    if full.exists() and not full.is_file():
        raise SeqlmError(f"{path}: {what} exists and is not a regular file")
    _check_writable(path, full.parent, what)
    return path


def _check_writable(path: Path, full: Path, what: str) -> None:
    for v in VIRTUAL_FS:
        if full == Path(v) or Path(v) in full.parents:
            raise SeqlmError(f"{path}: {what} on the virtual filesystem {v}; choose a place on disk")
    anc = full
    while not os.path.lexists(anc):
        anc = anc.parent
    if not anc.is_dir():
        raise SeqlmError(f"{path}: cannot create the {what}: {anc} is a file, not a directory")
    try:
        with tempfile.NamedTemporaryFile(prefix=".seqlm-probe.", dir=anc):
            pass
    except OSError as e:
        raise SeqlmError(f"{path}: cannot write the {what} in {anc} ({e.strerror})") from None


# ------------------------------------------------------------------ locks
LOCK_NAME = ".seqlm.lock"
_HELD: dict[str, list] = {}   # resolved directory -> [fd, depth]: re-entrant within a process


@contextlib.contextmanager
def lock_dir(path: str | os.PathLike, command: str = "seqlm") -> Iterator[Path]:
    """Hold ``DIR/.seqlm.lock`` exclusively while the block runs; a second process
    is refused in one line that names the holder. The lock is an ``fcntl.flock``,
    which the kernel drops when its holder dies: a lock file left by a killed run
    is simply taken over. Re-entrant within one process. (Without ``fcntl``, on
    Windows, nothing is locked.)"""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    key = str(path.resolve())
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield path
        finally:
            _HELD[key][1] -= 1
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield path
        return
    file = path / LOCK_NAME
    while True:
        fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "unknown process"
            os.close(fd)
            raise SeqlmError(f"{path}: in use by another seqlm process ({holder}); wait for it to "
                             "finish or stop it, or choose another directory") from None
        try:  # the holder before us may have unlinked the file between our open and flock
            same = os.stat(file).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}: {command}\n".encode())
    _HELD[key] = [fd, 1]
    try:
        yield path
    finally:
        del _HELD[key]
        with contextlib.suppress(FileNotFoundError):
            file.unlink()
        os.close(fd)
