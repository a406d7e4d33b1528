"""``seqlm compare``: the chapter's experiment (section 5.5.3), end to end and resumable.

Stages, in order: ``ngram`` (all n-gram rows), ``ffnn``, ``rnn``, ``lstm``,
``gru``; then the results, the figures and the report (cheap, always redone).

Resumability: a finished stage writes ``OUT/stages/<stage>-<hash>.json``, the
hash covering the stage's own settings, the data (a fingerprint of vocabulary
and splits), the seed and the stage format. A re-run with the same settings
loads that file and logs ``skipped``; a killed run loses at most the stage in
progress, and a neural stage even resumes from its own last epoch checkpoint
(``OUT/models/<name>/checkpoint``).
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

from seqlm.compare.presets import (
    NEURAL_ORDER,
    fit_to_corpus,
    get_preset,
)
from seqlm.compare.results import (
    MODEL_SCHEMA,
    RESULTS_SCHEMA,
    SCHEMA_VERSION,
    results_csv,
    results_markdown,
    validate,
)
from seqlm.compare.stages import stable_hash
from seqlm.errors import SeqlmError
from seqlm.io import check_output_dir, lock_dir, write_json, write_text

STAGE_FORMAT = 1  # bump when a stage's output changes meaning: old stage files are not reused

CONVENTIONS = (
    "Perplexity = exp of the mean negative natural-log probability over every token of the "
    "split exactly once, <eos> included (sentence-start context is padding and never "
    "predicted), accumulated in float64 by seqlm.metrics.summarize for every model. "
    "Main table: 'sentence' mode — every sentence is scored from the sentence-start context "
    "alone (n-gram <s> padding; a neural model's state/window reset at each sentence), the "
    "apples-to-apples comparison. Neural models are also reported in 'stream' mode (state "
    "carried across sentences, batch size 1, the PTB literature's convention). "
    "All models share one vocabulary built from the training split, and the same valid/test "
    "streams. An infinite perplexity (unsmoothed MLE) is shown with its zero-probability "
    "token count and the perplexity over the remaining tokens.")


def corpus_fingerprint(corpus) -> str:
    return corpus.fingerprint  # seqlm.data.spec.fingerprint: vocabulary and id streams


def environment(device: str) -> tuple[dict, dict]:
    """(versions, machine) for the report."""
    import numpy as np
    import torch

    import seqlm
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"seqlm": seqlm.__version__, "torch": torch.__version__, "numpy": np.__version__,
                "python": platform.python_version()}
    machine = {"cpu": cpu, "cores": os.cpu_count() or 1, "torch_threads": torch.get_num_threads(),
               "platform": platform.platform(), "device": device}
    if torch.cuda.is_available():
        machine["gpu"] = torch.cuda.get_device_name(0)
    return versions, machine


def command_line(data, preset: str, out: str | Path, seed: int, device: str) -> str:
    """The command that reruns a comparison (``data``: a source or a CorpusSpec)."""
    import shlex

    from seqlm.data.spec import CorpusSpec
    if not isinstance(data, CorpusSpec):
        src = ["--data", str(data)]
    elif data.type == "files" and not data.source.endswith(".toml"):
        src = [a for s in ("train", "valid", "test") for a in (f"--{s}", data.files[s])]
    else:
        src = ["--data", data.source]
    if isinstance(data, CorpusSpec):
        for k, v in data.vocab_settings.items():
            if v not in (None, False) and not (k == "min_freq" and v == 1):
                src += [f"--{k.replace('_', '-')}"] + ([] if v is True else [str(v)])
    return shlex.join(["seqlm", "compare", *src, "--preset", preset,
                       "--out", str(out), "--seed", str(seed), "--device", device])


def load_data(spec):
    """The corpus of a comparison. The preset's ``synthetic`` options size the synthetic
    corpus (see :func:`run_compare`), whose own seed comes from its name
    (``synthetic:seed=N``), never from the comparison's ``--seed``."""
    from seqlm.data.spec import load
    return load(spec)


