"""The comparison's report: ``report.md`` (relative figure links) and ``report.html``
(self-contained: CSS inline, figures embedded as base64 PNG, opens with no server).

Both are rendered from one list of blocks, so they always say the same thing.
Both are written atomically.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from seqlm.compare.results import table_rows
from seqlm.io import write_text

MAIN = ("unigram", "bigram", "trigram", "5-gram", "ffnn", "rnn", "lstm", "gru")

CSS = """
body{font:15px/1.5 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1b1b1b;
     max-width:1100px;margin:2em auto;padding:0 1.5em;background:#fff}
h1{font-size:1.7em;margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
code,pre{font-family:'SFMono-Regular',Menlo,Consolas,monospace;font-size:.88em}
pre{background:#f6f8fa;padding:.8em 1em;border-radius:6px;overflow-x:auto}
p code{background:#f0f2f4;padding:.1em .3em;border-radius:3px}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}
th,td{border:1px solid #d8dde3;padding:.35em .7em;text-align:right}
th{background:#eef2f6} td:first-child,th:first-child{text-align:left}
tr:nth-child(even) td{background:#fafbfc} tr.oracle td{font-style:italic;background:#fff8e6}
figure{margin:1.5em 0;text-align:center} figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.92em;color:#444;margin-top:.4em} .note{color:#a33}
.lead{color:#555}
"""


def _summary(results: dict) -> str:
    """One sentence: the main models from worst to best, and the oracle."""
    by = {m["name"]: m for m in results["models"]}
    got = [(n, by[n]["test_ppl"]) for n in MAIN if n in by and by[n].get("test_ppl") is not None]
    got.sort(key=lambda t: -t[1])
    chain = " > ".join(f"{n} {v:.2f}" for n, v in got)
    o = results.get("oracle_test_ppl")
    tail = f" ≥ oracle {o:.2f}" if o else ""
    text = f"Test perplexity ({results['eval_mode']} mode), worst to best: {chain}{tail}."
    st = [(n, by[n]["stream_test_ppl"]) for n in MAIN
          if n in by and by[n].get("stream_test_ppl") is not None]
    if st:
        st.sort(key=lambda t: -t[1])
        text += " Neural models in stream mode: " + " > ".join(f"{n} {v:.2f}" for n, v in st) + "."
    return text


def _mode_note(results: dict) -> str | None:
    """Explain a sentence-mode perplexity clearly above the stream-mode one."""
    worse = [(m["name"], m["test_ppl"], m["stream_test_ppl"]) for m in results["models"]
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
    names = [m["name"] for m in results["models"] if m.get("train_unit") == "sentence"]
    if not names:
        return None
    return (", ".join(names) + (" was" if len(names) == 1 else " were") + " trained on independent "
            "sentences (each sentence from the zero state, as it is scored here), so "
            "stream mode does not apply ('–'): such a model resets its state at every <eos>. "
            "A model trained on the stream with the state carried across sentences would "
            "instead enter every sentence in sentence mode from a state it has almost never "
            "seen, and pay for the mismatch (docs/compare.md measures it).")


def _inspection_blocks(ins: dict | None) -> list[tuple]:
    """The look inside the LSTM (``seqlm.report.inspect.compare_inspection``)."""
    if not ins:
        return []
    model = ins["model"].upper()
    return [
        ("h2", f"Inside the {model}"),
        ("p", f"The {model} read one test sentence ({ins['tokens']} tokens, {ins['mode']} mode): "
              f"\u201c{ins['text']}\u201d. Mean probability it gave the next token: "
              f"{ins['mean_p']:.3f}. The interactive page colours the text by any unit of any gate "
              f"and shows how far back each prediction looks; it is self-contained (open it from "
              f"disk). Made by seqlm inspect (docs/inspect.md)."),
        ("link", "inspect/inspect.html", f"Open the {model} inspection (inspect/inspect.html)"),
        *([("figure", f"{model} gates", f"Every gate and state of the {model}'s top layer over the "
                       f"sentence (units × tokens read), with the probability of each next token "
                       f"above.", ins["heatmap"], "")] if ins.get("heatmap") else []),
    ]


def _probe_blocks(results: dict, out_dir: Path | None) -> list[tuple]:
    """The probe table (``seqlm.compare.probes.compare_probes``), on the synthetic corpus."""
    probes = results.get("probes")
    if not probes:
        return []
    from seqlm.analysis.probes import summary_table
    s = probes["settings"]
    header, rows = summary_table(probes["summary"])
    png = out_dir / probes["figure"] if out_dir is not None else None
    return [
        ("h2", "Probes: what the recurrent states hold"),
        ("p", f"A multinomial logistic regression per feature of the synthetic grammar, from h_t "
              f"(and c_t for the LSTM) of each layer, fitted on the {s['fit_split']} split and "
              f"scored on {s['eval_split']} ({s['eval_tokens']:,} tokens, {s['mode']} mode): the "
              f"best layer and state per model and feature, against always answering the most "
              f"frequent class (majority) and the same probe on the model before training "
              f"(untrained). topic: the sentence's topic; subject_number: the number of the "
              f"subject still waiting for its verb; verb_number: the number of a verb that may "
              f"come next; pending_verbs: the verbs the sentence still owes (1 + open relative "
              f"clauses). Attractors: the tokens where the last noun read has the other number "
              f"(the dogs near the cat ...), where tracking the last noun is wrong. Best unit: "
              f"the one unit that alone separates the classes best (its held-out accuracy, and "
              f"the untrained model's best unit's). Made by seqlm probe (docs/probes.md)."),
        ("table", header, rows),
        *([("figure", "probes", "Held-out probe accuracy per feature: bars the trained models, "
                                "diamonds the untrained control, black lines the majority baseline.",
            png, "")] if png is not None and png.exists() else []),
    ]


def build_blocks(results: dict, figures: list, inspection: dict | None = None,
                 out_dir: Path | None = None) -> list[tuple]:
    d = results["data"]
    header, rows = table_rows(results)
    v, m = results["versions"], results["machine"]
    blocks: list[tuple] = [
        ("h1", "seqlm compare: n-gram and neural language models on the same held-out set"),
        ("lead", f"Corpus {d['name']} ({d['vocab_size']:,} words in the vocabulary; "
                 f"{d.get('train_tokens', 0):,} train, {d['valid_tokens']:,} valid, "
                 f"{d['test_tokens']:,} test tokens), preset {results['preset']}, "
                 f"seed {results['seed']}."),
        ("h2", "Command"),
        ("pre", results["command"]),
        ("p", "Re-running this command reuses every finished stage (see stages/); delete the "
              "output directory to recompute from scratch."),
        ("h2", "Results"),
        ("p", _summary(results)),
        ("table", header, rows),
        *([("p", note)] if (note := _mode_note(results)) else []),
        *([("p", note)] if (note := _unit_note(results)) else []),
        ("p", "valid/test ppl: sentence mode (every sentence scored from the sentence-start "
              "context). 'test ppl (stream)': neural models with the state carried across "
              "sentences. 'gap to oracle': excess cross-entropy over the true distribution, in "
              "bits per token. 'train s': wall time of estimation or training (with per-epoch "
              "validation); 'train tokens/s': training throughput."),
        ("h2", "Figures"),
    ]
    for f in figures:
        png = f.file("png") if f.files else None
        blocks.append(("figure", f.number, f.caption, png, f.note))
    blocks += _inspection_blocks(inspection)
    blocks += _probe_blocks(results, out_dir)
    blocks += [
        ("h2", "Conventions"),
        ("p", results["conventions"]),
        ("h2", "Configuration"),
        ("p", f"Config hash {results['config_hash']}; data fingerprint {d.get('fingerprint', '–')}."),
        ("pre", json.dumps(results["config"], indent=2)),
        ("h2", "Environment"),
        ("p", f"seqlm {v['seqlm']}, torch {v['torch']}, numpy {v['numpy']}, Python {v['python']}; "
              f"seed {results['seed']}."),
        ("p", f"Machine: {m['cpu']}, {m['cores']} cores"
              + (f" ({m['torch_threads']} torch threads)" if m.get("torch_threads") else "")
              + f", {m['platform']}; device {m['device']}"
              + (f", GPU {m['gpu']}" if m.get("gpu") else "") + "."),
    ]
    if results.get("total_seconds"):
        st = results.get("stage_seconds") or {}
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in st.items() if v is not None)
        blocks.append(("p", f"Wall time of this invocation: {results['total_seconds']:.0f} s"
                            + (f"; each stage when it ran: {parts}." if parts else ".")))
    return blocks


def render_markdown(blocks: list[tuple], base: Path) -> str:
    out = []
    for b in blocks:
        kind = b[0]
        if kind == "h1":
            out.append(f"# {b[1]}\n")
        elif kind == "h2":
            out.append(f"## {b[1]}\n")
        elif kind in ("p", "lead"):
            out.append(f"{b[1]}\n")
        elif kind == "pre":
            out.append(f"```\n{b[1]}\n```\n")
        elif kind == "table":
            header, rows = b[1], b[2]
            out.append("| " + " | ".join(header) + " |")
            out.append("| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |")
            out += ["| " + " | ".join(r) + " |" for r in rows]
            out.append("")
        elif kind == "link":
            out.append(f"[{b[2]}]({b[1]})\n")
        elif kind == "figure":
            _, num, caption, png, note = b
            if png is not None:
                out.append(f"![Figure {num}]({png.relative_to(base).as_posix()})\n")
                out.append(f"*Figure {num}: {caption}*\n")
            else:
                out.append(f"*Figure {num}: {caption}* — not available: {note}\n")
    return "\n".join(out)


def render_html(blocks: list[tuple]) -> str:
    e = html.escape
    body = []
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{e(b[1])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{e(b[1])}</p>")
        elif kind == "lead":
            body.append(f'<p class="lead">{e(b[1])}</p>')
        elif kind == "pre":
            body.append(f"<pre>{e(b[1])}</pre>")
        elif kind == "link":
            body.append(f'<p><a href="{e(b[1])}">{e(b[2])}</a></p>')
        elif kind == "table":
            header, rows = b[1], b[2]
            t = ["<table>", "<tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"]
            for r in rows:
                cls = ' class="oracle"' if r[0].startswith("oracle") else ""
                t.append(f"<tr{cls}>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>")
            t.append("</table>")
            body.append("\n".join(t))
        elif kind == "figure":
            _, num, caption, png, note = b
            if png is not None and png.exists():
                data = base64.b64encode(png.read_bytes()).decode("ascii")
                body.append(f'<figure><img alt="Figure {e(num)}" src="data:image/png;base64,{data}">'
                            f"<figcaption><b>Figure {e(num)}.</b> {e(caption)}</figcaption></figure>")
            else:
                body.append(f'<p class="note"><b>Figure {e(num)}</b> ({e(caption)}) is not '
                            f"available: {e(note or 'not generated')}</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>seqlm compare report</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(out_dir: str | Path, results: dict, figures: list,
                 inspection: dict | None = None) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    blocks = build_blocks(results, figures, inspection, out_dir)
    md, page = out_dir / "report.md", out_dir / "report.html"
    write_text(md, render_markdown(blocks, out_dir))
    write_text(page, render_html(blocks))
    return md, page
