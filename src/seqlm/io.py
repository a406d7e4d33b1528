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
import errno
import glob
import json
import os
import re
import shutil
import signal
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from seqlm.errors import SeqlmError

# mkstemp/mkdtemp create 0600/0700 entries; artifacts get the usual permissions
# (0666/0777 minus the umask), like a plain open() or mkdir() would give them.
_UMASK = os.umask(0)
os.umask(_UMASK)


# ------------------------------------------------------------------ write points
# Every file seqlm writes passes one of these points (atomic_path, atomic_dir,
# append_line). The crash-point tests set SEQLM_FAULT_LOG=FILE to list them and
# SEQLM_FAULT="N:ACTION" to make the N-th point of the process kill it (kill,
# term) or fail as a full disk or a broken one would (enospc, eio).
FAULT_ENV, FAULT_LOG_ENV = "SEQLM_FAULT", "SEQLM_FAULT_LOG"
_POINTS = [0]
USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG,
               errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTDIR, errno.EISDIR}


def write_point(path: Path) -> None:
    """Where ``path`` is about to be committed: the fault-injection hook (a no-op
    unless one of the two environment variables is set)."""
    spec, log = os.environ.get(FAULT_ENV), os.environ.get(FAULT_LOG_ENV)
    if not spec and not log:
        return
    _POINTS[0] += 1
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\t{_POINTS[0]}\t{path}\n")
    where, _, action = (spec or "").partition(":")
    if where.isdigit() and int(where) == _POINTS[0]:
        if action in ("kill", "term"):
            os.kill(os.getpid(), signal.SIGKILL if action == "kill" else signal.SIGTERM)
            time.sleep(5)  # the signal arrives
        code = {"enospc": errno.ENOSPC, "eio": errno.EIO}.get(action, errno.EIO)
        raise OSError(code, os.strerror(code), str(path))


