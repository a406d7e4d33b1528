"""The comparison's report: ``report.md`` (relative figure links) and ``report.html``
(self-contained: CSS inline, figures embedded as base64 PNG, opens with no server).

Both are rendered from one context (:func:`report_context`: every sentence and
table of the report) by the Jinja2 templates ``compare_report.md.j2`` and
``compare_report.html.j2`` in :mod:`seqlm.report`'s ``templates/``, so they always
say the same thing; the templates hold the layout only. Both are written atomically.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

from seqlm.analysis.probes import summary_table
from seqlm.compare.results import model_label, row_variant, table_rows
from seqlm.io import write_text
from seqlm.reference.layout import cell_label
from seqlm.report.render import render_template

MAIN = ("unigram", "bigram", "trigram", "5-gram", "ffnn", "rnn", "lstm", "gru")


def _summary(results: dict) -> str:
    """One sentence: the main models from worst to best, and the oracle."""
    by = {m["name"]: m for m in results["models"]}
    got = [(model_label(by[n]), by[n]["test_ppl"]) for n in MAIN
           if n in by and by[n].get("test_ppl") is not None]
    got.sort(key=lambda t: -t[1])
    chain = " > ".join(f"{n} {v:.2f}" for n, v in got)
    o = results.get("oracle_test_ppl")
    tail = f" ≥ oracle {o:.2f}" if o else ""
    text = f"Test perplexity ({results['eval_mode']} mode), worst to best: {chain}{tail}."
    st = [(model_label(by[n]), by[n]["stream_test_ppl"]) for n in MAIN
          if n in by and by[n].get("stream_test_ppl") is not None]
    if st:
        st.sort(key=lambda t: -t[1])
        text += " Neural models in stream mode: " + " > ".join(f"{n} {v:.2f}" for n, v in st) + "."
    return text


def _mode_note(results: dict) -> str | None:
    """Explain a sentence-mode perplexity clearly above the stream-mode one."""
    worse = [(model_label(m), m["test_ppl"], m["stream_test_ppl"]) for m in results["models"]
             if m.get("stream_test_ppl") and m.get("test_ppl")
             and m["test_ppl"] > 1.01 * m["stream_test_ppl"]]
    if not worse:
        return None
    names = ", ".join(f"{n} ({s:.2f} vs {t:.2f})" for n, s, t in worse)
    largest = max(worse, key=lambda w: w[1] / w[2])[0]
    independent = results.get("oracle_test_ppl") is not None  # the synthetic corpus
    context = ("This corpus's sentences are independent draws (the oracle's two modes coincide), "
               "so the stream number is the model's quality and the sentence number its quality "
               "under the n-grams' convention." if independent else
               "On a corpus whose sentences follow each other in running text (as in PTB), part "
               "of the stream-mode gain is real: the previous sentences are informative context "
               "that an n-gram in sentence mode never sees.")
    return ("Sentence vs stream: " + names + ". These models were trained on the token stream "
            "with the state carried across sentences, so a sentence boundary is normally entered "
            "with the state left by the previous sentence; sentence mode starts every sentence "
            "from the zero state instead, which a stream-trained model has almost never seen. "
            f"Here the cost is largest for the {largest}. " + context)


def _unit_note(results: dict) -> str | None:
    """Say which neural models were trained on independent sentences."""
    names = [model_label(m) for m in results["models"] if m.get("train_unit") == "sentence"]
    if not names:
        return None
    return (", ".join(names) + (" was" if len(names) == 1 else " were") + " trained on independent "
            "sentences (each sentence from the zero state, as it is scored here), so "
            "stream mode does not apply ('–'): such a model resets its state at every <eos>. "
            "A model trained on the stream with the state carried across sentences would "
            "instead enter every sentence in sentence mode from a state it has almost never "
            "seen, and pay for the mismatch (docs/compare.md measures it).")


COLUMNS_NOTE = (
    "valid/test ppl: sentence mode (every sentence scored from the sentence-start context). "
    "'test ppl (stream)': neural models with the state carried across sentences. 'gap to "
    "oracle': excess cross-entropy over the true distribution, in bits per token. 'train s': "
    "wall time of estimation or training (with per-epoch validation); 'train tokens/s': "
    "training throughput.")
REUSE_NOTE = ("Re-running this command reuses every finished stage (see stages/); delete the "
              "output directory to recompute from scratch.")
PROBES_NOTE = (
    "A multinomial logistic regression per feature of the synthetic grammar, from h_t (and c_t "
    "for the LSTM) of each layer, fitted on the {fit_split} split and scored on {eval_split} "
    "({eval_tokens:,} tokens, {mode} mode): the best layer and state per model and feature, "
    "against always answering the most frequent class (majority) and the same probe on the model "
    "before training (untrained). topic: the sentence's topic; subject_number: the number of the "
    "subject still waiting for its verb; verb_number: the number of a verb that may come next; "
    "pending_verbs: the verbs the sentence still owes (1 + open relative clauses). Attractors: "
    "the tokens where the last noun read has the other number (the dogs near the cat ...), where "
    "tracking the last noun is wrong. Best unit: the one unit that alone separates the classes "
    "best (its held-out accuracy, and the untrained model's best unit's). Made by seqlm probe "
    "(docs/probes.md).")


def _figure(number: str, caption: str, png: Path | None, note: str, base: Path) -> dict:
    """One figure for both templates: ``href`` (relative link, Markdown) wherever a PNG
    was made, ``data`` (base64, HTML) where it exists on disk."""
    return {"number": number, "caption": caption, "note": note,
            "href": png.relative_to(base).as_posix() if png is not None else None,
            "data": (base64.b64encode(png.read_bytes()).decode("ascii")
                     if png is not None and png.exists() else None)}


def _inspection(ins: dict | None, base: Path) -> dict | None:
    """The look inside the LSTM (``seqlm.report.inspect.compare_inspection``)."""
    if not ins:
        return None
    model = cell_label(ins["model"], ins.get("variant"))
    text = (f"The {model} read one test sentence ({ins['tokens']} tokens, {ins['mode']} mode): "
            f"\u201c{ins['text']}\u201d. Mean probability it gave the next token: {ins['mean_p']:.3f}. "
            f"The interactive page colours the text by any unit of any gate and shows how far back "
            f"each prediction looks; it is self-contained (open it from disk). Made by seqlm "
            f"inspect (docs/inspect.md).")
    heatmap = ins.get("heatmap")
    caption = (f"Every gate and state of the {model}'s top layer over the sentence (units × tokens "
               f"read), with the probability of each next token above.")
    return {"title": f"Inside the {model}", "text": text, "href": "inspect/inspect.html",
            "link": f"Open the {model} inspection (inspect/inspect.html)",
            "figure": _figure(f"{model} gates", caption, heatmap, "", base) if heatmap else None}


def _probes(results: dict, base: Path) -> dict | None:
    """The probe table (``seqlm.compare.probes.compare_probes``), on the synthetic corpus;
    a GRU's rows name its variant (from its results row where the probes predate the field)."""
    probes = results.get("probes")
    if not probes:
        return None
    by = {m["name"]: m for m in results["models"]}
    rows = [{**w, "variant": w.get("variant") or (row_variant(by[w["model"]]) if w["model"] in by else None)}
            for w in probes["summary"]]
    header, cells = summary_table(rows)
    png = base / probes["figure"]
    caption = ("Held-out probe accuracy per feature: bars the trained models, diamonds the "
               "untrained control, black lines the majority baseline.")
    return {"text": PROBES_NOTE.format(**probes["settings"]), "table": {"header": header, "rows": cells},
            "figure": _figure("probes", caption, png, "", base) if png.exists() else None}