def compare_spec(data, config: dict, corpus: dict | None = None):
    """The :class:`~seqlm.data.spec.CorpusSpec` of a comparison (raw text gets the same
    defaults as in every command: :data:`seqlm.data.spec.RAW_TEXT_DEFAULTS`)."""
    from seqlm.data.spec import CorpusSpec, corpus_spec
    if isinstance(data, CorpusSpec):
        return data
    extra = config.get("synthetic", {}) if str(data).startswith("synthetic") else {}
    files = {k: (corpus or {}).get(k) for k in ("train", "valid", "test")}
    settings = {k: v for k, v in (corpus or {}).items() if k not in files}
    # raw text gets words and punctuation, 10,000 kept, as in every command (data.spec.RAW_TEXT_DEFAULTS)
    return corpus_spec(None if any(files.values()) else data, **files, **settings, **extra)


def run_compare(out_dir: str | Path, data="synthetic", preset: str = "quick", seed: int = 0,
                device: str = "auto", stop_after: str | None = None, figures: bool = True,
                threads: int | None = None, log=None, corpus: dict | None = None,
                workers: int | None = None) -> dict | None:
    """Run (or resume) the comparison into ``out_dir``; returns the results dict
    (``None`` when stopped early by ``stop_after``).

    ``data`` is a source name or a :class:`~seqlm.data.spec.CorpusSpec`; ``corpus``
    holds the corpus flags (``train``/``valid``/``test`` files, ``level``,
    ``tokenizer``, ``lowercase``, ``max_vocab``, ``min_freq``).

    ``threads``: torch intra-op threads while it runs (restored after); ``None``
    takes the preset's (1 for tiny/quick: small recurrent models run fastest on one
    thread, and a second OpenMP thread stalls badly when the cores are shared),
    ``0`` keeps torch's default.

    ``workers``: how many neural stages train side by side, each in its own process
    with one thread (:mod:`seqlm.compare.parallel`); ``None`` takes the
    preset's (1 but for ``ptb-quick``). The results do not depend on it.
    """
    config = get_preset(preset)
    check_output_dir(out_dir, "output directory")  # before torch is even imported
    import torch

    data = compare_spec(data, config, corpus)
    config = fit_to_corpus(config, preset, None, data.type == "synthetic")
    threads = config.get("threads") if threads is None else threads
    if workers is not None:
        config["workers"] = int(workers)
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        return _run(out_dir, data, preset, config, seed, device, stop_after, figures, log)
    finally:
        torch.set_num_threads(before)


def _run(out_dir, data, preset, config, seed, device, stop_after, figures, log) -> dict | None:
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    out = Path(out_dir)
    stage_names = ["ngram", *[n for n in NEURAL_ORDER if n in config["neural"]]]
    if stop_after is not None and stop_after not in stage_names:
        raise SeqlmError(f"--stop-after {stop_after!r}: not a stage (choose from {', '.join(stage_names)})")
    check_output_dir(out, "output directory")
    if (out / "checkpoint").is_dir() or (out / "best").is_dir():
        raise SeqlmError(f"{out} holds a 'seqlm train' run (checkpoint/, best/); choose another --out "
                         "for the comparison")
    with lock_dir(out, "seqlm compare"):
        return _run_locked(out, data, preset, config, seed, device, stop_after, figures, log,
                           stage_names)


