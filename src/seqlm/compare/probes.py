"""Linear probes of a comparison's recurrent models (``seqlm probe``, and the
probe table of the ``seqlm compare`` report on the synthetic corpus).

:func:`probe_checkpoints` probes each model directory (its ``best/`` checkpoint)
in the mode it was trained in (``TrainConfig.unit``: stream or sentence);
:func:`write_probes` writes ``probe.json``, ``probe.csv``, ``probe.md`` and the
figure ``probe_accuracy.pdf/.png``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from seqlm.compare.stages import stable_hash
from seqlm.errors import SeqlmError
from seqlm.io import write_json, write_text

RECURRENT = ("rnn", "lstm", "gru")


def probe_checkpoints(paths: dict[str, str | Path], corpus, control: bool = True,
                      fit_split: str = "valid", eval_split: str = "test", mode: str | None = None,
                      log=None) -> list:
    """``{name: checkpoint or run directory}`` -> one ``ProbeResult`` each, in order.
    ``control``: also probe each model as it was before training (the trainer's
    initial weights, ``build_model(config, seed)`` with the checkpoint's seed)."""
    from seqlm.analysis.probes import probe_model
    from seqlm.train.checkpoint import load_checkpoint, read_config

    out = []
    for name, path in paths.items():
        ck = load_checkpoint(path, trainer_state=False)
        ck.model.eval()
        ck.vocab.check_same(corpus.vocab, f"checkpoint {path} and the corpus")
        unit = (ck.train_config or {}).get("unit", "stream")
        m = mode or ("sentence" if unit == "sentence" else "stream")
        if log:
            log(f"probing {name} ({ck.path}, {m} mode)")
        # The control is the model as the trainer initialised it: build_model(config, seed).
        seed = int(read_config(ck.path).get("seed") or 0)
        out.append(probe_model(ck.model, corpus, name, fit_split, eval_split, m,
                               control_seed=seed if control else None))
    return out


def compare_run_models(run_dir: str | Path) -> dict[str, Path]:
    """The recurrent models a ``seqlm compare`` run trained: ``{name: models/<name>}``."""
    run = Path(run_dir)
    found = {n: run / "models" / n for n in RECURRENT if (run / "models" / n / "config.json").exists()
             or (run / "models" / n / "best" / "config.json").exists()}
    if not found:
        raise SeqlmError(f"{run}: no recurrent model under models/ (rnn, lstm or gru): "
                         f"not a finished seqlm compare run?")
    return found


def write_probes(out_dir: str | Path, results: list, command: str = "") -> list[Path]:
    """``probe.json`` (every probe, the summary, the settings), ``probe.csv``,
    ``probe.md`` and ``probe_accuracy.pdf/.png``; returns the paths."""
    from seqlm.analysis.probes import scores_csv, summary_markdown, summary_rows
    from seqlm.figures.probes import plot_probe_accuracy

    out = Path(out_dir)
    rows = summary_rows(results)
    write_json(out / "probe.json", {"schema_version": 1, "kind": "seqlm-probes", "command": command,
                                    "summary": rows, "models": [r.to_dict() for r in results]})
    write_text(out / "probe.csv", scores_csv(results))
    write_text(out / "probe.md", "# Linear probes\n\n" + (f"Command: `{command}`\n\n" if command else "")
               + summary_markdown(results))
    return [out / "probe.json", out / "probe.csv", out / "probe.md",
            *plot_probe_accuracy(rows, out / "probe_accuracy")]


PROBE_FORMAT = 2  # bump when the probes' output changes meaning: cached results are redone


def compare_probes(out_dir: str | Path, corpus, stage_hashes: dict[str, str], log=None) -> dict | None:
    """The probes of a comparison's recurrent models, for its results and report.

    Only on the synthetic corpus (the features come from its generator); ``None``
    elsewhere. Cached like a stage: ``stages/probes-<hash>.json``, the hash covering
    the recurrent stages' own hashes, so the probes are redone exactly when a
    model is retrained. Writes ``probes/`` (see :func:`write_probes`).
    """
    if (getattr(corpus, "meta", None) or {}).get("generator") != "seqlm.synthetic":
        return None
    out = Path(out_dir)
    names = [n for n in RECURRENT if n in stage_hashes]
    if not names:
        return None
    h = stable_hash({"probes": PROBE_FORMAT, "models": {n: stage_hashes[n] for n in names}})
    cache = out / "stages" / f"probes-{h}.json"
    if cache.exists() and (out / "probes" / "probe_accuracy.png").exists():
        try:
            done = json.loads(cache.read_text(encoding="utf-8"))
            if log:
                log(f"probes skipped (finished earlier: {cache.relative_to(out)})")
            return done
        except json.JSONDecodeError:
            pass
    from seqlm.analysis.probes import summary_rows
    t0 = time.perf_counter()
    results = probe_checkpoints({n: out / "models" / n for n in names}, corpus, log=log)
    write_probes(out / "probes", results, f"seqlm probe --compare-run {out} --out {out / 'probes'}")
    done = {"summary": summary_rows(results), "settings": results[0].settings, "figure":
            "probes/probe_accuracy.png", "seconds": time.perf_counter() - t0}
    write_json(cache, done)
    return done
