"""Every table row and every figure legend, tick or title that shows a GRU names its
variant ("cho" or "reset-after"), taken from the model's settings: seqlm has two GRUs
(eq. 5.11 as the book writes it, and PyTorch/cuDNN's), and a number without its
variant cannot be compared with anyone else's."""
from __future__ import annotations

import csv
import io
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from seqlm.analysis.longlag import LongLagConfig, LongLagResult  # noqa: E402
from seqlm.analysis.probes import summary_table  # noqa: E402
from seqlm.compare.example import example_results  # noqa: E402
from seqlm.compare.report import write_report  # noqa: E402
from seqlm.compare.results import results_csv, results_markdown, results_markdown_table  # noqa: E402
from seqlm.figures import captions, make_figures  # noqa: E402
from seqlm.figures.bottleneck import plot_accuracy_vs_length, plot_position_accuracy  # noqa: E402
from seqlm.figures.gradients import figure_5_2  # noqa: E402
from seqlm.figures.longlag import plot_learning_curves  # noqa: E402
from seqlm.figures.plots import plot_perplexity, plot_training_curves  # noqa: E402
from seqlm.figures.probes import plot_probe_accuracy  # noqa: E402
from seqlm.report.inspect import write_heatmaps  # noqa: E402

NAMED = re.compile(r"\bGRU \((cho|reset-after)\)", re.IGNORECASE)


def unnamed(texts) -> list[str]:
    """The texts that mention a GRU without its variant."""
    return [t for t in texts if re.search(r"\bgru\b", t, re.IGNORECASE)
            and len(re.findall(r"\bgru\b", t, re.IGNORECASE)) != len(NAMED.findall(t))]


def table_rows(text: str) -> list[str]:
    """Markdown table rows and HTML table rows, as text."""
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    rows += re.findall(r"<tr[^>]*>(.*?)</tr>", text, re.S)
    return rows


@pytest.fixture
def drawn(monkeypatch):
    """The matplotlib figures our plotting functions draw, kept open after saving so
    their legends, ticks and titles can be read."""
    close = plt.close
    close("all")
    monkeypatch.setattr(plt, "close", lambda *a, **k: None)

    def texts() -> list[str]:
        out = [t.get_text() for n in plt.get_fignums() for t in plt.figure(n).findobj(Text)]
        close("all")
        return [t for t in out if t]
    yield texts
    close("all")


def gru_row_variants(results: dict) -> list[str]:
    return [line for line in table_rows(results_markdown_table(results)) if "gru" in line]


def test_results_tables_name_the_variant(tmp_path):
    r = example_results()
    rows = gru_row_variants(r)
    assert rows and all("gru (reset-after)" in line for line in rows), rows
    assert not unnamed(table_rows(results_markdown(r)))
    csv_rows = {row["name"]: row for row in csv.DictReader(io.StringIO(results_csv(r)))}
    assert csv_rows["gru"]["variant"] == "reset_after" and csv_rows["lstm"]["variant"] == ""


def test_the_variant_comes_from_the_settings_not_the_name():
    r = example_results()
    gru = next(m for m in r["models"] if m["name"] == "gru")
    gru["config"]["model"].update(backend="explicit", variant=None)    # the explicit backend's own: cho
    assert all("gru (cho)" in line for line in gru_row_variants(r))
    assert "GRU (cho) language models" in captions(r)["5.5"]


