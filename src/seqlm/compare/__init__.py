"""The chapter's experiment (section 5.5.3): n-gram and neural LMs on the same held-out set.

    from seqlm.compare import run_compare
    results = run_compare("runs/demo", data="synthetic", preset="quick", seed=0)

writes ``results.json`` (schema: :data:`seqlm.compare.results.RESULTS_SCHEMA`),
``results.csv``, ``results.md``, ``figures/`` (Figures 5.1–5.6), ``report.md``
and ``report.html``; see :mod:`seqlm.compare.runner` for stages and resuming.
"""
from seqlm.compare.presets import PRESETS, get_preset
from seqlm.compare.results import RESULTS_SCHEMA, validate
from seqlm.compare.runner import run_compare

__all__ = ["run_compare", "PRESETS", "get_preset", "RESULTS_SCHEMA", "validate"]
