"""The settings of `seqlm train`: one typed list, read from presets, TOML and flags.

The list is the typed fields of :class:`seqlm.lm.RNNLMConfig` (the model) and
:class:`seqlm.train.TrainConfig` (the training), declared with
:func:`seqlm.schema.setting`: each knows its type, range or choices, help and
flag spelling. From it this module builds the command-line flags
(:func:`add_arguments`), reads TOML files (:func:`read_toml`) and layers them:

    defaults  ←  --preset NAME  ←  --config FILE.toml  ←  explicit flags

A TOML file uses the flags' spellings (``layers``, ``batch-size`` or
``batch_size``; the config field names such as ``num_layers`` work too), flat or
in ``[model]`` / ``[train]`` tables, and may name a ``preset`` and a ``seed``.
Unknown keys and tables, values of the wrong type or out of range are refused in
one line naming the file and the key. ``none`` switches an optional setting off
(``clip = "none"``, like ``--clip none``).
"""
from __future__ import annotations

import argparse
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqlm.errors import SeqlmError
from seqlm.lm.config import RNNLMConfig
from seqlm.schema import Setting, argparse_type, settings_of
from seqlm.train.config import TrainConfig, preset

GROUPS: dict[str, tuple[Setting, ...]] = {"model": settings_of(RNNLMConfig),
                                          "train": settings_of(TrainConfig)}
SETTINGS: dict[str, Setting] = {s.name: s for group in GROUPS.values() for s in group}
GROUP_OF: dict[str, str] = {s.name: g for g, group in GROUPS.items() for s in group}
# Every spelling a TOML key may take -> the setting's name.
SPELLINGS: dict[str, str] = {}
for _s in SETTINGS.values():
    for _k in {_s.name, _s.spelling, _s.spelling.replace("-", "_"), _s.name.replace("_", "-")}:
        SPELLINGS[_k] = _s.name
TOP_LEVEL = ("preset", "seed")       # TOML keys that are not settings
# What other tools call a setting (PyTorch, pytorch/examples, nanoGPT, Keras): the
# suggestion when such a name is given for seqlm's own.
OTHER_NAMES = {"learning_rate": "lr", "learning-rate": "lr", "lr_rate": "lr", "num_epochs": "epochs",
               "n_epochs": "epochs", "max_epochs": "epochs", "n_layers": "num_layers", "nlayers": "num_layers",
               "n_layer": "num_layers", "nhid": "hidden_size", "hidden_dim": "hidden_size",
               "n_embd": "embed_size", "emsize": "embed_size", "embedding_size": "embed_size",
               "embedding_dim": "embed_size", "emb_size": "embed_size", "rnn_type": "cell", "model": "cell",
               "seq_len": "bptt", "seq_length": "bptt", "block_size": "bptt", "bptt_len": "bptt",
               "grad_clip": "clip", "gradient_clip": "clip", "clip_grad_norm": "clip", "max_grad_norm": "clip",
               "tied": "tie_weights", "tie": "tie_weights", "dropout_rate": "dropout", "batch": "batch_size",
               "bsz": "batch_size", "max_iters": "max_steps", "max_iter": "max_steps", "eval_batch_size":
               "valid_batch_size", "log_every": "log_interval", "lr_scheduler": "schedule", "patience":
               "early_stopping"}


@dataclass
class Settings:
    """Resolved settings: model fields, training fields and the seed."""

    model: dict
    train: dict
    seed: int = 0


# ------------------------------------------------------------------ flags
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per setting, in a "model" and a "training" group; each flag's
    value is parsed and range-checked by the schema (``dest`` = the field name)."""
    for title, group in (("model", GROUPS["model"]), ("training", GROUPS["train"])):
        g = parser.add_argument_group(title)
        for s in group:
            flag = f"--{s.spelling}"
            default = "none" if s.default is None else s.default
            help_ = f"{s.help} (default {str(default).lower() if s.kind is bool else default})"
            if s.kind is bool:
                g.add_argument(flag, dest=s.name, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=help_)
                continue
            metavar = ("{" + ",".join(s.choices + (("none",) if s.optional else ())) + "}" if s.choices
                       else s.spelling.upper().replace("-", "_"))
            # not given: no attribute at all (SUPPRESS), so that ``--clip none`` (None) is a value
            g.add_argument(flag, dest=s.name, type=argparse_type(s), default=argparse.SUPPRESS,
                           metavar=metavar, help=help_)


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given as flags (field name -> value, ``None`` for ``none``), in
    schema order; a flag not given is absent."""
    return {name: getattr(args, name) for name in SETTINGS if hasattr(args, name)}


# ------------------------------------------------------------------ TOML
def _toml_loads(text: str) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return tomllib.loads(text)


def _read_text(path: Path) -> str:
    if path.is_dir():
        raise SeqlmError(f"{path}: is a directory, expected a TOML file")
    if path.is_char_device() or path.is_block_device():  # /dev/zero would never end
        raise SeqlmError(f"{path}: is a device, expected a TOML file")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SeqlmError(f"{path}: config file not found") from None
    except UnicodeDecodeError as e:
        raise SeqlmError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise SeqlmError(f"{path}: cannot read ({e.strerror})") from None


def toml_document(path: Path) -> dict:
    """The TOML file at ``path`` as a dict; a SeqlmError (one line) when it is not one."""
    try:
        return _toml_loads(_read_text(path))
    except SeqlmError:
        raise
    except Exception as e:  # noqa: BLE001 - tomllib.TOMLDecodeError (or tomli's)
        raise SeqlmError(f"{path}: not valid TOML ({e})") from None


