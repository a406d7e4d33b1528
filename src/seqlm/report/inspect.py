"""``seqlm inspect``: look inside a trained recurrent LM, on a text or on a held-out split.

:func:`inspect_text` writes, into one directory,

    inspect.json          every gate and state per layer, step and unit, the next-token
                          distribution and the lookback gradients (schema_version 1,
                          checked against inspect.schema.json, written beside it)
    inspect.html          the same, self-contained: the text coloured by a chosen unit,
                          heatmaps of every gate, next-word probability, lookback
    heatmap_layer<l>.pdf/.png   every gate and state of layer l over the text

:func:`inspect_split` measures a held-out split for one or more checkpoints and writes
``inspect_split.json`` (both measurements, per unit), the saturation table
``saturation.csv/.md`` with Figure ``saturation.pdf/.png`` (Karpathy et al. 2015, Fig. 3),
and ``lookback.pdf/.png`` (the mean lookback gradient against the lag).

The text is run in float64 (so inspect.json holds the reference's values); a split in
float32 (the saturation counts and the mean gradients do not need more).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqlm.errors import SeqlmError
from seqlm.io import check_output_dir, write_json, write_text
from seqlm.reference.layout import cell_label, gru_variant

SCHEMA_VERSION = 1
KIND = "seqlm-inspect"
SCHEMA_FILE = Path(__file__).with_name("inspect.schema.json")
JSON_DECIMALS = 7       # gates and states in inspect.json: absolute error ≤ 5e-8


def inspect_schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@dataclass
class Inspectable:
    """A loaded checkpoint and what the inspection needs to know about it."""

    model: object
    vocab: object
    path: Path
    train_unit: str | None
    data: str | None
    seed: int

    @property
    def label(self) -> str:
        c = self.model.config
        return f"{cell_label(c.cell, gru_variant(c.backend, c.variant))} {c.num_layers}×{c.hidden_size}"


def load_inspectable(path: str | Path) -> Inspectable:
    """A recurrent LM checkpoint (a run directory or a checkpoint directory)."""
    from seqlm.analysis.inspect import recurrent_parts
    from seqlm.train.checkpoint import load_checkpoint, read_config

    ck = load_checkpoint(path, trainer_state=False)
    ck.model.eval()
    try:
        recurrent_parts(ck.model)
    except SeqlmError as e:
        raise SeqlmError(f"{path}: {e}") from None
    extra = read_config(ck.path)
    unit = (ck.train_config or {}).get("unit", "stream") if ck.train_config else None
    return Inspectable(ck.model, ck.vocab, ck.path, unit, extra.get("data"), int(extra.get("seed") or 0))


def _mode(ck: Inspectable, mode: str | None) -> str:
    """The requested mode, or the one the model was trained in (stream when unknown)."""
    return mode or ck.train_unit or "stream"


def _check_out(out: Path) -> None:
    check_output_dir(out)  # under a file, unwritable, /proc, /sys: one line, before any work


# ------------------------------------------------------------------ a text
def inspect_text(checkpoint: str | Path, text: str, out_dir: str | Path, mode: str | None = None,
                 max_lag: int = 50, top_k: int = 5, max_tokens: int = 1000,
                 command: str | None = None, log=print) -> dict:
    """Inspect ``text``; write inspect.json, inspect.html and the heatmaps into ``out_dir``.
    Returns the inspect.json document with ``files`` (the paths written) added."""
    import torch

    from seqlm.analysis.inspect import encode_text, record
    from seqlm.analysis.lookback import lookback

    out = Path(out_dir)
    _check_out(out)
    if min(max_lag, top_k, max_tokens) < 1:
        raise SeqlmError(f"--max-lag, --top-k and --max-tokens must be >= 1, got {max_lag}, {top_k}, {max_tokens}")
    if not text.strip():  # before loading: the one line says what is wrong, nothing else
        raise SeqlmError("the text is empty: nothing to inspect")
    ck = load_inspectable(checkpoint)
    ids, toks, unknown = encode_text(ck.vocab, text)
    if ids.size > max_tokens:
        raise SeqlmError(f"the text has {ids.size} tokens (<eos> included); inspect shows at most "
                         f"{max_tokens} (raise --max-tokens, or inspect a shorter text)")
    mode = _mode(ck, mode)
    if unknown:
        log(f"{len(unknown)} of {ids.size} tokens are not in the model's vocabulary and read as <unk>: "
            + ", ".join(sorted(set(unknown))[:10]) + (" …" if len(set(unknown)) > 10 else ""))
    rec = record(ck.model, ids, mode, top_k=top_k, dtype=torch.float64)
    lb = lookback(ck.model, ids, mode, max_lag=max_lag, recording=rec, dtype=torch.float64)
    doc = inspection_document(ck, rec, lb, toks, unknown, command)
    check_document(doc)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "inspect.json", doc)
    write_json(out / "inspect.schema.json", inspect_schema())
    from seqlm.report.inspect_html import render_inspect_html
    write_text(out / "inspect.html", render_inspect_html(doc))
    files = [out / "inspect.json", out / "inspect.html"]
    files += write_heatmaps(doc, out)
    return doc | {"files": [str(f) for f in files]}


def inspection_document(ck: Inspectable, rec, lb, toks: list[str], unknown: list[str],
                        command: str | None = None) -> dict:
    """The inspect.json dictionary (see inspect.schema.json)."""
    import seqlm
    from seqlm.analysis.inspect import LABELS
    from seqlm.data.vocab import EOS

    c = ck.model.config
    vocab = ck.vocab
    surface = [EOS] + toks[:-1]                             # what step t read, as written
    norms = [[float(v) for v in row[np.isfinite(row)]] for row in lb.norms]
    doc = {
        "schema_version": SCHEMA_VERSION, "kind": KIND, "seqlm_version": seqlm.__version__,
        "checkpoint": str(ck.path),
        "model": {"cell": c.cell, "variant": rec.variant, "backend": c.backend, "num_layers": c.num_layers,
                  "hidden_size": c.hidden_size, "embed_size": c.embed_size, "vocab_size": len(vocab),
                  "level": vocab.level, "train_unit": ck.train_unit},
        "mode": rec.mode, "precision": rec.meta["dtype"],
        "text": {"tokens": len(rec), "unknown": len(unknown), "unknown_tokens": unknown},
        "gates": list(rec.names), "labels": {n: LABELS[n] for n in rec.names},
        "steps": {"input": surface, "target": list(toks),
                  "input_id": rec.inputs.tolist(), "target_id": rec.targets.tolist(),
                  "unknown": [bool(t != EOS and t not in vocab) for t in surface]},
        "next": {"p": np.exp(rec.logprob).tolist(), "logprob": rec.logprob.tolist(),
                 "entropy": np.maximum(rec.entropy, 0.0).tolist(),
                 "top": [[[vocab.token(int(i)), float(p)] for i, p in zip(ti, tp)]
                         for ti, tp in zip(rec.top_ids, rec.top_probs)]},
        "layers": [{n: np.round(layer[n], JSON_DECIMALS).tolist() for n in rec.names} for layer in rec.layers],
        "lookback": {"max_lag": lb.max_lag, "norms": norms},
    }
    if command:
        doc["command"] = command
    return doc


def check_document(doc: dict) -> None:
    """A document that breaks its schema, or holds NaN or inf, is a bug: never write it."""
    import jsonschema

    errors = [f"{e.json_path}: {e.message}" for e in
              jsonschema.Draft202012Validator(inspect_schema()).iter_errors(doc)]
    try:
        json.dumps(doc, allow_nan=False)
    except ValueError:
        errors.append("$: a non-finite number (NaN or inf is not JSON)")
    if errors:
        raise AssertionError("inspect.json does not match its schema: " + "; ".join(errors[:5]))


def write_heatmaps(doc: dict, out: Path) -> list[Path]:
    """heatmap_layer<l>.pdf/.png: every gate and state of each layer over the text."""
    from seqlm.figures.inspect import plot_gate_heatmaps

    m = doc["model"]
    show = [("⏎" if t == "<eos>" else t) for t in doc["steps"]["input"]]
    files = []
    for l, layer in enumerate(doc["layers"]):
        arrays = {n: np.asarray(v) for n, v in layer.items()}
        title = (f"{cell_label(m['cell'], m['variant'])} layer {l + 1} of {m['num_layers']} ({m['hidden_size']} units"
                 f"{', first 64 shown' if m['hidden_size'] > 64 else ''}), {doc['mode']} mode")
        files += plot_gate_heatmaps(arrays, show, out / f"heatmap_layer{l + 1}",
                                    p_next=np.asarray(doc["next"]["p"]), title=title)
    return files


# ------------------------------------------------------------------ a held-out split
def split_corpus(ck: Inspectable, data: str | None):
    """The corpus a split is read from: ``data``, or the one the checkpoint was trained
    on (its config.json records it: seqlm.train.run_corpus); its vocabulary must be the
    model's."""
    from seqlm.train.checkpoint import read_config
    from seqlm.train.run_corpus import corpus_for_run

    corpus, _ = corpus_for_run(read_config(ck.path), ck.vocab, ck.path, data=data)
    return corpus, data or corpus.spec.label()