def user_error(err: BaseException, path: Path) -> SeqlmError | None:
    """The one-line SeqlmError for a write of ``path`` that failed for a reason the user
    can fix (a full disk, permissions, ...), naming ``path`` — not the temporary file."""
    if isinstance(err, OSError) and err.errno in USER_ERRNOS:
        return SeqlmError(f"{path}: cannot write ({err.strerror or err})")
    if type(err).__name__ == "SafetensorError":  # safetensors reports I/O errors as its own type
        return SeqlmError(f"{path}: cannot write ({str(err).splitlines()[0] if str(err) else 'I/O error'})")
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_leftovers(path: Path) -> None:
    """Remove the temporary siblings of ``path`` (``.NAME.PID.*.tmp``) whose writer has
    died: what a kill during an atomic write leaves behind."""
    if not path.parent.is_dir():
        return
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        m = re.match(rf"^\.{re.escape(path.name)}\.(\d+)\.", tmp.name)
        if m and (int(m.group(1)) == os.getpid() or _pid_alive(int(m.group(1)))):
            continue  # a live writer's (or this process's own)
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    Use it for writers that want a filename (``safetensors.save_file``, ``savefig``).
    On an exception the temporary file is removed; a full disk or another I/O error
    the user can fix becomes one SeqlmError naming ``path``. The file gets the mode a
    plain ``open()`` would give it under the umask (safetensors itself writes 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # after the writer, which may have replaced the file
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        write_point(path)
        os.replace(tmp_path, path)
    except BaseException as err:
        tmp_path.unlink(missing_ok=True)
        mapped = user_error(err, path)
        if mapped is not None:
            raise mapped from None
        raise


def append_line(path: str | os.PathLike, line: str) -> None:
    """Append one line to ``path`` (created with the umask's mode), never through a
    symbolic link; an I/O error becomes one SeqlmError naming ``path``."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        write_point(path)
        fd = os.open(path, flags, 0o666 & ~_UMASK)
        try:
            os.write(fd, (line.rstrip("\n") + "\n").encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise SeqlmError(f"{path}: is a symbolic link; seqlm appends only to its own files") from None
        raise user_error(err, path) or err


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
    sweep_leftovers(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        yield tmp
        for f in tmp.rglob("*"):  # whatever a writer made 0600 (safetensors) gets the umask's mode
            if f.is_file() and not f.is_symlink():
                os.chmod(f, 0o666 & ~_UMASK)
        write_point(path)
        old = path.with_name(path.name + ".old")
        if path.exists() or path.is_symlink():
            if old.exists() or old.is_symlink():  # left by an earlier kill after the swap
                _remove(old)
            os.replace(path, old)
        # else an ``old`` is the only complete copy: it goes only once the new one is in place
        os.replace(tmp, path)
        if old.exists() or old.is_symlink():
            _remove(old)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        mapped = user_error(err, path)
        if mapped is None and isinstance(err, SeqlmError) and str(tmp) in str(err):
            mapped = SeqlmError(str(err).replace(str(tmp), str(path)))  # name the place, not the scratch
        if mapped is not None:
            raise mapped from None
        raise


def _remove(p: Path) -> None:
    """Delete ``p``: a directory tree of ours, or only the link when it is a symlink."""
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    else:
        p.unlink()


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
    if old.is_symlink():
        old.unlink()  # never followed
    elif old.is_dir():
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
VIRTUAL_FS = ("/proc", "/sys", "/dev")   # kernel interfaces, never a place for files
SCRATCH = ("/dev/shm",)                  # ... except this memory filesystem under /dev


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
    if path.is_symlink() and not path.exists():
        raise SeqlmError(f"{path}: {what} is a symbolic link to {os.readlink(path)}, which does not exist")
    scratch = any(full == Path(s) or Path(s) in full.parents for s in SCRATCH)
    for v in VIRTUAL_FS:
        if not scratch and (full == Path(v) or Path(v) in full.parents):
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
LOCK_TEXT = re.compile(rb"pid \d+ on ")  # what a seqlm lock holds: "pid N on HOST: command"
_HELD: dict[str, list] = {}   # resolved directory -> [fd, depth]: re-entrant within a process


def _open_lock(file: Path) -> tuple[int, bool]:
    """(descriptor, created) of the lock file, opened the way git and PostgreSQL open
    theirs: created exclusively, never through a symbolic link; an existing one is
    used only when it is a plain file of ours that a seqlm lock wrote (a killed run's)."""
    nofollow = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(file, os.O_RDWR | os.O_CREAT | os.O_EXCL | nofollow, 0o666 & ~_UMASK), True
    except FileExistsError:
        pass
    try:
        fd = os.open(file, os.O_RDWR | nofollow | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        kind = "a symbolic link" if os.path.islink(file) else f"not openable ({e.strerror})"
        raise SeqlmError(f"{file}: is {kind}, not a lock file seqlm made; remove it, or choose another "
                         "directory") from None
    st = os.fstat(fd)
    problem = ("not a regular file" if not stat.S_ISREG(st.st_mode) else
               "another user's file" if hasattr(os, "geteuid") and st.st_uid != os.geteuid() else
               "a file with other hard links" if st.st_nlink != 1 else None)
    if problem is None:
        head = os.pread(fd, 200, 0) if hasattr(os, "pread") else b""
        if head and not LOCK_TEXT.match(head):
            problem = "a file with other contents"
    if problem:
        os.close(fd)
        raise SeqlmError(f"{file}: is {problem}, not a lock file seqlm made; remove it, or choose another "
                         "directory")
    return fd, False


@contextlib.contextmanager
def lock_dir(path: str | os.PathLike, command: str = "seqlm") -> Iterator[Path]:
    """Hold ``DIR/.seqlm.lock`` exclusively while the block runs; a second process
    is refused in one line that names the holder. The lock is an ``fcntl.flock``,
    which the kernel drops when its holder dies: a lock file left by a killed run
    is taken over. The file is created with ``O_EXCL | O_NOFOLLOW``; a symbolic
    link, a device, another user's file, a hard link or a file with other contents
    in its place is refused, never truncated or followed. Re-entrant within one
    process. (Without ``fcntl``, on Windows, nothing is locked.)"""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise SeqlmError(f"{path}: is a symbolic link to {os.readlink(path)}, which does not exist")
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
        fd, created = _open_lock(file)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "unknown process"
            os.close(fd)
            raise SeqlmError(f"{path}: in use by another seqlm process ({holder}); wait for it to "
                             "finish or stop it, or choose another directory") from None
        try:  # the holder before us may have unlinked the file between our open and flock
            same = os.lstat(file).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)  # ours: created now, or a killed seqlm run's (checked above)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}: {command}\n".encode(), 0)
    _HELD[key] = [fd, 1]
    try:
        yield path
    finally:
        del _HELD[key]
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(file).st_ino == os.fstat(fd).st_ino:  # never another file put in its place
                file.unlink()
        os.close(fd)
