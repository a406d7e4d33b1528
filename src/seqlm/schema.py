"""Typed settings: each setting declared once, with its type, range, spelling and help.

A setting is a field of a config dataclass (:class:`seqlm.lm.RNNLMConfig`,
:class:`seqlm.train.TrainConfig`) declared with :func:`setting`. The field's
annotation gives the type (``int``, ``float``, ``bool``, ``str``, or one of them
``| None``); :func:`setting` adds the range or the choices, the spelling of its
flag and its help. Whatever reads settings — a preset, a TOML file, a flag, a
checkpoint's ``config.json`` — checks each value with :meth:`Setting.check`, so a
wrong value is refused in one line that says which setting, what it must be and
what it got, wherever it came from. ``None`` ("off") is spelt ``none`` on the
command line and in TOML.

This module sits beside :mod:`seqlm.errors` at the bottom of the layers: the
model configs (``lm``) and the training config (``train``) both declare their
fields with it; :mod:`seqlm.train.settings` turns the declarations into flags
and reads TOML files.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from seqlm.errors import SeqlmError

NONE_WORDS = ("none", "off")   # how None is written on the command line and in TOML
_KEY = "seqlm.setting"


@dataclass(frozen=True)
class Setting:
    """One typed setting (a field of a config dataclass)."""

    name: str                      # the dataclass field
    kind: type                     # int | float | bool | str
    optional: bool                 # None is a value (spelt "none")
    default: Any
    help: str = ""
    flag: str = ""                 # the flag without "--" when it differs from the name
    choices: tuple = ()
    ge: float | None = None        # bounds: >= ge, > gt, <= le, < lt
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    @property
    def spelling(self) -> str:
        """The flag's spelling without ``--`` (also a TOML key)."""
        return self.flag or self.name.replace("_", "-")

    def rule(self) -> str:
        """What a valid value is, in words."""
        if self.kind is bool:
            text = "true or false"
        elif self.choices:
            text = "one of " + ", ".join(self.choices)
        else:
            text = "an integer" if self.kind is int else "a finite number"
            lo = (">=", self.ge) if self.ge is not None else (">", self.gt) if self.gt is not None else None
            hi = ("<=", self.le) if self.le is not None else ("<", self.lt) if self.lt is not None else None
            if lo and hi:
                text += f" in {'[' if lo[0] == '>=' else '('}{lo[1]:g}, {hi[1]:g}{']' if hi[0] == '<=' else ')'}"
            elif lo or hi:
                op, bound = lo or hi
                text += f" {op} {bound:g}"
        return text + (" (or none)" if self.optional else "")

    def _refuse(self, value: Any, label: str | None):
        got = f"the string {value!r}" if isinstance(value, str) and self.kind is not str else repr(value)
        return SeqlmError(f"{label or self.name} must be {self.rule()}, got {got}")

    def check(self, value: Any, label: str | None = None) -> Any:
        """``value`` as this setting's type (an int becomes a float for a float
        setting), or a one-line :class:`SeqlmError` naming ``label``."""
        if value is None or (self.optional and isinstance(value, str) and value.lower() in NONE_WORDS):
            if self.optional:
                return None
            raise self._refuse(value, label)
        if self.kind is bool:
            if not isinstance(value, bool):
                raise self._refuse(value, label)
            return value
        if self.kind is str:
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise self._refuse(value, label)
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self._refuse(value, label)
        if self.kind is int:
            if not isinstance(value, numbers.Integral):
                raise self._refuse(value, label)
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise self._refuse(value, label)
        if ((self.ge is not None and value < self.ge) or (self.gt is not None and value <= self.gt)
                or (self.le is not None and value > self.le) or (self.lt is not None and value >= self.lt)):
            raise self._refuse(value, label)
        return value

    def parse(self, text: str, label: str | None = None) -> Any:
        """The value of a flag's text (``none`` for an optional setting's None)."""
        if self.optional and text.strip().lower() in NONE_WORDS:
            return None
        value: Any = text
        if self.kind is bool:
            value = {"true": True, "false": False}.get(text.strip().lower(), text)
        elif self.kind in (int, float):
            try:
                value = self.kind(text)
            except ValueError:
                value = text
        return self.check(value, label)


def argparse_type(s: Setting, label: str | None = None):
    """An argparse ``type=`` that parses and checks a flag's text with ``s``; a bad
    value is argparse's one-line usage error (``argument --lr: must be ...``)."""
    import argparse
    label = label or f"--{s.spelling}"

    def parse(text: str):
        try:
            return s.parse(text, label)
        except SeqlmError as e:  # argparse says "argument --lr: " itself
            raise argparse.ArgumentTypeError(str(e).removeprefix(label + " ")) from None
    parse.__name__ = s.spelling
    return parse


def number(kind: type, **bounds) -> Any:
    """An argparse ``type=`` for a number with bounds, e.g. ``number(int, ge=1)``."""
    return argparse_type(Setting("value", kind, False, None, **bounds))


def setting(default: Any, help: str = "", *, flag: str = "", choices: tuple = (),
            ge: float | None = None, gt: float | None = None, le: float | None = None,
            lt: float | None = None) -> Any:
    """A dataclass field that is a typed setting (see the module docstring)."""
    meta = dict(help=help, flag=flag, choices=tuple(choices), ge=ge, gt=gt, le=le, lt=lt)
    return dataclasses.field(default=default, metadata={_KEY: meta})


def _kind(annotation: Any) -> tuple[type, bool]:
    """(base type, optional) of ``int``, ``float | None``, ``str | None``, ..."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(annotation))
    return annotation, False


@lru_cache(maxsize=None)
def settings_of(cls: type) -> tuple[Setting, ...]:
    """The typed settings of a config dataclass, in field order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if _KEY not in f.metadata:
            continue
        kind, optional = _kind(hints[f.name])
        out.append(Setting(f.name, kind, optional, f.default, **f.metadata[_KEY]))
    return tuple(out)


def check_fields(obj: Any, where: str = "") -> None:
    """Check (and coerce in place) every typed setting of a config dataclass
    instance; the first wrong value is a one-line :class:`SeqlmError`."""
    for s in settings_of(type(obj)):
        setattr(obj, s.name, s.check(getattr(obj, s.name), f"{where}{s.name}"))


def check_json(doc: Any, schema: dict, where: str) -> None:
    """Refuse ``doc`` in one line unless it matches the JSON ``schema`` (draft 2020-12):
    the first problem, with the path to the field (``counts[3]: 'x' is not of type
    'integer'``). For files seqlm reads back (vocab.json, config.json)."""
    import jsonschema
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        at = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.path).lstrip(".")
        raise SeqlmError(f"{where}: {at + ': ' if at else ''}{e.message[:200]}")
