"""Checkpoints: a directory a human can read and a loader that never unpickles code.

    CKPT/
      config.json          {"schema_version", "kind": "seqlm.checkpoint", "model": {...}, "train": {...}}
      vocab.json           the frozen vocabulary (seqlm.data.Vocabulary)
      model.safetensors    the weights (tied weights stored once)
      trainer_state.json   optimizer, schedule, step/epoch/position, best valid,
      trainer_state.safetensors   RNG states, carried hidden state: the numbers in
                           JSON, the tensors in safetensors (seqlm.train.tensortree)

Nothing is unpickled, not even with ``torch.load(weights_only=True)``: a crafted
checkpoint can fail to load, never run code. Every field is checked on load, and
anything wrong is one line, ``corrupt checkpoint: FILE: what``; weights that are
not finite (a diverged model) are refused. Writing the same checkpoint twice
gives byte-identical files.

A checkpoint is written with :func:`seqlm.io.atomic_dir`: a kill at any moment
leaves a complete checkpoint (the new one, or the previous one, which
:func:`seqlm.io.recover_dir` puts back). It loads on CPU whatever device wrote
it. A run directory (``seqlm train --out RUN``) holds ``best/`` and
``checkpoint/``; :func:`resolve` accepts either it or a checkpoint.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqlm.data.vocab import Vocabulary
from seqlm.errors import SeqlmError, SeqlmWarning
from seqlm.io import atomic_dir, recovered_dir, write_json, write_point
from seqlm.lm.build import build_model, model_class
from seqlm.schema import check_json
from seqlm.train.config import TrainConfig
from seqlm.train.header import check_header, corrupt
from seqlm.train.tensortree import load_tree, save_tree

SCHEMA_VERSION = 2        # 2: trainer state as JSON + safetensors (1: a torch.save file)
READABLE_VERSIONS = (1, 2)
KIND = "seqlm.checkpoint"
FILES = ("config.json", "vocab.json", "model.safetensors")
STATE_FILES = ("trainer_state.json", "trainer_state.safetensors")
LEGACY_STATE = "trainer_state.pt"   # schema 1: never read (it would need an unpickler)
# config.json's frame (each model and training field is then checked by its config class).
CONFIG_SCHEMA = {
    "type": "object", "required": ["kind", "schema_version", "model"],
    "properties": {"kind": {"const": KIND}, "schema_version": {"enum": list(READABLE_VERSIONS)},
                   "model": {"type": "object", "properties": {"kind": {"type": "string"},
                                                               "vocab_size": {"type": "integer", "minimum": 1}}},
                   "train": {"type": ["object", "null"]}, "seed": {"type": "integer", "minimum": 0},
                   "data": {"type": ["string", "null"]}, "corpus": {"type": ["object", "null"]}},
}
# Test-only settings that schema-1 checkpoints carried in their training config.
LEGACY_TRAIN_FIELDS = ("inject_nan_at_step", "sleep_per_step")


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
            save_tree(trainer_state, tmp / STATE_FILES[0], tmp / STATE_FILES[1])
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
    # One metadata key: safetensors writes the map in hash order, so two keys would
    # make identical runs write different bytes.
    write_point(file)  # a full disk can strike here too (the crash-point tests make it)
    save_file(out, str(file), metadata={"format": "pt"})


def load_weights(model: nn.Module, file: Path) -> None:
    """Inverse of :func:`save_weights`; a missing name must be a tied alias.
    Names, shapes and finiteness are checked: a diverged model is refused."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    try:
        state = load_file(str(file), device="cpu")
    except (SafetensorError, RuntimeError, OSError, ValueError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise corrupt(file, f"unreadable weights ({msg[:200]})") from None
    expected = model.state_dict()
    unexpected = sorted(set(state) - set(expected))
    ptr_of = {expected[k].data_ptr(): k for k in state if k in expected}
    missing = sorted(k for k in set(expected) - set(state) if expected[k].data_ptr() not in ptr_of)
    if missing or unexpected:
        what = f"missing {', '.join(missing)}" if missing else f"unexpected {', '.join(unexpected)}"
        raise corrupt(file, f"weights do not match config.json ({what})")
    for k, v in state.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise corrupt(file, f"{k} has shape {tuple(v.shape)}, config.json implies "
                                f"{tuple(expected[k].shape)}")
        if v.dtype != expected[k].dtype:
            raise corrupt(file, f"{k} is {v.dtype}, expected {expected[k].dtype}")
        if v.is_floating_point() and not torch.isfinite(v).all():
            bad = "nan" if torch.isnan(v).any() else "inf"
            raise corrupt(file, f"{k} holds non-finite values ({bad}): the weights of a diverged "
                                "model are never loaded")
    model.load_state_dict(state, strict=False)


def resolve(path: str | Path, prefer: str = "best") -> Path:
    """A checkpoint directory, or a run directory holding ``best/`` / ``checkpoint/``.
    A checkpoint whose swap was interrupted (only ``NAME.old`` left) is found there.
    A run directory without ``best/`` (no epoch finished its validation) resolves to
    ``checkpoint/`` with a :class:`SeqlmWarning` that says so."""
    path = recovered_dir(Path(path))  # RUN/best itself may be the interrupted swap
    if not path.exists():
        raise SeqlmError(f"{path}: checkpoint not found")
    if not path.is_dir():
        raise SeqlmError(f"{path}: a checkpoint is a directory, got a file")
    if (path / "config.json").exists():
        return path
    order = ("best", "checkpoint") if prefer == "best" else ("checkpoint", "best")
    for name in order:
        found = recovered_dir(path / name)
        if (found / "config.json").exists():
            if name != order[0]:
                warnings.warn(f"{path} has no {order[0]}/ ({_why_missing(order[0])}); using "
                              f"{found}", SeqlmWarning, stacklevel=2)
            return found
    raise SeqlmError(f"{path}: not a seqlm checkpoint or run directory (no config.json, best/ or checkpoint/)")


def _why_missing(name: str) -> str:
    return ("no epoch has finished its validation yet" if name == "best"
            else "the run kept no resumable checkpoint")


def read_config(path: Path) -> dict:
    """``config.json`` of a checkpoint, every field checked."""
    f = path / "config.json"
    try:
        d = json.loads(f.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise corrupt(path, "config.json missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise corrupt(f, f"not valid JSON ({e})") from None
    if not isinstance(d, dict) or d.get("kind") != KIND or not isinstance(d.get("model"), dict):
        raise corrupt(f, "not a seqlm checkpoint config")
    if d.get("schema_version") not in READABLE_VERSIONS:
        raise SeqlmError(f"{f}: checkpoint schema version {d.get('schema_version')!r} is not supported "
                         f"(this seqlm reads versions {', '.join(map(str, READABLE_VERSIONS))})")
    try:
        check_json(d, CONFIG_SCHEMA, str(f))
    except SeqlmError as e:
        raise corrupt(f, str(e).removeprefix(f"{f}: ")) from None
    try:
        model_class(d["model"].get("kind")).config_from_dict(d["model"])
    except SeqlmError as e:
        raise corrupt(f, f"model: {e}") from None
    train = d.get("train")
    if train is not None:
        if not isinstance(train, dict):
            raise corrupt(f, f"'train' must be an object, got {train!r:.60}")
        train = {k: v for k, v in train.items() if k not in LEGACY_TRAIN_FIELDS}
        try:
            full = TrainConfig(**train).to_dict()
            d["train"] = {k: full[k] for k in train}  # checked and typed, as saved
        except TypeError as e:
            raise corrupt(f, f"train: {e}") from None
        except SeqlmError as e:
            raise corrupt(f, f"train.{e}") from None
    seed = d.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise corrupt(f, f"seed must be an integer >= 0, got {seed!r}")
    if d.get("data") is not None and not isinstance(d["data"], str):
        raise corrupt(f, f"data must be a string, got {d['data']!r:.60}")
    if d.get("corpus") is not None and not isinstance(d["corpus"], dict):
        raise corrupt(f, f"corpus must be an object, got {d['corpus']!r:.60}")
    return d


def load_checkpoint(path: str | Path, trainer_state: bool = True, prefer: str = "best") -> Checkpoint:
    """Load a checkpoint on CPU. Corruption of any file is a one-line SeqlmError."""
    path = resolve(path, prefer)
    for name in FILES:
        if not (path / name).exists():
            raise corrupt(path, f"{name} missing")
    config = read_config(path)
    try:
        vocab = Vocabulary.load(path / "vocab.json")
    except SeqlmError as e:
        raise corrupt(path / "vocab.json", str(e).removeprefix(f"{path / 'vocab.json'}: ")) from None
    vocab_size = config["model"].get("vocab_size")
    if isinstance(vocab_size, int) and vocab_size != len(vocab):
        raise corrupt(path, f"model vocab_size {vocab_size} but vocab.json has {len(vocab)} tokens")
    check_header(config["model"], path / "model.safetensors")  # before anything is allocated
    try:
        model = build_model(config["model"])
    except SeqlmError as e:
        raise corrupt(path / "config.json", str(e)) from None
    if getattr(model.config, "vocab_size", len(vocab)) != len(vocab):
        raise corrupt(path, f"model vocab_size {model.config.vocab_size} but vocab.json has "
                            f"{len(vocab)} tokens")
    load_weights(model, path / "model.safetensors")
    state = load_trainer_state(path) if trainer_state else None
    return Checkpoint(model, vocab, config["model"], config.get("train"), state, path)


def load_model(path: str | Path) -> tuple[nn.Module, Vocabulary]:
    """The model (in eval mode, on CPU) and its vocabulary, for eval/score/generate."""
    ck = load_checkpoint(path, trainer_state=False)
    ck.model.eval()
    return ck.model, ck.vocab


# The trainer state's scalar fields and what each must be.
_STATE_INTS = {"step": 0, "epoch": 0, "segment": 0, "bad_epochs": 0, "world_size": 1}


def load_trainer_state(path: Path) -> dict | None:
    """The trainer state of checkpoint ``path`` (None if it has none), every field checked."""
    json_file, tensor_file = (path / n for n in STATE_FILES)
    if not json_file.exists():
        if (path / LEGACY_STATE).exists():
            raise SeqlmError(f"{path / LEGACY_STATE}: the trainer state of an older seqlm, a pickle "
                             "file, which seqlm never loads; its weights load (eval, score, "
                             "generate), but the run cannot be resumed")
        return None
    try:
        state = load_tree(json_file, tensor_file)
    except SeqlmError as e:
        raise corrupt(path, str(e)) from None
    check_trainer_state(state, json_file)
    return state


def check_trainer_state(state, where) -> None:
    """Types and ranges of every trainer-state field present; ``step`` is required."""
    if not isinstance(state, dict) or "step" not in state:
        raise corrupt(where, "not a seqlm trainer state (no 'step')")
    for key, low in _STATE_INTS.items():
        v = state.get(key, low)
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise corrupt(where, f"{key} must be an integer >= {low}, got {v!r:.60}")
    lr = state.get("lr", 1.0)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (math.isfinite(lr) and lr > 0):
        raise corrupt(where, f"lr must be a finite number > 0, got {lr!r:.60}")
    best = state.get("best_valid", math.inf)
    if isinstance(best, bool) or not isinstance(best, (int, float)) or math.isnan(best) or best <= 0:
        raise corrupt(where, f"best_valid must be a number > 0 (or inf), got {best!r:.60}")
    for key, kind in (("optimizer", dict), ("rng", dict), ("hidden", list), ("interval", dict),
                      ("epoch_acc", dict)):
        if key in state and not isinstance(state[key], kind):
            raise corrupt(where, f"{key} must be a{'n object' if kind is dict else ' list'}")
    for name, t in _tensors(state):
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise corrupt(where, f"{name} holds non-finite values")


def _tensors(obj, path: str = ""):
    if isinstance(obj, torch.Tensor):
        yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _tensors(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _tensors(v, f"{path}.{i}" if path else str(i))


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
    """The RNG state the trainer consumes — torch's (dropout, shuffling draw from it) — as
    a tensor tree. Python's and NumPy's global generators are neither saved nor touched:
    nothing in training draws from them, and restoring them would clobber the caller's."""
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return rng


def restore_rng(rng: dict[str, Any], where="trainer state") -> None:
    """Put back what :func:`snapshot_rng` took (an older checkpoint's Python and NumPy
    states are ignored); a malformed entry is a corrupt checkpoint."""
    try:
        torch_state = rng["torch"]
        if not isinstance(torch_state, torch.Tensor) or torch_state.dtype != torch.uint8:
            raise ValueError("torch state is not a byte tensor")
        torch.set_rng_state(torch_state)
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as e:
        raise corrupt(where, f"malformed RNG state ({e})") from None
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
