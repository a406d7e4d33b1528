"""The learner's process, from the grader's side: start it, ask it, watch it, end it.

One :class:`Session` is one process running :mod:`runner` from a private copy. The
grader sends a request per call and waits for the answer with a deadline; while it
waits it watches the submission's whole process tree — every process that carries this
session's token in its environment, whatever session or parent it moved to — and ends
all of it when the tree uses more memory or processes than the limits allow, when a
deadline passes, or when grading ends. Nothing the submission does makes these
functions raise anything but :class:`Lost`, or hang.
"""
from __future__ import annotations

import json
import os
import pwd
import secrets
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from seqlm.exercises.grading import wire

RUNTIME = ("runner.py", "wire.py", "drivers.py")  # the files the learner's process runs
TOKEN_VAR = "SEQLM_GRADING"
GRACE = 2.0  # seconds past a call's limit before the process is killed (its own timer fires first)
WATCH_EVERY = 0.05  # seconds between looks at the process tree
FLAG_EXIT = 87  # runner.FLAG_EXIT
SHOWN_LINES = 3  # lines of the process's last output quoted when it dies


@dataclass(frozen=True)
class Limits:
    """What one submission may use: wall time (all its cases), memory and processes of
    its whole process tree, printed bytes per case, CPU threads, and the time its file
    may take to load (a notebook: each cell, and all of them)."""

    seconds: float
    memory_mb: int
    output_bytes: int = 1 << 20
    threads: int = 1
    load_seconds: float = 60.0
    cell_seconds: float = 15.0
    processes: int = 16


