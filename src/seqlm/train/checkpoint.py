"""Checkpoints: a directory a human can read and a loader that never unpickles code.

    CKPT/
      config.json          {"schema_version", "kind": "seqlm.checkpoint", "model": {...}, "train": {...}}
      vocab.json           the frozen vocabulary (seqlm.data.Vocabulary)
      model.safetensors    the weights (tied weights stored once)
      trainer_state.pt     optimizer, schedule, step/epoch/position, best valid,
                           RNG states, carried hidden state — plain tensors and
                           numbers, read with torch.load(weights_only=True)

A checkpoint is written with :func:`seqlm.io.atomic_dir`: a kill at any moment
leaves the previous complete checkpoint in place. It loads on CPU whatever
device wrote it. A run directory (``seqlm train --out RUN``) holds ``best/``
and ``checkpoint/``; :func:`resolve` accepts either it or a checkpoint.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqlm.data.vocab import Vocabulary
from seqlm.errors import SeqlmError
from seqlm.io import atomic_dir, write_json
from seqlm.lm.base import build_model

SCHEMA_VERSION = 1
KIND = "seqlm.checkpoint"
FILES = ("config.json", "vocab.json", "model.safetensors")


@dataclass
class Checkpoint:
    model: nn.Module
    vocab: Vocabulary
    model_config: dict
    train_config: dict | None
    trainer_state: dict | None
    path: Path


def _unwrap(model: nn.Module) -> nn.Module:
    return getattr(model, "module", model)  # DistributedDataParallel wraps the model


def save_checkpoint(path: str | Path, model: nn.Module, vocab: Vocabulary,
                    train_config: dict | None = None, trainer_state: dict | None = None,
                    extra: dict | None = None) -> Path:
    """Write a checkpoint directory atomically (replacing any previous one)."""
    model = _unwrap(model)
    config = {"schema_version": SCHEMA_VERSION, "kind": KIND, "model": asdict(model.config),
              "train": train_config}
    if extra:
        config.update(extra)
    with atomic_dir(path) as tmp:
        write_json(tmp / "config.json", config)
        vocab.save(tmp / "vocab.json")
        save_weights(model, tmp / "model.safetensors")
        if trainer_state is not None:
            torch.save(trainer_state, tmp / "trainer_state.pt")
    return Path(path)


def save_weights(model: nn.Module, file: Path) -> None:
    """Weights as safetensors, each tensor once: a tied decoder (the same
    Parameter as the embedding) is stored under the embedding's name only.
    Tensors are copied to CPU first, so weights that cuDNN packed into one
    shared buffer are saved as separate, compact tensors."""
    from safetensors.torch import save_file
    seen: dict[tuple, str] = {}
    out: dict[str, torch.Tensor] = {}
    for name, t in model.state_dict(keep_vars=False).items():
        key = (t.data_ptr(), tuple(t.shape), tuple(t.stride()), t.dtype)
        if key in seen:
            continue  # an alias (weight tying) of a tensor already stored
        seen[key] = name
        out[name] = t.detach().cpu().clone().contiguous()
    save_file(out, str(file), metadata={"format": "pt", "writer": "seqlm"})


def load_weights(model: nn.Module, file: Path) -> None:
    """Inverse of :func:`save_weights`; a missing name must be a tied alias."""
    from safetensors.torch import load_file
    state = load_file(str(file), device="cpu")
    expected = model.state_dict()
    unexpected = sorted(set(state) - set(expected))
    ptr_of = {expected[k].data_ptr(): k for k in state if k in expected}
    missing = sorted(k for k in set(expected) - set(state) if expected[k].data_ptr() not in ptr_of)
    if missing or unexpected:
        what = f"missing {', '.join(missing)}" if missing else f"unexpected {', '.join(unexpected)}"
        raise SeqlmError(f"{file}: weights do not match config.json ({what})")
    for k, v in state.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise SeqlmError(f"{file}: {k} has shape {tuple(v.shape)}, config.json implies "
                             f"{tuple(expected[k].shape)}")
    model.load_state_dict(state, strict=False)


def resolve(path: str | Path, prefer: str = "best") -> Path:
    """A checkpoint directory, or a run directory holding ``best/`` / ``checkpoint/``."""
    path = Path(path)
    if not path.exists():
        raise SeqlmError(f"{path}: checkpoint not found")
    if not path.is_dir():
        raise SeqlmError(f"{path}: a checkpoint is a directory, got a file")
    if (path / "config.json").exists():
        return path
    order = ("best", "checkpoint") if prefer == "best" else ("checkpoint", "best")
    for name in order:
        if (path / name / "config.json").exists():
            return path / name
    raise SeqlmError(f"{path}: not a seqlm checkpoint or run directory (no config.json, best/ or checkpoint/)")


def read_config(path: Path) -> dict:
    f = path / "config.json"
    try:
        d = json.loads(f.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeqlmError(f"{path}: corrupt checkpoint (config.json missing)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SeqlmError(f"{f}: corrupt checkpoint config ({e})") from None
    if not isinstance(d, dict) or d.get("kind") != KIND or not isinstance(d.get("model"), dict):
        raise SeqlmError(f"{f}: not a seqlm checkpoint config")
    if d.get("schema_version") != SCHEMA_VERSION:
        raise SeqlmError(f"{f}: checkpoint schema version {d.get('schema_version')!r} is not supported "
                         f"(this seqlm reads version {SCHEMA_VERSION})")
    return d


def load_checkpoint(path: str | Path, trainer_state: bool = True, prefer: str = "best") -> Checkpoint:
    """Load a checkpoint on CPU. Corruption of any file is a one-line SeqlmError."""
    from safetensors import SafetensorError
    path = resolve(path, prefer)
    for name in FILES:
        if not (path / name).exists():
            raise SeqlmError(f"{path}: corrupt checkpoint ({name} missing)")
    config = read_config(path)
    vocab = Vocabulary.load(path / "vocab.json")
    model = build_model(config["model"])
    if getattr(model.config, "vocab_size", len(vocab)) != len(vocab):
        raise SeqlmError(f"{path}: corrupt checkpoint (model vocab_size {model.config.vocab_size} "
                         f"but vocab.json has {len(vocab)} tokens)")
    try:
        load_weights(model, path / "model.safetensors")
    except (SafetensorError, RuntimeError, OSError, ValueError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SeqlmError(f"{path / 'model.safetensors'}: corrupt checkpoint weights ({msg})") from None
    state = None
    if trainer_state and (path / "trainer_state.pt").exists():
        state = load_trainer_state(path / "trainer_state.pt")
    return Checkpoint(model, vocab, config["model"], config.get("train"), state, path)


def load_model(path: str | Path) -> tuple[nn.Module, Vocabulary]:
    """The model (in eval mode, on CPU) and its vocabulary, for eval/score/generate."""
    ck = load_checkpoint(path, trainer_state=False)
    ck.model.eval()
    return ck.model, ck.vocab


def load_trainer_state(file: Path) -> dict:
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SeqlmError(f"{file}: corrupt trainer state ({msg[:200]})") from None
    if not isinstance(state, dict) or "step" not in state:
        raise SeqlmError(f"{file}: corrupt trainer state (not a seqlm trainer state)")
    return state


def config_diff(saved: dict, requested: dict) -> str | None:
    """One line naming the first differing fields, or None."""
    diffs = [f"{k}={saved.get(k)!r} in the checkpoint vs {requested.get(k)!r}"
             for k in sorted(set(saved) | set(requested)) if saved.get(k) != requested.get(k)]
    if not diffs:
        return None
    more = f" (and {len(diffs) - 3} more)" if len(diffs) > 3 else ""
    return "; ".join(diffs[:3]) + more


def check_compatible(ck: Checkpoint, vocab: Vocabulary | None = None,
                     model_config: dict | None = None, what: str = "this run") -> None:
    """Refuse a checkpoint from another vocabulary or architecture, saying what differs."""
    if vocab is not None:
        d = ck.vocab.diff(vocab)
        if d is not None:
            raise SeqlmError(f"{ck.path}: checkpoint vocabulary differs from {what}: {d}")
    if model_config is not None:
        d = config_diff(ck.model_config, model_config)
        if d is not None:
            raise SeqlmError(f"{ck.path}: checkpoint model config differs from {what}: {d}")


def snapshot_rng() -> dict[str, Any]:
    """Every RNG state the trainer consumes, as weights_only-loadable objects."""
    import random

    import numpy as np
    st = np.random.get_state()
    rng = {"python": list(random.getstate()[1]) + [random.getstate()[2] or 0],
           "numpy": {"keys": torch.from_numpy(st[1].astype("int64")), "pos": int(st[2]),
                     "has_gauss": int(st[3]), "cached_gaussian": float(st[4])},
           "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return rng


def restore_rng(rng: dict[str, Any]) -> None:
    import random

    import numpy as np
    py = rng["python"]
    random.setstate((3, tuple(int(x) for x in py[:-1]), None))
    n = rng["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype("uint32"), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
