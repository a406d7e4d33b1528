"""A safetensors file's tensor table, read from its header alone, and checked against
the shapes a ``config.json`` implies before a single weight is allocated.

A crafted ``config.json`` (``hidden_size`` 60,000) or a ``model.safetensors`` that lies
about its sizes would otherwise make a loader build a model of tens of gigabytes, or
read past the file, before it could notice. Here the expected shapes come from the
model built on torch's ``meta`` device (no memory), and every header entry is checked
against the file's size.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from seqlm.errors import SeqlmError
from seqlm.lm.build import build_model


def corrupt(where, what: str) -> SeqlmError:
    """The one error of a damaged checkpoint: ``corrupt checkpoint: FILE: what``."""
    return SeqlmError(f"corrupt checkpoint: {where}: {what}")


# What safetensors' dtype names cost per element (the ones seqlm writes, and their kin).
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                "BOOL": 1}
_TORCH_DTYPE = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}
MAX_HEADER = 100 << 20


def read_header(file: Path) -> dict:
    """The tensor table of a safetensors file — {name: (dtype, shape)} — read from its
    header alone and checked against the file's size: nothing is allocated from it."""
    try:
        size = file.stat().st_size
        with open(file, "rb") as fh:
            head = fh.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 0 < n <= min(MAX_HEADER, size - 8):
                raise corrupt(file, f"not a safetensors file (header of {n} bytes in a file of {size})")
            table = json.loads(fh.read(n).decode("utf-8"))
    except OSError as e:
        raise corrupt(file, f"unreadable ({e.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise corrupt(file, "not a safetensors file (its header is not JSON)") from None
    if not isinstance(table, dict):
        raise corrupt(file, "not a safetensors file (its header is not a table)")
    out, data = {}, size - 8 - n
    for name, t in table.items():
        if name == "__metadata__":
            continue
        ok = (isinstance(t, dict) and t.get("dtype") in _DTYPE_BYTES and isinstance(t.get("shape"), list)
              and all(isinstance(d, int) and d >= 0 for d in t["shape"]) and isinstance(t.get("data_offsets"), list)
              and len(t["data_offsets"]) == 2 and all(isinstance(o, int) for o in t["data_offsets"]))
        if not ok:
            raise corrupt(file, f"{name}: not a tensor entry")
        begin, end = t["data_offsets"]
        if not 0 <= begin <= end <= data or end - begin != math.prod(t["shape"]) * _DTYPE_BYTES[t["dtype"]]:
            raise corrupt(file, f"{name}: its size does not match the file ({t['shape']} {t['dtype']}, "
                                f"bytes {begin}..{end} of {data})")
        out[name] = (t["dtype"], tuple(t["shape"]))
    return out


def check_header(model_config: dict, file: Path) -> None:
    """Compare the weights' table with the shapes config.json implies, on torch's meta
    device: a crafted config (hidden_size 6000) is refused before one byte is allocated."""
    table = read_header(file)
    try:
        with torch.device("meta"):
            expected = build_model(model_config).state_dict()
    except SeqlmError as e:  # a config its class refuses
        raise corrupt(file.parent / "config.json", str(e)) from None
    for k, v in table.items():
        if k not in expected:
            raise corrupt(file, f"weights do not match config.json (unexpected {k})")
        want = (_TORCH_DTYPE.get(expected[k].dtype, str(expected[k].dtype)), tuple(expected[k].shape))
        if (v[0], v[1]) != want:
            raise corrupt(file, f"{k} is {v[0]} {v[1]}, config.json implies {want[0]} {want[1]}")


