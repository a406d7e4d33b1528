"""The stages of a comparison: estimate the n-grams, train each neural model.

Each stage returns model entries (one dict per row of ``results.json``) that
hold everything the table needs; :mod:`seqlm.compare.runner` stores them under
``stages/<stage>-<hash>.json`` so a finished stage is never redone. Every
perplexity comes from :func:`seqlm.metrics.summarize` (through
``NGramModel.perplexity`` and ``seqlm.eval.evaluate``): all models are scored on
the same valid and test streams, every token once, ``<eos>`` included.
"""
from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
import warnings
from pathlib import Path

from seqlm.errors import Interrupted
from seqlm.io import recovered_dir, write_json
from seqlm.lm.config import gru_variant_of
from seqlm.metrics import Evaluation
from seqlm.reference.layout import with_variant


def stable_hash(obj, n: int = 12) -> str:
    """Hash of a JSON-able object, independent of key order: the key of a stage's
    settings (a changed setting re-runs only its own stage)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:n]


def _ppl(ev: Evaluation) -> float | None:
    """JSON has no infinity: an infinite perplexity is ``None`` (zero_prob says why)."""
    return ev.ppl if math.isfinite(ev.ppl) else None


def eval_fields(valid: Evaluation, test: Evaluation, oracle: dict) -> dict:
    """The per-split numbers of a row, and the gap to the oracle where it is known."""
    d = {"mode": valid.mode}
    for split, ev in (("valid", valid), ("test", test)):
        d[f"{split}_ppl"] = _ppl(ev)
        d[f"{split}_ppl_finite"] = ev.finite_ppl if math.isfinite(ev.finite_ppl) else None
        d[f"{split}_bits_per_token"] = ev.bits_per_token if math.isfinite(ev.bits_per_token) else None
        d[f"{split}_zero_prob"] = ev.zero_prob
        d[f"{split}_tokens"] = ev.tokens
    o = oracle.get("test")
    if o and d["test_ppl"] is not None:
        d["gap_to_oracle_bits"] = d["test_bits_per_token"] - math.log2(o)
        d["ppl_over_oracle"] = d["test_ppl"] / o
    else:
        d["gap_to_oracle_bits"] = d["ppl_over_oracle"] = None
    return d


# ------------------------------------------------------------------ n-grams
def run_ngrams(corpus, specs: list[dict], oracle: dict, log=print) -> list[dict]:
    """Fit every n-gram of ``specs`` on train; score valid and test in sentence mode."""
    from seqlm.ngram import build_ngram

    rows = []
    for spec in specs:
        model = build_ngram(spec["smoothing"], spec["order"])
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            # Order 1 has no continuation counts-of-counts; the model says so and
            # falls back to fixed discounts, which is the intended unigram.
            warnings.simplefilter("ignore", UserWarning)
            model.fit(corpus.train, corpus.vocab, mode="sentence")
        fit_s = time.perf_counter() - t0
        valid = model.perplexity(corpus.valid, "sentence")
        test = model.perplexity(corpus.test, "sentence")
        row = {"name": spec["name"], "family": "ngram", "description": spec["description"],
               **eval_fields(valid, test, oracle),
               "stream_valid_ppl": None, "stream_test_ppl": None,
               "parameters": int(model.num_parameters()), "train_seconds": fit_s,
               "tokens_per_s": corpus.train.size / fit_s if fit_s > 0 else None,
               "config": {"smoothing": spec["smoothing"], "order": spec["order"]}}
        rows.append(row)
        log(f"  {spec['name']:<14} {test.message()}")
    return rows


# ------------------------------------------------------------------ neural models
def _trained_seconds(metrics_path: Path) -> float:
    """The training time the sessions logged in ``metrics_path`` took (each session's
    ``wall_time`` counts from its own start), up to their last record."""
    total, last = 0.0, 0.0
    if not metrics_path.is_file():
        return 0.0
    for line in metrics_path.read_text(encoding="utf-8").splitlines():
        try:
            w = json.loads(line).get("wall_time")
        except (json.JSONDecodeError, AttributeError):
            continue
        if isinstance(w, (int, float)):
            if w < last:  # a new session started
                total += last
            last = float(w)
    return total + last


def read_history(metrics_path: Path) -> tuple[list[dict], float | None]:
    """Per-epoch train loss (mean of the epoch's logged intervals), validation loss
    (ln of the stream-mode validation perplexity) and wall time; and the mean
    training tokens/s, from a trainer's ``metrics.jsonl``."""
    train: dict[int, list[float]] = {}
    epochs: dict[int, dict] = {}
    speeds = []
    if not metrics_path.exists():
        return [], None
    for line in metrics_path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec.get("event") == "train":
            train.setdefault(int(rec["epoch"]), []).append(float(rec["train_loss"]))
            if rec.get("tokens_per_s"):
                speeds.append(float(rec["tokens_per_s"]))
        elif rec.get("event") == "epoch":
            epochs[int(rec["epoch"])] = rec
    hist = []
    for e in sorted(epochs):
        rec = epochs[e]
        tl = train.get(e)
        hist.append({"epoch": e, "train_loss": sum(tl) / len(tl) if tl else None,
                     "valid_loss": math.log(rec["valid_ppl"]), "valid_ppl": rec["valid_ppl"],
                     "wall_time": rec.get("wall_time")})
    return hist, (sum(speeds) / len(speeds) if speeds else None)


def _marker_hash(marker: Path) -> str | None:
    """The hash in a model directory's ``stage.json``; None if it is unreadable."""
    try:
        d = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return d.get("hash") if isinstance(d, dict) else None


class StageInterrupted(Interrupted):
    """A signal stopped a training stage after its checkpoint was saved."""


def _stage_dir(name: str, model_dir: Path, stage_hash: str, log) -> Path | None:
    """Ready ``model_dir`` for the stage; the directory to resume (its own unfinished run
    with the same hash), or None (another configuration's leftovers are removed)."""
    marker = model_dir / "stage.json"
    resume = None
    if model_dir.exists():
        same = _marker_hash(marker) == stage_hash
        if same and (recovered_dir(model_dir / "checkpoint") / "config.json").exists():
            resume = model_dir
            log(f"  resuming {name} from {model_dir / 'checkpoint'}")
        else:  # another configuration's leftovers: start over
            shutil.rmtree(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    write_json(marker, {"stage": name, "hash": stage_hash})
    return resume


def run_neural(name: str, spec: dict, corpus, oracle: dict, model_dir: Path, stage_hash: str,
               seed: int, device: str, eval_cfg: dict, progress_desc: str, data_source: str,
               log=print, step_hook=None, progress_position: int = 0) -> list[dict]:
    """Train one neural LM into ``model_dir`` (resuming its own unfinished run with
    the same hash), then evaluate its best checkpoint in sentence and stream mode.
    ``step_hook`` goes to the trainer (fault injection in tests)."""
    from seqlm.eval import evaluate
    from seqlm.train import TrainConfig, load_model, train
    resume = _stage_dir(name, model_dir, stage_hash, log)
    before = _trained_seconds(model_dir / "metrics.jsonl") if resume is not None else 0.0
    t0 = time.perf_counter()
    result = train(corpus, dict(spec["model"]), TrainConfig(**spec["train"]), out_dir=model_dir,
                   seed=seed, device=device, resume=resume, progress=True,
                   progress_position=progress_position, progress_desc=progress_desc,
                   data_source=data_source, step_hook=step_hook,
                   force=resume is None)  # the stage owns model_dir: a run without a checkpoint starts over
    if result.interrupted:
        # The trainer saved a checkpoint; the stage is not finished and must not be
        # recorded as such. The same command resumes it.
        raise StageInterrupted(f"{name} interrupted by signal {result.signal} at step "
                               f"{result.steps}; its checkpoint is in {model_dir / 'checkpoint'}",
                               result.signal or 2)
    train_s = before + time.perf_counter() - t0  # a resumed stage: its earlier sessions too
    history, speed = read_history(model_dir / "metrics.jsonl")

    from seqlm.train.devices import resolve_device
    model, _ = load_model(model_dir)  # best/: lowest validation perplexity
    model = model.to(resolve_device(device))
    sb, tb = eval_cfg["sentence_batch_size"], eval_cfg["stream_batch_size"]
    valid = evaluate(model, corpus.valid, "sentence", batch_size=sb)
    test = evaluate(model, corpus.test, "sentence", batch_size=sb)
    # A model trained on independent sentences resets its state at every <eos>
    # (Mikolov's "independent sentences"): its stream mode *is* sentence mode.
    independent = spec["train"].get("unit", "stream") == "sentence"
    s_valid = None if independent else evaluate(model, corpus.valid, "stream", batch_size=tb)
    s_test = None if independent else evaluate(model, corpus.test, "stream", batch_size=tb)
    cfg = spec["model"]
    desc = {"ffnn": f"feed-forward (Bengio 2003), n-1 = {cfg.get('context')}",
            "rnn": "vanilla RNN (tanh)", "lstm": "LSTM",
            "gru": with_variant("GRU", gru_variant_of(cfg))}.get(name, name)
    if cfg.get("kind") == "rnn":
        desc += f", {cfg.get('num_layers', 1)}×{cfg.get('hidden_size')}"
    row = {"name": name, "family": "neural", "description": desc,
           **eval_fields(valid, test, oracle),
           "stream_valid_ppl": s_valid and _ppl(s_valid), "stream_test_ppl": s_test and _ppl(s_test),
           "train_unit": spec["train"].get("unit", "stream"),
           "parameters": int(sum(p.numel() for p in model.parameters())),
           "train_seconds": train_s, "tokens_per_s": speed, "resumed": resume is not None,
           "config": {"model": cfg, "train": spec["train"]}, "history": history}
    log(f"  {name:<14} {test.message()}" + ("; trained on independent sentences" if independent
                                            else f"; stream {s_test.ppl:.2f}"))
    return [row]
