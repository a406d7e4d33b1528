"""``inspect.html``: one self-contained page from the inspect.json document.

Rendered from the Jinja2 template ``templates/inspect.html.j2``: CSS and vanilla
JavaScript inline, the data embedded as JSON (Jinja's ``tojson`` escapes ``<``, ``>``
and ``&``, so no token can close the script element), every picture drawn on a
canvas in the browser. It opens from disk with no server and fetches nothing.
"""
from __future__ import annotations

import numpy as np

from seqlm.reference.layout import cell_label
from seqlm.report.render import render_template

HTML_DECIMALS = 4      # the page draws colours: four decimals are plenty and keep it small


def _page_data(doc: dict) -> dict:
    """The document with its arrays rounded for drawing."""
    data = dict(doc)
    data["layers"] = [{n: np.round(np.asarray(v), HTML_DECIMALS).tolist() for n, v in layer.items()}
                      for layer in doc["layers"]]
    data["lookback"] = {"max_lag": doc["lookback"]["max_lag"],
                        "norms": [[float(f"{v:.4g}") for v in row] for row in doc["lookback"]["norms"]]}
    cell = doc["model"]["cell"]
    data["default_gate"] = "c" if cell == "lstm" else ("z" if cell == "gru" else "h")
    return data


def _lead(doc: dict) -> str:
    m, t = doc["model"], doc["text"]
    return (f"{cell_label(m['cell'], m['variant'])}, {m['num_layers']} layer{'s' if m['num_layers'] > 1 else ''} × "
            f"{m['hidden_size']} units, {m['backend']} backend, {m['level']} level, vocabulary "
            f"{m['vocab_size']:,}; {t['tokens']} tokens read in {doc['mode']} mode "
            f"({'each sentence from the zero state' if doc['mode'] == 'sentence' else 'state carried across lines'}); "
            f"checkpoint {doc['checkpoint']}.")


def render_inspect_html(doc: dict) -> str:
    t = doc["text"]
    unk = (f"{t['unknown']} of {t['tokens']} tokens are not in the vocabulary and were read as <unk> "
           f"(dotted underline)." if t["unknown"] else "Every token is in the vocabulary.")
    m = doc["model"]
    title = f"{cell_label(m['cell'], m['variant'])} {m['num_layers']}×{m['hidden_size']} on {t['tokens']} tokens"
    return render_template("inspect.html.j2", title=title, lead=_lead(doc), unk_note=unk,
                           data=_page_data(doc))
