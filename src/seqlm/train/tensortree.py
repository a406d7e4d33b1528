"""A tree of numbers, strings, lists, dicts and tensors stored without pickle.

The trainer's state (step counters, the optimizer's ``state_dict``, RNG states,
the carried hidden state) is such a tree. It is written as two files: the
tensors in a safetensors file, everything else in a JSON file in which each
tensor is replaced by a reference to its name. Reading it parses JSON and
safetensors only, so a crafted file can fail to load but can never run code
(``torch.load``, even with ``weights_only=True``, is an unpickler).

JSON cannot hold everything Python can, so a few values are tagged::

    {"$tensor": "optimizer.state.0.momentum_buffer"}   a tensor of the safetensors file
    {"$tuple": [...]}                                    a tuple (JSON has lists only)
    {"$items": [[key, value], ...]}                      a dict with non-string keys
    {"$float": "inf"}                                    inf, -inf or nan

Writing the same tree twice gives byte-identical files.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from seqlm.errors import SeqlmError
from seqlm.io import write_json

KIND = "seqlm.tensor-tree"
VERSION = 1


def _encode(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        name = path or "root"
        while name in tensors:  # two paths that print alike (1 and "1"): keep both
            name += "#"
        tensors[name] = obj.detach().cpu().clone().contiguous()
        return {"$tensor": name}
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"$float": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, f"{path}.{i}" if path else str(i), tensors) for i, v in enumerate(obj)]
        return {"$tuple": items} if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        plain = all(isinstance(k, str) and not k.startswith("$") for k in obj)
        enc = {k: _encode(v, f"{path}.{k}" if path else str(k), tensors) for k, v in obj.items()}
        return enc if plain else {"$items": [[_encode(k, "", {}), v] for k, v in
                                             zip(obj.keys(), enc.values())]}
    raise TypeError(f"cannot store a {type(obj).__name__} in a tensor tree ({path})")


def save_tree(obj: Any, json_file: Path, tensor_file: Path) -> None:
    """Write ``obj`` as ``json_file`` + ``tensor_file`` (each atomically)."""
    from safetensors.torch import save_file

    from seqlm.io import atomic_path
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(obj, "", tensors)
    with atomic_path(tensor_file) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})  # one key: a stable header
    write_json(json_file, {"kind": KIND, "schema_version": VERSION, "tree": tree})


def _decode(obj: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors, where) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1 and next(iter(obj)).startswith("$"):
        tag, value = next(iter(obj.items()))
        if tag == "$tensor" and isinstance(value, str):
            if value not in tensors:
                raise SeqlmError(f"{where}: tensor {value!r} is missing from the tensor file")
            return tensors[value]
        if tag == "$tuple" and isinstance(value, list):
            return tuple(_decode(v, tensors, where) for v in value)
        if tag == "$float" and value in ("inf", "-inf", "nan"):
            return float(value)
        if tag == "$items" and isinstance(value, list) and all(
                isinstance(p, list) and len(p) == 2 for p in value):
            return {_decode(k, tensors, where): _decode(v, tensors, where) for k, v in value}
        raise SeqlmError(f"{where}: malformed entry {json.dumps(obj)[:80]}")
    return {k: _decode(v, tensors, where) for k, v in obj.items()}


def load_tree(json_file: Path, tensor_file: Path) -> Any:
    """Inverse of :func:`save_tree`; anything malformed is a one-line SeqlmError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    try:
        doc = json.loads(json_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeqlmError(f"{json_file}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SeqlmError(f"{json_file}: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND or "tree" not in doc:
        raise SeqlmError(f"{json_file}: not a seqlm tensor tree")
    if doc.get("schema_version") != VERSION:
        raise SeqlmError(f"{json_file}: tensor tree version {doc.get('schema_version')!r} is not "
                         f"supported (this seqlm reads version {VERSION})")
    try:
        tensors = load_file(str(tensor_file), device="cpu")
    except FileNotFoundError:
        raise SeqlmError(f"{tensor_file}: missing") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SeqlmError(f"{tensor_file}: not a readable safetensors file ({msg[:200]})") from None
    return _decode(doc["tree"], tensors, str(json_file))