def inspect_split(checkpoints: list, split: str, out_dir: str | Path, data: str | None = None,
                  mode: str | None = None, max_lag: int = 30, max_targets: int | None = 4000,
                  low: float = 0.1, high: float = 0.9, log=print) -> dict:
    """Gate saturation and the mean lookback gradient of each checkpoint over ``split``.
    The lookback is measured on ``max_targets`` evenly spaced targets (None: all)."""
    from seqlm.analysis.inspect import SIGMOID_GATES, record, saturation
    from seqlm.analysis.lookback import lookback
    from seqlm.figures.inspect import plot_lookback, plot_saturation

    out = Path(out_dir)
    _check_out(out)
    if max_lag < 1 or (max_targets is not None and max_targets < 1):
        raise SeqlmError(f"--max-lag and --max-targets must be >= 1, got {max_lag}, {max_targets}")
    if not 0.0 < low < high < 1.0:
        raise SeqlmError(f"saturation thresholds must satisfy 0 < --low < --high < 1, got {low}, {high}")
    loaded = [load_inspectable(p) for p in checkpoints]
    labels = _unique_labels(loaded)
    sats, curves, entries = {}, {}, []
    for ck, lab in zip(loaded, labels):
        corpus, source = split_corpus(ck, data)
        ids = corpus.split(split)
        m = _mode(ck, mode)
        cell = ck.model.config.cell
        keep = tuple(dict.fromkeys(SIGMOID_GATES[cell] + ("h",) + (("c",) if cell == "lstm" else ())))
        rec = record(ck.model, ids, m, keep=keep, next_word=False)
        pos = None if max_targets is None or ids.size <= max_targets else \
            np.unique(np.linspace(0, ids.size - 1, max_targets).round().astype(np.int64))
        lb = lookback(ck.model, ids, m, max_lag=max_lag, positions=pos, recording=rec)
        entry = {"label": lab, "checkpoint": str(ck.path), "cell": cell, "variant": rec.variant,
                 "data": source, "split": split, "mode": m, "tokens": int(ids.size),
                 "lookback": {"targets": int(lb.norms.shape[0]), "mean": _nan_list(lb.mean()),
                              "median": _nan_list(lb.median()), "relative": _nan_list(lb.relative()),
                              "counts": lb.counts().tolist()}}
        if SIGMOID_GATES[cell]:
            sat = saturation(rec, low, high)
            sats[lab] = sat
            entry["saturation"] = {"rows": sat.rows(), "units": [
                {g: {"left": left.tolist(), "right": right.tolist()} for g, (left, right) in layer.items()}
                for layer in sat.layers]}
        curves[lab] = (lb.mean(), lb.relative(), lb.counts())
        entries.append(entry)
        log(f"{lab} ({ck.path}): {ids.size:,} {split} tokens, {m} mode"
            + (f"; {_sat_line(sats[lab])}" if lab in sats else "; no gates to saturate"))
    out.mkdir(parents=True, exist_ok=True)
    doc = {"schema_version": SCHEMA_VERSION, "kind": "seqlm-inspect-split", "split": split,
           "low": low, "high": high, "max_lag": max_lag, "models": entries}
    write_json(out / "inspect_split.json", doc)
    files = [out / "inspect_split.json"]
    if sats:
        write_text(out / "saturation.csv", saturation_csv(entries))
        write_text(out / "saturation.md", saturation_markdown(entries, low, high))
        files += [out / "saturation.csv", out / "saturation.md"]
        files += plot_saturation(sats, out / "saturation")
    try:
        files += plot_lookback(curves, out / "lookback", min_count=min(20, max(1, lb.norms.shape[0] // 10)),
                               title=f"{split} split")
    except ValueError as e:
        log(f"lookback figure skipped: {e}")
    return doc | {"files": [str(f) for f in files]}


def _unique_labels(loaded: list[Inspectable]) -> list[str]:
    labels = [ck.label for ck in loaded]
    return [f"{lab} ({ck.path.parent.name if ck.path.name in ('best', 'checkpoint') else ck.path.name})"
            if labels.count(lab) > 1 else lab for lab, ck in zip(labels, loaded)]


def _nan_list(a: np.ndarray) -> list:
    return [None if not np.isfinite(v) else float(v) for v in a]


def _sat_line(sat) -> str:
    return "; ".join(f"layer {r['layer']} {r['gate']}: left {r['mean_left']:.2f}, right {r['mean_right']:.2f}"
                     for r in sat.rows())


SAT_COLUMNS = ("model", "layer", "gate", "units", "mean_left", "mean_right", "mostly_left",
               "mostly_right", "rarely_saturated")


def _sat_rows(entries: list[dict]) -> list[list]:
    return [[e["label"]] + [r[k] for k in SAT_COLUMNS[1:]]
            for e in entries for r in e.get("saturation", {}).get("rows", [])]


def saturation_csv(entries: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SAT_COLUMNS)
    w.writerows(_sat_rows(entries))
    return buf.getvalue()


def saturation_markdown(entries: list[dict], low: float, high: float) -> str:
    head = ["model", "layer", "gate", "units", f"mean frac. < {low:g}", f"mean frac. > {high:g}",
            "units mostly left (> 50 % of steps)", "units mostly right", "units rarely saturated (< 10 %)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * 6]
    for r in _sat_rows(entries):
        lines.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.3f} | {r[5]:.3f} | {r[6]} | {r[7]} | {r[8]} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ for seqlm compare
def pick_sentence(ids: np.ndarray, vocab, shortest: int | None = None, longest: int | None = None) -> str:
    """The first sentence of ``ids`` with ``shortest``..``longest`` tokens (<eos> included;
    default 10..20 words or 40..100 characters), else the longest of the first 200, cut."""
    from seqlm.data.batching import sentences

    lo, hi = (40, 100) if vocab.level == "char" else (10, 20)
    lo, hi = shortest or lo, longest or hi
    sents = sentences(ids, vocab.eos_id)
    if not sents:
        raise SeqlmError("no sentence to inspect")
    pick = next((s for s in sents if lo <= len(s) <= hi), max(sents[:200], key=len)[:hi])
    return vocab.detokenize(pick).strip("\n")


def compare_inspection(run_dir: str | Path, corpus, redo: bool = True, name: str = "lstm",
                       log=print) -> dict | None:
    """``seqlm compare``'s look inside its ``name`` model: one test sentence inspected into
    ``RUN/inspect`` (inspect.html, inspect.json, heatmaps). ``redo=False`` only reports
    an inspection made earlier. None when the comparison has no such model."""
    run = Path(run_dir)
    model_dir, out = run / "models" / name, run / "inspect"
    if redo and (model_dir / "best" / "config.json").exists():
        text = pick_sentence(corpus.test, corpus.vocab)
        log(f"inspect: the {name} on one test sentence -> {out / 'inspect.html'}")
        inspect_text(model_dir, text, out, max_lag=30, log=log)
    if not (out / "inspect.json").exists():
        return None
    doc = json.loads((out / "inspect.json").read_text(encoding="utf-8"))
    top = out / f"heatmap_layer{doc['model']['num_layers']}.png"
    sep = "" if doc["model"]["level"] == "char" else " "
    return {"html": out / "inspect.html", "heatmap": top if top.exists() else None, "model": name,
            "text": sep.join(doc["steps"]["target"][:-1]), "tokens": doc["text"]["tokens"],
            "mean_p": float(np.mean(doc["next"]["p"])), "mode": doc["mode"],
            "layers": doc["model"]["num_layers"], "variant": doc["model"]["variant"]}
