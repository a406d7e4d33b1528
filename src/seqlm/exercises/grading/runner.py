"""The learner's process: load the submission, answer the grader's requests, nothing else.

    python -I runner.py CONFIG.json

Standalone (the standard library, NumPy, torch): it runs from a private copy, with no
``seqlm`` importable. The grader (:mod:`seqlm.exercises.grading.sandbox`) sends a
request per call on one pipe and reads the answer on another; expected values,
tolerances, other cases and verdicts never come here. Before any learner code runs:

- NumPy (and torch) are imported, so their start-up is nobody's case time; this process
  becomes the *subreaper* of what it starts (Linux): no child slips out of the tree;
- an audit hook (PEP 578: it cannot be removed) refuses, for the rest of the process
  and its forks, starting other programs, network sockets, ctypes, walking the
  garbage collector, writing outside the working directory, signalling processes
  outside the tree — and reports every attempt to use seqlm (an import by any
  spelling, reading its files) on a third pipe, which the grader turns into a flag;
- the address space, core files and file sizes are capped; prints are bounded per case.
"""
from __future__ import annotations

import io
import json
import os
import resource
import signal
import sys
import time
import traceback
import types

KEEP_OUTPUT, FLAG_EXIT = 2000, 87  # characters of a call's prints sent back; the status when a flag can't be


class CaseTimeout(BaseException):
    """Raised by the call timer; a BaseException so that ``except Exception`` in learner
    code does not swallow it (a loop that swallows it anyway is killed by the grader)."""


class OutputLimit(BaseException):
    """Raised when a call has printed more than its limit."""


class BoundedStream(io.TextIOBase):
    """Keeps the first characters of each call's prints, copies them to fd 1 (so the
    last lines survive a crash) and raises :class:`OutputLimit` past ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit, self.written, self.kept, self.kept_chars = limit, 0, [], 0

    def writable(self) -> bool:
        return True

    def write(self, s) -> int:
        s = str(s)
        data = s.encode("utf-8", "replace")
        self.written += len(data)
        if self.kept_chars < KEEP_OUTPUT:
            self.kept.append(s[: KEEP_OUTPUT - self.kept_chars])
            self.kept_chars += len(self.kept[-1])
        if self.written > self.limit:
            raise OutputLimit()
        try:
            os.write(1, data)
        except OSError:  # past RLIMIT_FSIZE: the kept part is what counts
            pass
        return len(s)

    def take(self) -> str:
        out = "".join(self.kept)
        self.written, self.kept, self.kept_chars = 0, [], 0
        return out


# ---------------------------------------------------------------------------- the guard

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
REFUSED = {"subprocess.Popen": "start other programs", "os.system": "start other programs",
           "os.exec": "start other programs", "os.posix_spawn": "start other programs",
           "os.spawn": "start other programs", "pty.spawn": "start other programs",
           "os.forkpty": "start other programs", "socket.connect": "open network connections",
           "socket.bind": "open network connections", "socket.sendto": "open network connections",
           "gc.get_objects": "walk the garbage collector",
           "gc.get_referrers": "walk the garbage collector", "gc.get_referents": "walk the garbage collector"}
# the arguments that name a file changed: os.symlink's target and a copy's source are only read
WRITES = {"os.remove": (0,), "os.rename": (0, 1), "os.rmdir": (0,), "os.mkdir": (0,), "os.chmod": (0,),
          "os.chown": (0,), "os.link": (0, 1), "os.symlink": (1,), "os.truncate": (0,), "os.utime": (0,),
          "shutil.rmtree": (0,), "shutil.move": (0, 1), "shutil.copyfile": (1,), "shutil.copytree": (1,)}


class Guard:
    """The audit hook's policy. Its state lives in this object's closure-free slots; the
    hook refuses every way Python offers to reach it (gc walking, ctypes)."""

    def __init__(self, cfg: dict, flag_fd: int) -> None:
        self.protected = tuple(os.path.realpath(p) for p in cfg["protected"])
        self.allowed_modules = frozenset(cfg["allowed_modules"])
        self.writable = tuple(os.path.realpath(p) for p in cfg["writable"]) + ("/dev/null",)
        self.flag_fd, self.flag_ino = flag_fd, os.fstat(flag_fd).st_ino
        self.root_pid, self.busy = os.getpid(), False

    def _under(self, path, roots) -> bool:
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return any(real == r or real.startswith(r + os.sep) for r in roots)

    def flag(self, what: str) -> None:
        line = (json.dumps({"flag": what[:300]}) + "\n").encode("utf-8")
        try:
            if os.fstat(self.flag_fd).st_ino != self.flag_ino:
                raise OSError("the flag pipe was replaced")
            os.write(self.flag_fd, line)
        except OSError:
            os._exit(FLAG_EXIT)

    def _in_tree(self, pid: int) -> bool:
        if pid in (0, os.getpid()):
            return True
        for _ in range(64):  # walk up the parents: is this one of ours?
            try:
                with open(f"/proc/{pid}/stat", "rb") as fh:
                    pid = int(fh.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                return False
            if pid == self.root_pid:
                return True
            if pid <= 1:
                return False
        return False

    def __call__(self, event: str, args: tuple) -> None:
        if self.busy:
            return
        self.busy = True
        try:
            self.check(event, args)
        finally:
            self.busy = False

    def check(self, event: str, args: tuple) -> None:
        if event == "import":
            name = str(args[0])
            if (name == "seqlm" or name.startswith("seqlm.")) and name not in self.allowed_modules:
                self.flag(f"import {name}")
                raise ModuleNotFoundError(f"No module named {name!r} (seqlm is not available to graded code)")
        elif event in ("open", "os.listdir", "os.scandir", "glob.glob", "os.chdir"):
            path = args[0] if args else None
            if path is None or isinstance(path, int):
                return
            if self._under(path, self.protected):
                self.flag(f"read {os.fsdecode(path)}")
                raise PermissionError(f"{os.fsdecode(path)}: seqlm's files are not available to graded code")
            if event == "open" and self._writes(args) and not self._under(path, self.writable):
                raise PermissionError(f"{os.fsdecode(path)}: graded code may write only in its working directory")
        elif event in WRITES:
            for path in (args[i] for i in WRITES[event] if i < len(args)):
                if isinstance(path, (str, bytes, os.PathLike)) and not self._under(path, self.writable):
                    raise PermissionError(f"{os.fsdecode(path)}: graded code may change files only in "
                                          "its working directory")
        elif event in REFUSED or event.startswith("ctypes."):
            what = REFUSED.get(event, "use ctypes")
            raise PermissionError(f"graded code may not {what} ({event})")
        elif event in ("os.kill", "os.killpg"):
            if not self._in_tree(int(args[0])):
                raise PermissionError("graded code may signal only its own processes")

    @staticmethod
    def _writes(args) -> bool:  # open(path, mode, flags): a mode with w/a/x/+, or write flags
        mode, flags = (args + (None, None))[1:3]
        if isinstance(mode, str) and any(c in mode for c in "wax+"):
            return True
        return isinstance(flags, int) and bool(flags & WRITE_FLAGS)


class SeqlmBlocker:
    """First on ``sys.meta_path``: a seqlm module the exercise does not name is not found,
    even where the installed package would be; the attempt is flagged."""

    def __init__(self, allowed, guard: "Guard") -> None:
        self.allowed, self.guard = frozenset(allowed), guard

    def find_spec(self, name, path=None, target=None):
        if (name == "seqlm" or name.startswith("seqlm.")) and name not in self.allowed:
            self.guard.flag(f"import {name}")  # importlib.import_module raises no audit event
            raise ModuleNotFoundError(f"No module named {name!r} (seqlm is not available to graded code)",
                                      name=name)
        return None


# ---------------------------------------------------------------------------- set-up

def _subreaper() -> None:
    """Orphans of the submission become our children, not init's (Linux only)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError, ImportError):
        pass


