"""``results.json`` of a comparison: its schema, a validator, and the CSV/Markdown tables.

One object per model in ``models``; perplexities are JSON numbers, and an
infinite perplexity (the unsmoothed MLE n-gram that gives some test token
probability zero) is written as ``null`` with ``*_zero_prob > 0`` beside it and
``*_ppl_finite`` (the perplexity over the other tokens) — JSON has no infinity.
The schema is JSON Schema (draft 2020-12), checked with the ``jsonschema``
library by :func:`validate`; every run writes it next to the results as
``results.schema.json``.
"""
from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import jsonschema

from seqlm.lm.config import gru_variant_of
from seqlm.reference.layout import with_variant

SCHEMA_VERSION = 1

_NUM = {"type": "number"}
_NUM_OR_NULL = {"type": ["number", "null"]}
_INT = {"type": "integer", "minimum": 0}

MODEL_SCHEMA: dict = {
    "type": "object",
    "required": ["name", "family", "mode", "valid_ppl", "test_ppl", "valid_bits_per_token",
                 "test_bits_per_token", "valid_zero_prob", "test_zero_prob", "parameters",
                 "train_seconds", "tokens_per_s", "gap_to_oracle_bits", "ppl_over_oracle",
                 "stage", "description", "config"],
    "properties": {
        "name": {"type": "string"},
        "family": {"enum": ["ngram", "neural"]},
        "description": {"type": "string"},
        "mode": {"enum": ["sentence", "stream"]},
        "valid_ppl": _NUM_OR_NULL, "test_ppl": _NUM_OR_NULL,
        "valid_ppl_finite": _NUM_OR_NULL, "test_ppl_finite": _NUM_OR_NULL,
        "valid_bits_per_token": _NUM_OR_NULL, "test_bits_per_token": _NUM_OR_NULL,
        "valid_zero_prob": _INT, "test_zero_prob": _INT,
        "stream_valid_ppl": _NUM_OR_NULL, "stream_test_ppl": _NUM_OR_NULL,
        "train_unit": {"enum": ["stream", "sentence"]},
        "parameters": _INT,
        "train_seconds": _NUM, "tokens_per_s": _NUM_OR_NULL,
        "gap_to_oracle_bits": _NUM_OR_NULL, "ppl_over_oracle": _NUM_OR_NULL,
        "stage": {"type": "string"},
        "config": {"type": "object"},
        "history": {"type": "array", "items": {
            "type": "object", "required": ["epoch", "valid_loss"],
            "properties": {"epoch": {"type": "integer", "minimum": 1}, "train_loss": _NUM_OR_NULL,
                           "valid_loss": _NUM, "valid_ppl": _NUM, "wall_time": _NUM_OR_NULL}}},
    },
}

RESULTS_SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "seqlm compare results.json",
    "type": "object",
    "required": ["schema_version", "kind", "command", "data", "preset", "seed", "config",
                 "config_hash", "versions", "machine", "eval_mode", "conventions",
                 "oracle_valid_ppl", "oracle_test_ppl", "models"],
    "properties": {
        "schema_version": {"type": "integer", "enum": [SCHEMA_VERSION]},
        "kind": {"enum": ["seqlm-compare-results"]},
        "command": {"type": "string"},
        "data": {"type": "object", "required": ["source", "name", "vocab_size", "valid_tokens",
                                                "test_tokens"]},
        "preset": {"type": "string"},
        "seed": {"type": "integer"},
        "config": {"type": "object"},
        "config_hash": {"type": "string"},
        "versions": {"type": "object", "required": ["seqlm", "torch", "numpy", "python"]},
        "machine": {"type": "object", "required": ["cpu", "cores", "platform", "device"]},
        "eval_mode": {"enum": ["sentence"]},
        "conventions": {"type": "string"},
        "oracle_valid_ppl": _NUM_OR_NULL,
        "oracle_test_ppl": _NUM_OR_NULL,
        # Only on the synthetic corpus: seqlm.compare.probes.compare_probes.
        "probes": {"type": "object", "required": ["summary", "settings", "figure"],
                   "properties": {"summary": {"type": "array", "items": {
                       "type": "object", "required": ["model", "feature", "accuracy", "majority"]}}}},
        "total_seconds": _NUM,
        "stage_seconds": {"type": "object"},
        "models": {"type": "array", "minItems": 1, "items": MODEL_SCHEMA},
    },
}

