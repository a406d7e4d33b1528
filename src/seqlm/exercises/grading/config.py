"""A teacher's grading configuration: points and Gradescope visibility per case, and a
seed kept out of the students' sight.

    # grading.toml
    seed = 20261207                     # every randomised case draws from it
    [cases."GRU learns the adding problem"]
    points = 4
    visibility = "after_published"      # hidden | after_due_date | after_published | visible

Cases not named keep their defaults (``seqlm exercises show PN`` lists them with points).
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path

from seqlm.errors import SeqlmError
from seqlm.train.settings import toml_document

VISIBILITY = ("hidden", "after_due_date", "after_published", "visible")
CASE_KEYS = ("points", "visibility")


@dataclass(frozen=True)
class GradingConfig:
    """What the file says: ``seed`` (None: not set) and {case: (points, visibility)}."""

    seed: int | None = None
    weights: dict = field(default_factory=dict)


def _near(key: str, choices) -> str:
    close = difflib.get_close_matches(key, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_config(path: str | Path, cases) -> GradingConfig:
    """Read and check ``path`` against the exercise's ``cases`` (their defaults fill in)."""
    path = Path(path)
    doc = toml_document(path)
    for key in doc:
        if key not in ("seed", "cases"):
            raise SeqlmError(f"{path}: unknown key {key!r}{_near(key, ('seed', 'cases'))}")
    seed = doc.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
        raise SeqlmError(f"{path}: seed must be an integer in [0, 2^63), got {seed!r}")
    by_name = {c.name: c for c in cases}
    tables = doc.get("cases", {})
    if not isinstance(tables, dict):
        raise SeqlmError(f"{path}: [cases] must be a table of tables, one per case name")
    weights = {}
    for name, table in tables.items():
        if name not in by_name:
            raise SeqlmError(f"{path}: no case is named {name!r}{_near(name, by_name)}")
        if not isinstance(table, dict):
            raise SeqlmError(f'{path}: [cases."{name}"] must be a table (points = ..., visibility = ...)')
        for key in table:
            if key not in CASE_KEYS:
                raise SeqlmError(f'{path}: unknown key {key!r} in [cases."{name}"]{_near(key, CASE_KEYS)}')
        points = table.get("points", by_name[name].points)
        if isinstance(points, bool) or not isinstance(points, (int, float)) or not math.isfinite(points) \
                or points < 0:
            raise SeqlmError(f'{path}: points of "{name}" must be a number ≥ 0, got {points!r}')
        visibility = table.get("visibility", by_name[name].visibility)
        if visibility not in VISIBILITY:
            raise SeqlmError(f'{path}: visibility of "{name}" must be one of {", ".join(VISIBILITY)}, '
                             f"got {visibility!r}")
        weights[name] = (float(points), visibility)
    return GradingConfig(seed, weights)