def _limits(cfg: dict) -> None:
    mem = cfg["memory_mb"] * 1024 * 1024
    cap = 4 * cfg["output_bytes"] + (1 << 20)
    for which, value in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, cap)):
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):  # some platforms refuse some limits; the grader's watch holds
            pass
    if cfg.get("nproc"):
        try:
            resource.setrlimit(resource.RLIMIT_NPROC, (cfg["nproc"], cfg["nproc"]))
        except (ValueError, OSError):
            pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _setup(cfg: dict) -> Guard:
    import numpy  # noqa: F401  (imported before the guard: start-up is nobody's case time)
    if cfg.get("torch"):
        import torch
        torch.set_num_threads(max(1, cfg["threads"]))
    sys.path[:] = [cfg["helpers"]] + [p for p in sys.path if p and os.path.realpath(p) not in cfg["hidden_paths"]]
    for name in [m for m in sys.modules if m == "seqlm" or m.startswith("seqlm.")]:
        del sys.modules[name]
    guard = Guard(cfg, cfg["fds"]["flag"])
    sys.meta_path.insert(0, SeqlmBlocker(cfg["allowed_modules"], guard))
    _subreaper()
    _limits(cfg)
    sys.addaudithook(guard)
    return guard


# ---------------------------------------------------------------------------- messages

def _where(tb, names) -> str:
    """' (file line N)' for the deepest frame of the traceback inside the submission."""
    place = None
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename in names:
            place = (frame.f_code.co_filename, lineno)
    return f" ({place[0]}, line {place[1]})" if place else ""


def describe(err: BaseException, names, seconds: float, cfg: dict) -> tuple[str, str]:
    """(status, one-line message) for an exception that escaped learner code."""
    where = _where(err.__traceback__, names)
    if isinstance(err, CaseTimeout):
        return "timeout", f"did not finish within {seconds:g} s (an endless loop?)"
    if isinstance(err, OutputLimit):
        return "error", (f"printed more than {cfg['output_bytes'] // 1024} KiB of output{where}; "
                         "remove the prints from loops")
    if isinstance(err, MemoryError) or "can't allocate memory" in str(err):
        return "error", f"ran out of memory (the limit is {cfg['memory_mb']} MiB){where}"
    if isinstance(err, SystemExit):
        return "error", f"called exit() or sys.exit(){where}"
    if isinstance(err, NotImplementedError):
        return "error", "not implemented yet: NotImplementedError" + where
    if isinstance(err, SyntaxError):
        return "error", f"SyntaxError: {err.msg} ({err.filename}, line {err.lineno})"
    text = " ".join(str(err).split())[:300]
    return "error", f"raised {type(err).__name__}" + (f": {text}" if text else "") + where