def validate(obj: Any, schema: dict = RESULTS_SCHEMA) -> list[str]:
    """Errors of ``obj`` against ``schema`` as ``"$.path: message"`` lines (empty
    when valid). Numbers must also be finite: NaN and inf are not JSON."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{e.json_path}: {e.message}" for e in sorted(validator.iter_errors(obj), key=str)]
    try:
        json.dumps(obj, allow_nan=False)
    except ValueError:
        errors.append("$: contains a non-finite number (NaN or inf is not JSON)")
    return errors


# ------------------------------------------------------------------ tables
COLUMNS = [  # (key, header, format)
    ("name", "model", "s"),
    ("valid_ppl", "valid ppl", "ppl"),
    ("test_ppl", "test ppl", "ppl"),
    ("test_bits_per_token", "test bits/token", ".3f"),
    ("gap_to_oracle_bits", "gap to oracle (bits)", ".3f"),
    ("stream_test_ppl", "test ppl (stream)", "ppl"),
    ("parameters", "parameters", ","),
    ("train_seconds", "train s", "sec"),
    ("tokens_per_s", "train tokens/s", ",.0f"),
]


def row_variant(model: dict) -> str | None:
    """The GRU variant of a results row, from its model settings (None: not a GRU)."""
    return gru_variant_of((model.get("config") or {}).get("model"))


def model_label(model: dict) -> str:
    """A row's name as the tables show it: a GRU names its variant ("gru (reset-after)")."""
    return with_variant(model["name"], row_variant(model))


def _cell(model: dict, key: str, fmt: str) -> str:
    if key == "name":
        return model_label(model)
    v = model.get(key)
    if key in ("valid_ppl", "test_ppl") and v is None:
        split = key.split("_")[0]
        zp = model.get(f"{split}_zero_prob", 0)
        fin = model.get(f"{split}_ppl_finite")
        return f"∞ ({zp} zero-prob; {fin:.2f} on the rest)" if fin is not None else f"∞ ({zp} zero-prob)"
    if v is None:
        return "–"
    if fmt == "s":
        return str(v)
    if fmt == "ppl":
        return f"{v:.2f}"
    if fmt == "sec":
        return f"{v:.2f}" if v < 10 else f"{v:.0f}"
    return format(v, fmt)


def table_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows of the results table (oracle row last, where known)."""
    header = [h for _, h, _ in COLUMNS]
    rows = [[_cell(m, k, f) for k, _, f in COLUMNS] for m in results["models"]]
    if results.get("oracle_test_ppl"):
        ov, ot = results.get("oracle_valid_ppl"), results["oracle_test_ppl"]
        row = ["oracle (true distribution)", f"{ov:.2f}" if ov else "–", f"{ot:.2f}",
               f"{math.log2(ot):.3f}", "0.000"] + ["–"] * (len(COLUMNS) - 5)
        rows.append(row)
    return header, rows


def results_markdown_table(results: dict) -> str:
    header, rows = table_rows(results)
    right = ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(right) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


CSV_FIELDS = ["name", "family", "description", "variant", "mode", "valid_ppl", "test_ppl", "valid_ppl_finite",
              "test_ppl_finite", "valid_zero_prob", "test_zero_prob", "valid_bits_per_token",
              "test_bits_per_token", "stream_valid_ppl", "stream_test_ppl", "gap_to_oracle_bits",
              "ppl_over_oracle", "parameters", "train_seconds", "tokens_per_s"]


def results_csv(results: dict) -> str:
    """One row per model; an infinite perplexity is written as ``inf``."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for m in results["models"]:
        row = {**m, "variant": row_variant(m)}  # "cho" or "reset_after" for a GRU
        for split in ("valid", "test"):
            if row.get(f"{split}_ppl") is None and row.get(f"{split}_zero_prob"):
                row[f"{split}_ppl"] = "inf"
        w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in CSV_FIELDS})
    return buf.getvalue()


def results_markdown(results: dict) -> str:
    """``results.md``: the table, the oracle and the conventions, for a quick look."""
    d = results["data"]
    lines = [f"# Comparison on {d['name']} ({results['eval_mode']} mode)", "",
             f"`{results['command']}`", "", results_markdown_table(results)]
    if results.get("oracle_test_ppl"):
        lines.append(f"Oracle test perplexity (the floor): {results['oracle_test_ppl']:.3f}.\n")
    lines.append(results["conventions"] + "\n")
    return "\n".join(lines)