def test_report_tables_and_probe_table_name_the_variant(tmp_path):
    r = example_results()
    r["probes"] = {"settings": {"fit_split": "valid", "eval_split": "test", "eval_tokens": 10,
                                "mode": "sentence"}, "figure": "none.png",
                   "summary": [{"model": m, "cell": m, "feature": "topic", "majority": 0.25,
                                "accuracy": 0.9, "layer": 1, "state": "h", "control": 0.3,
                                "attractor_accuracy": None, "control_attractor_accuracy": None,
                                "n_attractors": 0, "unit": "h[1]#3", "unit_accuracy": 0.5,
                                "control_unit_accuracy": 0.4} for m in ("lstm", "gru")]}
    write_report(tmp_path, r, [])
    for name in ("report.md", "report.html"):
        rows = table_rows((tmp_path / name).read_text(encoding="utf-8"))
        gru = [row for row in rows if "gru" in row]
        assert len(gru) == 2, (name, gru)                     # the results row and the probe row
        assert not unnamed(rows), (name, unnamed(rows))
    header, cells = summary_table([{**r["probes"]["summary"][1], "variant": "cho"}])
    assert cells[0][0] == "gru (cho)"


def test_figures_5_5_and_5_6_name_the_variant(tmp_path, drawn):
    r = example_results()
    plot_training_curves(r, tmp_path / "curves")
    plot_perplexity(r, tmp_path / "bars")
    texts = drawn()
    assert texts.count("GRU (reset-after)") >= 2    # the legend entry and the bar's tick
    assert not unnamed(texts), unnamed(texts)
    figs = make_figures(tmp_path / "figs", r, tikz=False, gradients=False, log=lambda m: None)
    assert not unnamed(f.caption for f in figs), [f.caption for f in figs]


def test_gradient_flow_legend_and_caption_name_the_variant(tmp_path, drawn):
    figure_5_2(tmp_path, length=12, hidden=6, input_size=3, n_seqs=3)
    texts = drawn()
    assert any(t.startswith("GRU (cho)") for t in texts), texts
    assert not unnamed(texts), unnamed(texts)
    assert "GRU (cho)" in captions()["5.2"] and "GRU (reset-after)" in captions(gradient_variant="reset_after")["5.2"]


def test_longlag_and_bottleneck_legends_name_the_variant(tmp_path, drawn):
    runs = [LongLagResult(LongLagConfig(cell=c, length=20, backend=b), 10, 1.0, 0.1, False, None, False,
                          [{"step": 5, "test": 0.2}, {"step": 10, "test": 0.1}])
            for c, b in (("lstm", "fused"), ("gru", "fused"))]
    plot_learning_curves(runs, tmp_path / "longlag")
    assert "GRU (reset-after)" in drawn()
    rows = [{"config": {"task": "copy", "cell": c, "hidden": 8, "length": T, "symbols": 4,
                        "backend": "explicit"},
             "token_accuracy": 0.5, "sequence_accuracy": 0.1, "position_accuracy": [0.6, 0.4]}
            for c in ("rnn", "gru") for T in (5, 10)]
    plot_accuracy_vs_length(rows, tmp_path / "bottleneck_T")
    plot_position_accuracy(rows, tmp_path / "bottleneck_j")
    texts = drawn()
    assert "GRU (cho), H = 8" in texts and not unnamed(texts), unnamed(texts)


def test_probe_and_inspect_figures_name_the_variant(tmp_path, drawn):
    rows = [{"model": m, "cell": m, "variant": v, "feature": "topic", "accuracy": 0.9,
             "control": 0.3, "majority": 0.25, "attractor_accuracy": None}
            for m, v in (("lstm", None), ("gru", "reset_after"))]
    plot_probe_accuracy(rows, tmp_path / "probes")
    texts = drawn()
    assert "GRU (reset-after)" in texts and not unnamed(texts), unnamed(texts)
    rng = np.random.default_rng(0)
    doc = {"model": {"cell": "gru", "variant": "cho", "num_layers": 1, "hidden_size": 4},
           "mode": "sentence", "steps": {"input": ["the", "dog", "<eos>"]},
           "next": {"p": [0.5, 0.2, 0.9]},
           "layers": [{g: rng.uniform(size=(3, 4)).tolist() for g in ("z", "r", "h")}]}
    write_heatmaps(doc, tmp_path)
    texts = drawn()
    assert any(t.startswith("GRU (cho) layer 1 of 1") for t in texts), texts
    assert not unnamed(texts), unnamed(texts)