def suggest(key: str) -> str | None:
    """The seqlm spelling nearest to ``key``: another tool's name for it, or a close match."""
    other = OTHER_NAMES.get(key) or OTHER_NAMES.get(key.replace("-", "_"))
    if other:
        return SETTINGS[other].spelling
    close = difflib.get_close_matches(key, list(SPELLINGS) + list(TOP_LEVEL), n=1)
    return close[0] if close else None


def _unknown(path: Path, key: str, where: str) -> SeqlmError:
    close = suggest(key)
    hint = f" (did you mean {close!r}?)" if close else ""
    return SeqlmError(f"{path}: unknown setting {key!r}{where}{hint}")


def read_toml(path: str | Path) -> tuple[dict, str | None, int | None]:
    """(settings by field name, preset, seed) of a TOML file, every value checked."""
    path = Path(path)
    doc = toml_document(path)
    values: dict[str, Any] = {}
    written: dict[str, str] = {}
    preset_name = seed = None

    def put(key: str, value: Any, table: str | None) -> None:
        where = f" in [{table}]" if table else ""
        if isinstance(value, dict):
            raise SeqlmError(f"{path}: [{table}.{key}] is a table, expected a value" if table else
                             f"{path}: unknown table [{key}] (tables: [model], [train])")
        name = SPELLINGS.get(key)
        if name is None:
            raise _unknown(path, key, where)
        if table is not None and GROUP_OF[name] != table:
            raise SeqlmError(f"{path}: {key!r} is a {GROUP_OF[name]} setting, not a [{table}] one "
                             f"(put it under [{GROUP_OF[name]}] or at the top)")
        if name in written:
            raise SeqlmError(f"{path}: {name} is given twice ({written[name]!r} and {key!r})")
        written[name] = key
        values[name] = SETTINGS[name].check(value, f"{path}: {key}")

    for key, value in doc.items():
        if key in ("model", "train") and isinstance(value, dict):
            for k, v in value.items():
                put(k, v, key)
        elif key == "preset":
            if not isinstance(value, str):
                raise SeqlmError(f"{path}: preset must be a preset name, got {value!r}")
            preset_name = value
        elif key == "seed":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SeqlmError(f"{path}: seed must be an integer >= 0, got {value!r}")
            seed = value
        else:
            put(key, value, None)
    return values, preset_name, seed


# ------------------------------------------------------------------ layering
def checked_preset(name: str) -> dict:
    """A named preset's settings, checked like any other source."""
    return {k: SETTINGS[k].check(v, f"preset {name}: {k}") if k in SETTINGS else _no_setting(name, k)
            for k, v in preset(name).items()}


def _no_setting(name: str, key: str):
    raise SeqlmError(f"preset {name}: unknown setting {key!r}")


def split(values: dict) -> tuple[dict, dict]:
    """(model fields, training fields) of a flat dict of settings, each value checked."""
    model, train = {}, {}
    for k, v in values.items():
        if k not in SETTINGS:
            raise SeqlmError(f"unknown setting {k!r}")
        (model if GROUP_OF[k] == "model" else train)[k] = SETTINGS[k].check(v, k)
    return model, train


def resolve(preset_name: str | None = None, config: str | Path | None = None,
            flags: dict | None = None, seed: int | None = None) -> Settings:
    """Defaults ← preset ← TOML ← flags, split into model and training fields.
    The seed: ``seed`` if given, else the TOML's, else 0."""
    values: dict[str, Any] = {}
    if preset_name:
        values.update(checked_preset(preset_name))
    toml_seed = None
    if config is not None:
        toml, toml_preset, toml_seed = read_toml(config)
        if toml_preset:
            if preset_name and toml_preset != preset_name:
                raise SeqlmError(f"{config}: preset {toml_preset!r} conflicts with --preset {preset_name}")
            values.update(checked_preset(toml_preset))
        values.update(toml)
    values.update(flags or {})
    model, train = split(values)
    return Settings(model, train, seed if seed is not None else (toml_seed or 0))


# ------------------------------------------------------------------ resume
# What may change when a run is resumed: how long it trains, how often it logs and
# saves, and the step size. Everything else (the architecture, the batches, the
# optimiser) would make the resumed run a different run, and is refused.
RESUMABLE = ("epochs", "max_steps", "early_stopping", "log_interval", "checkpoint_every",
             "valid_batch_size", "lr", "min_lr", "clip", "precision")


def resume_overrides(saved_model: dict, saved_train: dict, flags: dict) -> tuple[dict, list[str]]:
    """The saved training settings with the allowed ``flags`` applied, and one note
    per change. A flag that would change anything else is a one-line error (a flag
    equal to the saved value is accepted silently)."""
    train = dict(saved_train)
    notes = []
    for name, value in flags.items():
        saved = (saved_model if GROUP_OF[name] == "model" else saved_train).get(name)
        if value == saved:
            continue
        flag = f"--{SETTINGS[name].spelling}"
        if name not in RESUMABLE:
            allowed = ", ".join(f"--{SETTINGS[k].spelling}" for k in RESUMABLE)
            raise SeqlmError(f"{flag} {_show(value)} conflicts with the resumed run ({name} = "
                             f"{_show(saved)}); a resumed run keeps its settings except {allowed}")
        train[name] = value
        notes.append(f"{name} {_show(saved)} -> {_show(value)}")
    return train, notes


def _show(value: Any) -> str:
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else f"{value}"