def _run_locked(out, data, preset, config, seed, device, stop_after, figures, log,
                stage_names) -> dict | None:
    t_start = time.perf_counter()
    spec, corpus = data, load_data(data)
    data = spec.source  # as the user named it
    config = fit_to_corpus(config, preset, int(corpus.train.size), spec.type == "synthetic")
    fingerprint = corpus_fingerprint(corpus)
    oracle = {s: corpus.oracle_ppl(s) for s in ("valid", "test")}
    info = corpus.info()
    log(f"seqlm compare: {info['name']} ({info['vocab_size']:,} {spec.level or 'word'}s, "
        f"{info['train_tokens']:,} train / {info['valid_tokens']:,} valid / {info['test_tokens']:,} "
        f"test tokens), preset {preset}, seed {seed} -> {out}")
    if spec.type != "synthetic":
        log(f"  vocabulary: {corpus.vocab.tokenizer.describe()}"
            + (f", the {len(corpus.vocab):,} most frequent" if spec.max_vocab else "")
            + f"; OOV rate {100 * info['valid_oov_rate']:.2f}% valid, "
            f"{100 * info['test_oov_rate']:.2f}% test (seqlm data info shows the other choices)")
    common = {"data": data, "fingerprint": fingerprint, "seed": seed, "format": STAGE_FORMAT}
    full_config = {"data": data, "preset": preset, "seed": seed, **config}
    (out / "stages").mkdir(parents=True, exist_ok=True)

    rows, hashes, stage_seconds = _run_stages(out, corpus, config, common, stage_names, oracle,
                                              seed, device, data, stop_after, log)
    if stop_after is not None:
        log(f"stopped after stage {stop_after} (--stop-after); run the same command without it "
            f"to continue")
        return None

    versions, machine = environment(device)
    results = {
        "schema_version": SCHEMA_VERSION, "kind": "seqlm-compare-results",
        "command": command_line(spec, preset, out, seed, device),
        "data": {"source": data, "fingerprint": fingerprint, **info},
        "preset": preset, "seed": seed, "config": full_config, "config_hash": stable_hash(full_config),
        "versions": versions, "machine": machine, "eval_mode": "sentence",
        "conventions": CONVENTIONS,
        "oracle_valid_ppl": oracle["valid"], "oracle_test_ppl": oracle["test"],
        "models": rows, "stage_seconds": stage_seconds,
    }
    from seqlm.compare.probes import compare_probes
    if (probes := compare_probes(out, corpus, hashes, log)) is not None:  # synthetic corpus only
        results["probes"] = probes
    _write_tables(out, results)
    from seqlm.figures import existing_figures, make_figures
    if figures:
        log("figures: 5.1–5.6")
        figs = make_figures(out / "figures", results,
                            gradient_kwargs=config["figures"].get("gradient_kwargs"), log=log)
    else:  # the report shows whatever an earlier run drew
        figs = existing_figures(out / "figures")
    from seqlm.report.inspect import compare_inspection
    inspection = compare_inspection(out, corpus, redo=figures, log=log)  # inside the LSTM
    results["total_seconds"] = time.perf_counter() - t_start
    _write_tables(out, results)
    from seqlm.compare.report import write_report
    write_report(out, results, figs, inspection)
    log(f"done in {results['total_seconds']:.0f} s: {out / 'report.html'}")
    return results


