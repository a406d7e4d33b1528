"""What crosses between the grader and the learner's process: values as JSON + ``.npz``.

Standalone on purpose (the standard library and NumPy only): the learner's process
imports this file from its own copy, with no ``seqlm`` on its path. Nothing here can
execute code while decoding — JSON for the structure, ``np.load(allow_pickle=False)``
for the arrays — so a value forged by the learner's process is at worst a wrong
answer, never a way into the grader.

A frame on a pipe is ``b"SQLM"``, the header length (4 bytes) and the array blob
length (8 bytes), big-endian, then the JSON header and the ``.npz`` blob.
"""
from __future__ import annotations

import io
import json
import math
import os
import select
import struct
import time

import numpy as np

MAGIC = b"SQLM"
MAX_HEADER = 4 << 20  # bytes of JSON in one frame
MAX_BLOB = 1 << 30  # bytes of arrays in one frame
MAX_DEPTH, MAX_ITEMS = 8, 100_000


class WireError(Exception):
    """A frame that is not what the other side should have sent (torn, forged, too big)."""


# ---------------------------------------------------------------------------- values

def _float(x: float):
    return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.items = 0

    def array(self, arr: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.ascontiguousarray(arr)
        return key

    def __call__(self, v, depth: int = 0) -> dict:
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            return {"t": "object", "name": "a structure too deep or too large"}
        if v is None:
            return {"t": "none"}
        if isinstance(v, bool):
            return {"t": "bool", "v": v}
        if isinstance(v, int):
            return {"t": "int", "v": v} if abs(v) < 1 << 62 else {"t": "float", "v": _float(float(v))}
        if isinstance(v, float):
            return {"t": "float", "v": _float(v)}
        if isinstance(v, str):
            return {"t": "str", "v": v[:2000]}
        if isinstance(v, (np.ndarray, np.generic)):
            arr = np.asarray(v)
            if arr.dtype.kind not in "biufc":
                return {"t": "object", "name": f"a NumPy array of dtype {arr.dtype}"}
            return {"t": "ndarray", "k": self.array(arr), "scalar": isinstance(v, np.generic)}
        if type(v).__module__.startswith("torch") and hasattr(v, "detach") and hasattr(v, "dtype"):
            t = v.detach().cpu()
            name = str(t.dtype).replace("torch.", "")
            if name in ("bfloat16",):
                t = t.float()
            try:
                arr = t.numpy()
            except Exception:  # a dtype NumPy has no twin for
                return {"t": "object", "name": f"a torch tensor of dtype {name}"}
            return {"t": "tensor", "k": self.array(arr), "dtype": name,
                    "requires_grad": bool(v.requires_grad)}
        if isinstance(v, (tuple, list)):
            return {"t": type(v).__name__ if type(v) in (tuple, list) else "list",
                    "items": [self(x, depth + 1) for x in list(v)[:MAX_ITEMS]]}
        if isinstance(v, dict):
            return {"t": "dict", "items": [[self(k, depth + 1), self(x, depth + 1)]
                                           for k, x in list(v.items())[:MAX_ITEMS]]}
        return {"t": "object", "name": type(v).__name__}


def encode(value) -> tuple[dict, dict[str, np.ndarray]]:
    """``value`` as (JSON-able structure, arrays by key)."""
    enc = _Encoder()
    return enc(value), enc.arrays


class Opaque:
    """A value the other side could not send as data (an object, a function, ...)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


def decode(tree, arrays, tensor=None):
    """The value :func:`encode` described. ``tensor(array, meta)`` rebuilds a tensor
    (the grader passes one that makes a torch tensor; by default the array itself)."""
    def go(node, depth=0):
        if depth > MAX_DEPTH + 1 or not isinstance(node, dict):
            raise WireError("a malformed value")
        t = node.get("t")
        if t == "none":
            return None
        if t in ("bool", "int", "str"):
            return node["v"]
        if t == "float":
            v = node["v"]
            return float(v) if isinstance(v, (str, int, float)) else math.nan
        if t in ("ndarray", "tensor"):
            arr = arrays.get(node.get("k"))
            if arr is None:
                raise WireError("a value names an array the frame does not hold")
            if t == "tensor":
                return tensor(arr, node) if tensor else arr
            return arr[()] if node.get("scalar") else arr
        if t in ("tuple", "list"):
            items = [go(x, depth + 1) for x in node["items"]]
            return tuple(items) if t == "tuple" else items
        if t == "dict":
            out = {}
            for k, v in node["items"]:
                key = go(k, depth + 1)
                out[key if isinstance(key, (str, int, float, bool, type(None))) else repr(key)] = go(v, depth + 1)
            return out
        if t == "object":
            return Opaque(str(node.get("name", "object"))[:200])
        raise WireError(f"an unknown value type {t!r}")
    try:
        return go(tree)
    except (KeyError, TypeError, ValueError) as err:
        raise WireError(f"a malformed value ({type(err).__name__})") from None


# ---------------------------------------------------------------------------- frames

def pack(header: dict, arrays: dict[str, np.ndarray] | None = None) -> bytes:
    """One frame: the header (JSON) and the arrays (``.npz``, uncompressed)."""
    head = json.dumps(header, allow_nan=False).encode("utf-8")
    blob = b""
    if arrays:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        blob = buf.getvalue()
    return MAGIC + struct.pack(">IQ", len(head), len(blob)) + head + blob


def send(fd: int, header: dict, arrays: dict[str, np.ndarray] | None = None) -> None:
    data = memoryview(pack(header, arrays))
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    parts, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise TimeoutError
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def receive(fd: int, deadline: float | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """The next frame on ``fd`` (TimeoutError past ``deadline`` on the monotonic clock,
    EOFError when the other side is gone, WireError when the frame is not one)."""
    start = _read_exact(fd, 16, deadline)
    if start[:4] != MAGIC:
        raise WireError("not a frame")
    n_head, n_blob = struct.unpack(">IQ", start[4:])
    if n_head > MAX_HEADER or n_blob > MAX_BLOB:
        raise WireError(f"a frame of {n_head + n_blob} bytes, more than the grader reads")
    try:
        header = json.loads(_read_exact(fd, n_head, deadline).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WireError("a frame whose header is not JSON") from None
    arrays: dict[str, np.ndarray] = {}
    if n_blob:
        blob = _read_exact(fd, n_blob, deadline)
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as err:  # a forged or torn archive is a wrong answer, nothing more
            raise WireError(f"a frame whose arrays do not load ({type(err).__name__})") from None
    if not isinstance(header, dict):
        raise WireError("a frame whose header is not an object")
    return header, arrays