class Lost(Exception):
    """The learner's process is gone (killed at a limit, crashed, exited): ``status``
    (timeout | error) and one line that says why."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


# ---------------------------------------------------------------------------- the tree

def _environ_has(pid: str, needle: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return needle in fh.read()
    except OSError:
        return False


class Watch:
    """Every process of one submission, found by the token in its environment (a fork
    keeps it; the grader refuses exec to graded code), measured and ended together."""

    def __init__(self, token: str, limits: Limits) -> None:
        self.needle = f"{TOKEN_VAR}={token}\0".encode()
        self.limits = limits
        self.seen: set[int] = set()
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def pids(self) -> list[int]:
        if not os.path.isdir("/proc"):
            return sorted(self.seen)
        found = [int(p) for p in os.listdir("/proc") if p.isdigit() and _environ_has(p, self.needle)]
        self.seen.update(found)
        return found

    def _rss(self, pid: int) -> int:
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                return int(fh.read().split()[1]) * self.page
        except (OSError, ValueError, IndexError):
            return 0

    def over(self) -> str | None:
        """Why the tree must end now (memory, processes), or None."""
        pids = self.pids()
        if len(pids) > self.limits.processes:
            return f"started more than {self.limits.processes} processes (the limit of one submission)"
        total = sum(self._rss(p) for p in pids)
        if total > self.limits.memory_mb * 1024 * 1024:
            return (f"used {total / 2**20:.0f} MiB across {len(pids)} process{'es' * (len(pids) > 1)}: "
                    f"more than the {self.limits.memory_mb} MiB of one submission")
        return None

    def end_all(self) -> None:
        """SIGKILL every process of the tree until none is left (stopping them first, so
        that none forks while the others die)."""
        for _ in range(100):
            pids = self.pids()
            if not pids:
                return
            for sig in (signal.SIGSTOP, signal.SIGKILL):
                for p in pids:
                    try:
                        os.kill(p, sig)
                    except (ProcessLookupError, PermissionError):
                        pass
            time.sleep(0.01)


# ---------------------------------------------------------------------------- the user

_UNPRIVILEGED: dict[str, int | None] = {}


def unprivileged_uid() -> int | None:
    """When the grader runs as root: the uid of ``nobody`` if that user can run this
    Python with NumPy (checked once); else None (the process keeps the grader's uid,
    and the audit hook's rules are what hold)."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    if "uid" not in _UNPRIVILEGED:
        try:
            uid = pwd.getpwnam("nobody").pw_uid
            ok = subprocess.run([sys.executable, "-I", "-c", "import numpy"], user=uid, group=uid,
                                capture_output=True, timeout=60, cwd="/").returncode == 0
        except (KeyError, OSError, subprocess.SubprocessError):
            ok, uid = False, None
        _UNPRIVILEGED["uid"] = uid if ok else None
    return _UNPRIVILEGED["uid"]


# ---------------------------------------------------------------------------- a session

def _child_env(token: str, limits: Limits, work: Path) -> dict:
    keep = ("PATH", "LANG", "LC_ALL", "HOME", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(max(1, limits.threads))  # BLAS threads also reserve address space
    env.update({TOKEN_VAR: token, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8",
                "PYTHONHASHSEED": "0", "TMPDIR": str(work / "tmp"), "HOME": str(work),
                "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(work / "tmp")})
    return env


class Session:
    """One learner process for one submission (``prepared``: the runner's config less
    its per-session parts), under ``root`` (a private directory the grader owns)."""

    def __init__(self, prepared: dict, root: Path, limits: Limits, n: int) -> None:
        self.cfg, self.limits = dict(prepared), limits
        self.dir = root / f"session{n}"
        self.work = Path(prepared["work"])
        self.flags: list[str] = []
        self.token = secrets.token_hex(16)
        self.watch = Watch(self.token, limits)
        self.proc: subprocess.Popen | None = None
        self.console = self.dir / "console.txt"

    def start(self) -> None:
        self.dir.mkdir()
        r_req, w_req = os.pipe()
        r_rep, w_rep = os.pipe()
        r_flag, w_flag = os.pipe()
        self.cfg["fds"] = {"request": r_req, "reply": w_rep, "flag": w_flag}
        cfg_path = self.dir / "config.json"
        cfg_path.write_text(json.dumps(self.cfg), encoding="utf-8")
        uid = unprivileged_uid()
        cmd = [sys.executable, "-I", str(Path(self.cfg["runtime"]) / "runner.py"), str(cfg_path)]
        try:
            with open(self.console, "wb") as out:
                self.proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=self.work,
                    env=_child_env(self.token, self.limits, self.work), start_new_session=True,
                    pass_fds=(r_req, w_rep, w_flag), user=uid, group=uid)
        finally:
            for fd in (r_req, w_rep, w_flag):
                os.close(fd)
        self.req, self.rep, self.flag_fd = w_req, r_rep, r_flag
        os.set_blocking(self.flag_fd, False)

    def _drain_flags(self) -> None:
        while True:
            try:
                data = os.read(self.flag_fd, 65536)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            for line in data.decode("utf-8", "replace").splitlines():
                try:
                    self.flags.append(str(json.loads(line)["flag"])[:300])
                except (ValueError, KeyError, TypeError):
                    self.flags.append("wrote something unreadable on the grader's flag channel")

    def _last_lines(self) -> str:
        try:
            with open(self.console, "rb") as fh:
                fh.seek(max(0, os.path.getsize(self.console) - 4000))
                lines = [ln for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        except OSError:
            return ""
        return " | ".join(" ".join(ln.split())[:200] for ln in lines[-SHOWN_LINES:])

    def _death(self) -> str:
        rc = self.proc.wait(timeout=5) if self.proc else None
        if rc == FLAG_EXIT:
            self.flags.append("tampered with the grader's flag channel")
        if rc is not None and rc < 0:
            try:
                how = f"was killed by {signal.Signals(-rc).name}"
            except ValueError:
                how = f"was killed by signal {-rc}"
        else:
            how = f"exited with status {rc}"
        tail = self._last_lines()
        return f"the Python process {how}" + (f"; its last output: {tail}" if tail else "")

    def request(self, header: dict, arrays: dict | None, seconds: float) -> tuple[dict, dict]:
        """Send one request and wait for its answer (``seconds`` of the learner's time,
        plus :data:`GRACE`); raise :class:`Lost` when the process is ended or gone."""
        try:
            wire.send(self.req, {**header, "seconds": seconds}, arrays)
        except (BrokenPipeError, OSError):
            self._drain_flags()
            raise Lost("error", self._death()) from None
        deadline = time.monotonic() + seconds + GRACE
        while True:
            self._drain_flags()
            reason = self.watch.over()
            if reason:
                self.end()
                raise Lost("error", reason)
            # wait for the answer to start; then read it whole (a frame interrupted halfway
            # would leave the pipe mid-frame)
            ready, _, _ = select.select([self.rep], [], [], max(0.0, min(deadline - time.monotonic(), WATCH_EVERY)))
            try:
                if not ready:
                    if time.monotonic() < deadline:
                        continue
                    raise TimeoutError
                got = wire.receive(self.rep, deadline)
            except TimeoutError:
                self.end()
                raise Lost("timeout", f"did not finish: killed at the limit of {seconds:g} s") from None
            except (EOFError, OSError, wire.WireError) as err:
                self.end()
                self._drain_flags()
                detail = self._death()
                if isinstance(err, wire.WireError):
                    detail = f"answered with {err}"
                raise Lost("error", detail) from None
            self._drain_flags()
            return got

    def end(self) -> None:
        """End every process of the submission and close the pipes."""
        self.watch.end_all()
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.watch.end_all()

    def close(self) -> None:
        """Say goodbye, then end whatever is left; read the last flags."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                wire.send(self.req, {"op": "bye"})
                self.proc.wait(timeout=1)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.end()
        self._drain_flags()
        for fd in (self.req, self.rep, self.flag_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def install_runtime(root: Path, helpers: dict[str, str]) -> tuple[Path, Path]:
    """Copy the runner's files and the exercise's named helper modules (``{module:
    source}``) under ``root``; returns (runtime dir, helpers dir)."""
    here = Path(__file__).parent
    runtime, shim = root / "runtime", root / "helpers"
    runtime.mkdir()
    shim.mkdir()
    for name in RUNTIME:
        shutil.copyfile(here / name, runtime / name)
    for module, source in helpers.items():
        parts = module.split(".")
        for i in range(1, len(parts)):
            pkg = shim.joinpath(*parts[:i])
            pkg.mkdir(exist_ok=True)
            (pkg / "__init__.py").touch()
        shim.joinpath(*parts[:-1], parts[-1] + ".py").write_text(source, encoding="utf-8")
    return runtime, shim