def _run_stages(out, corpus, config, common, stage_names, oracle, seed, device, data,
                stop_after, log) -> tuple[list[dict], dict[str, str], dict[str, float | None]]:
    """Each stage in order, or its file from an earlier run: (rows, stage -> hash,
    stage -> seconds); stops after ``stop_after``. With the preset's ``workers`` > 1
    the neural stages run side by side (:mod:`seqlm.compare.parallel`), the n-grams
    first; the rows come back in stage order either way."""
    got: dict[str, list[dict]] = {}
    hashes: dict[str, str] = {}  # stage -> its hash (the probes are redone when a model is)
    stage_seconds: dict[str, float | None] = {}  # when each stage ran (maybe in an earlier run)
    n = len(stage_names)
    todo = []
    for k, name in enumerate(stage_names, 1):
        stage_cfg = config["ngrams"] if name == "ngram" else {**config["neural"][name],
                                                              "eval": config["eval"]}
        h = stable_hash({**common, "stage": name, "config": stage_cfg})
        hashes[name] = h
        path = out / "stages" / f"{name}-{h}.json"
        done = read_stage(path, h)
        if done is None and path.exists():
            log(f"stage {k}/{n}: {name}: {path.relative_to(out)} is unreadable or incomplete; "
                "running the stage again")
        if done is not None:
            log(f"stage {k}/{n}: {name} skipped (finished earlier: {path.relative_to(out)})")
            got[name], stage_seconds[name] = done["models"], done.get("seconds")
        else:
            todo.append((k, name, h, path, stage_cfg))
        if name == stop_after:
            break

    def finished(name, h, path, stage_cfg, rows, seconds):
        for row in rows:
            row["stage"] = name
        stage_seconds[name] = seconds
        write_json(path, {"stage": name, "hash": h, "config": stage_cfg, "models": rows,
                          "seconds": seconds})
        got[name] = rows

    workers = int(config.get("workers", 1))
    jobs = []
    for k, name, h, path, stage_cfg in todo:
        if name != "ngram" and workers > 1:
            jobs.append(dict(name=name, spec=config["neural"][name], oracle=oracle,
                             model_dir=out / "models" / name, stage_hash=h, seed=seed,
                             device=device, eval_cfg=config["eval"], desc=f"stage {k}/{n}: {name}",
                             data=data))
            continue
        log(f"stage {k}/{n}: {name}")
        t0 = time.perf_counter()
        if name == "ngram":
            from seqlm.compare.stages import run_ngrams
            rows = run_ngrams(corpus, config["ngrams"], oracle, log=log)
        else:
            from seqlm.compare.stages import run_neural
            rows = run_neural(name, config["neural"][name], corpus, oracle, out / "models" / name, h,
                              seed, device, config["eval"], f"stage {k}/{n}: {name}", data, log=log)
        finished(name, h, path, stage_cfg, rows, time.perf_counter() - t0)
    if jobs:
        _run_side_by_side(jobs, todo, corpus, config, workers, stage_names, finished, log)
    rows = [row for name in stage_names if name in got for row in got[name]]
    return rows, hashes, stage_seconds


def _run_side_by_side(jobs, todo, corpus, config, workers, stage_names, finished, log) -> None:
    """The neural stages of ``jobs`` on ``workers`` processes, longest first."""
    from seqlm.compare.parallel import run_parallel
    order = list(config.get("parallel_order", ())) + stage_names
    jobs.sort(key=lambda j: order.index(j["name"]))
    by_name = {name: (h, path, stage_cfg) for _, name, h, path, stage_cfg in todo}
    log(f"stages {', '.join(j['name'] for j in jobs)}: {min(workers, len(jobs))} at a time, "
        "1 thread each")
    run_parallel(jobs, corpus, workers, 1,
                 lambda job, rows, seconds: finished(job["name"], *by_name[job["name"]], rows, seconds))


def read_stage(path: Path, stage_hash: str) -> dict | None:
    """A finished stage's file, or None when it is missing or unreadable in any way
    (not UTF-8, not JSON, another hash, rows that break the schema): such a stage
    counts as not done and runs again."""
    try:
        done = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(done, dict) or done.get("hash") != stage_hash:
        return None
    rows = done.get("models")
    if not isinstance(rows, list) or not rows or any(validate(r, MODEL_SCHEMA) for r in rows):
        return None
    seconds = done.get("seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))):
        return None
    return done


def _write_tables(out: Path, results: dict) -> None:
    """results.json (checked against its schema first), its schema, .csv and .md."""
    errors = validate(results)
    if errors:  # a bug, not a user error: never write results that break the schema
        raise AssertionError("results.json does not match its schema: " + "; ".join(errors[:5]))
    write_json(out / "results.json", results)
    write_json(out / "results.schema.json", RESULTS_SCHEMA)
    write_text(out / "results.csv", results_csv(results))
    write_text(out / "results.md", results_markdown(results))