def _environment(results: dict) -> list[str]:
    """The versions, the machine and (when timed) the wall time, one paragraph each."""
    v, m = results["versions"], results["machine"]
    out = [f"seqlm {v['seqlm']}, torch {v['torch']}, numpy {v['numpy']}, Python {v['python']}; "
           f"seed {results['seed']}.",
           f"Machine: {m['cpu']}, {m['cores']} cores"
           + (f" ({m['torch_threads']} torch threads)" if m.get("torch_threads") else "")
           + f", {m['platform']}; device {m['device']}" + (f", GPU {m['gpu']}" if m.get("gpu") else "") + "."]
    if results.get("total_seconds"):
        st = results.get("stage_seconds") or {}
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in st.items() if v is not None)
        out.append(f"Wall time of this invocation: {results['total_seconds']:.0f} s"
                   + (f"; each stage when it ran: {parts}." if parts else "."))
    return out


def report_context(results: dict, figures: list, inspection: dict | None, out_dir: Path) -> dict:
    """Everything the report says, for the two templates (figure paths relative to ``out_dir``)."""
    d = results["data"]
    header, rows = table_rows(results)
    return {
        "title": "seqlm compare: n-gram and neural language models on the same held-out set",
        "lead": (f"Corpus {d['name']} ({d['vocab_size']:,} words in the vocabulary; "
                 f"{d.get('train_tokens', 0):,} train, {d['valid_tokens']:,} valid, "
                 f"{d['test_tokens']:,} test tokens), preset {results['preset']}, seed {results['seed']}."),
        "command": results["command"], "reuse_note": REUSE_NOTE,
        "summary": _summary(results), "results_table": {"header": header, "rows": rows},
        "notes": [n for n in (_mode_note(results), _unit_note(results)) if n] + [COLUMNS_NOTE],
        "figures": [_figure(f.number, f.caption, f.file("png") if f.files else None, f.note, out_dir)
                    for f in figures],
        "inspection": _inspection(inspection, out_dir), "probes": _probes(results, out_dir),
        "conventions": results["conventions"],
        "config_line": f"Config hash {results['config_hash']}; data fingerprint {d.get('fingerprint', '–')}.",
        "config_json": json.dumps(results["config"], indent=2),
        "environment": _environment(results),
    }


def write_report(out_dir: str | Path, results: dict, figures: list,
                 inspection: dict | None = None) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    context = report_context(results, figures, inspection, out_dir)
    md, page = out_dir / "report.md", out_dir / "report.html"
    write_text(md, render_template("compare_report.md.j2", **context))
    write_text(page, render_template("compare_report.html.j2", **context))
    return md, page