# ---------------------------------------------------------------------------- notebooks

class Shell:
    """What ``get_ipython()`` answers in a graded notebook: magics that run Python
    (%%time, %%capture, %time x = ...) run it; shell lines, other magics and help
    requests (``obj?``) do nothing, and are listed in the load notes."""

    PYTHON_MAGICS = ("time", "timeit", "capture", "prun")

    def __init__(self, namespace: dict, notes: list) -> None:
        self.ns, self.notes = namespace, notes

    def _skip(self, what: str) -> None:
        if len(self.notes) < 20:
            self.notes.append(f"skipped {what}")

    def run_line_magic(self, name, line, *args, **kwargs):
        if name in self.PYTHON_MAGICS and line.strip():
            exec(compile(line, "<magic>", "exec"), self.ns)
        elif name not in ("pinfo", "pinfo2", "matplotlib"):
            self._skip(f"%{name}")

    def run_cell_magic(self, name, line, cell):
        if name in self.PYTHON_MAGICS:
            exec(compile(cell, "<magic>", "exec"), self.ns)
        elif name == "writefile" and line.strip():
            with open(line.split()[-1], "w", encoding="utf-8") as fh:
                fh.write(cell)
        else:
            self._skip(f"%%{name}")

    def system(self, cmd, *args, **kwargs):
        self._skip(f"!{cmd}"[:60])
        return 0

    def getoutput(self, cmd, *args, **kwargs):
        self._skip(f"!{cmd}"[:60])
        return []


def load(cfg: dict, stream: BoundedStream):
    """Import the submission as the module ``submission``: a .py file at once; a
    notebook cell by cell, where a cell that raises or runs past its limit is a note
    and the next cell still runs (top-level experiments must not break grading)."""
    sub = cfg["submission"]
    module = types.ModuleType("submission")
    module.__file__ = sub["path"]
    sys.modules["submission"] = module
    notes: list[str] = []
    if sub["kind"] == "py":
        with open(sub["path"], encoding="utf-8", errors="replace") as fh:
            exec(compile(fh.read(), sub["label"], "exec"), module.__dict__)
        return module, notes
    module.__dict__["get_ipython"] = lambda: Shell(module.__dict__, notes)
    module.__dict__["display"] = lambda *a, **k: None
    for cell in sub["cells"]:
        signal.setitimer(signal.ITIMER_REAL, cfg["cell_seconds"])
        try:
            exec(compile(cell["source"], cell["label"], "exec"), module.__dict__)
        except (CaseTimeout, Exception) as err:
            if isinstance(err, CaseTimeout):
                notes.append(f"{cell['label']}: stopped after {cfg['cell_seconds']:g} s (its top-level code "
                             "is not graded)")
            else:
                _, msg = describe(err, cfg["names"], cfg["cell_seconds"], cfg)
                notes.append(f"{cell['label']}: {msg}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return module, notes


# ---------------------------------------------------------------------------- the loop

def _on_alarm(signum, frame):
    raise CaseTimeout()


def serve(cfg: dict, wire, drivers) -> int:
    req, rep = cfg["fds"]["request"], cfg["fds"]["reply"]
    stream = BoundedStream(cfg["output_bytes"])
    sys.stdout = sys.stderr = stream
    signal.signal(signal.SIGALRM, _on_alarm)
    module, store = None, {}
    while True:
        try:
            header, arrays = wire.receive(req)
        except (EOFError, OSError, wire.WireError):
            return 0
        op, seconds = header.get("op"), float(header.get("seconds", 10.0))
        if op == "bye":
            return 0
        if header.get("new_case"):
            store = {}
        stream.take()
        t0 = time.perf_counter()
        reply: dict = {"status": "ok"}
        out_arrays: dict = {}
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            if op == "load":
                module, notes = load(cfg, stream)
                reply["notes"] = notes
            else:
                args = wire.decode(header["args"], arrays)
                value = drivers.DRIVERS[header["driver"]](module, store, **args)
                signal.setitimer(signal.ITIMER_REAL, 0)
                reply["value"], out_arrays = wire.encode(value)
        except drivers.Missing as err:
            reply = {"status": "missing", "message": str(err)}
        except BaseException as err:  # everything learner code can do ends here
            status, message = describe(err, cfg["names"], seconds, cfg)
            reply = {"status": status, "message": message}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        reply["output"] = stream.take()
        reply["seconds"] = round(time.perf_counter() - t0, 4)
        try:
            wire.send(rep, reply, out_arrays)
        except (OSError, ValueError):
            return 0


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as fh:
        cfg = json.load(fh)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    import drivers  # noqa: E402  (the runtime's own copies, beside this file)
    import wire
    _setup(cfg)
    return serve(cfg, wire, drivers)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
