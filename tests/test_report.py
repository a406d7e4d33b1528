"""The comparison report: self-contained HTML that renders in a browser, and Markdown."""
from __future__ import annotations

import base64
import html
import re
import subprocess
from pathlib import Path

import pytest

from conftest import require_tool
from seqlm.compare.example import example_results
from seqlm.compare.report import write_report
from seqlm.figures import make_figures
from test_figures import png_colours, png_size


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    figs = make_figures(out / "figures", example_results(), tikz=False, gradients=False)
    write_report(out, example_results(), figs)
    return out


def test_html_is_self_contained(report_dir):
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # nothing fetched from anywhere: no external src/href, no stylesheet links, no scripts
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert "<link" not in page and "<script" not in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2   # 5.5 and 5.6 (5.1-5.4 were not made here)
    for b64 in images:
        assert base64.b64decode(b64)[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_content(report_dir):
    r = example_results()
    for name in ("report.html", "report.md"):
        text = html.unescape((report_dir / name).read_text(encoding="utf-8"))
        assert r["command"] in text
        for m in r["models"]:
            assert m["name"] in text
        assert "4.82" in text and "3.18" in text            # trigram and oracle test ppl
        assert "∞ (7 zero-prob; 4.80 on the rest)" in text  # the MLE row
        assert "<eos> included" in text
        assert "torch 2.x" in text and "example CPU, 2 cores" in text
        assert "Figure 5.1" in text and "not available" in text   # skipped figures say so
        assert "unigram 20.10 > bigram 5.81" in text


def test_markdown_links_resolve(report_dir):
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert links == ["figures/fig5_5_training_curves.png", "figures/fig5_6_perplexity.png"]
    for link in links:
        assert (report_dir / link).is_file()


def chromium_screenshot(html: Path, tmp_path: Path) -> Path:
    chromium = require_tool("chromium")
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,1600",
         html.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return shot


def test_html_renders_in_headless_chromium(report_dir, tmp_path):
    shot = chromium_screenshot(report_dir / "report.html", tmp_path)
    assert png_size(shot) == (1200, 1600)
    assert shot.stat().st_size > 20_000        # text, a table and figures, not a blank page
    assert png_colours(shot) > 1


def test_without_tex_the_report_has_all_six_figures(tmp_path, monkeypatch):
    """A newcomer's machine: no TeX, no poppler, no Chromium on PATH."""
    from test_figures import no_tex_path
    from seqlm.figures import STEMS
    monkeypatch.setenv("PATH", no_tex_path(tmp_path))
    figs = make_figures(tmp_path / "figures", example_results(),
                        gradient_kwargs={"length": 20, "hidden": 8, "input_size": 4, "n_seqs": 4},
                        log=lambda m: None)
    write_report(tmp_path, example_results(), figs)
    assert sorted(p.stem for p in (tmp_path / "figures").glob("*.png")) == sorted(STEMS.values())
    for f in figs:
        assert f.note == "" and f.file("png") is not None, (f.number, f.note)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 6
    for name in ("report.html", "report.md"):
        assert "not available" not in (tmp_path / name).read_text(encoding="utf-8")


def test_every_section_is_rendered_in_both_files(report_dir, tmp_path):
    """The templates lay out every section the report context holds, in order, in both
    files: dropping one from a template fails here."""
    sections = ["Command", "Results", "Figures", "Conventions", "Configuration", "Environment"]
    r = example_results()
    for name in ("report.md", "report.html"):
        text = html.unescape((report_dir / name).read_text(encoding="utf-8"))
        heads = re.findall(r"^## (.+)$", text, re.M) or re.findall(r"<h2>(.+?)</h2>", text)
        assert heads == sections, (name, heads)
        assert text.count("| oracle (true distribution)") + text.count('<tr class="oracle">') == 1
        assert "Re-running this command reuses every finished stage" in text
        assert "'test ppl (stream)': neural models" in text          # the columns note
        assert "Config hash 000000000000" in text and '"example": true' in text
    # with the look inside a model and the probes, their sections come between Figures and Conventions
    r["probes"] = {"settings": {"fit_split": "valid", "eval_split": "test", "eval_tokens": 10,
                                "mode": "sentence"}, "figure": "absent.png",
                   "summary": [{"model": "lstm", "cell": "lstm", "feature": "topic", "majority": 0.25,
                                "accuracy": 0.9, "layer": 1, "state": "h", "control": 0.3,
                                "attractor_accuracy": None, "control_attractor_accuracy": None,
                                "n_attractors": 0, "unit": "h[1]#3", "unit_accuracy": 0.5,
                                "control_unit_accuracy": 0.4}]}
    ins = {"model": "lstm", "variant": None, "tokens": 3, "mode": "sentence", "text": "a <b> & c",
           "mean_p": 0.5, "heatmap": None}
    write_report(tmp_path, r, [], ins)
    for name in ("report.md", "report.html"):
        raw = (tmp_path / name).read_text(encoding="utf-8")
        text = html.unescape(raw)
        heads = re.findall(r"^## (.+)$", text, re.M) or re.findall(r"<h2>(.+?)</h2>", text)
        assert heads == sections[:3] + ["Inside the LSTM", "Probes: what the recurrent states hold"] \
            + sections[3:], (name, heads)
        assert "“a <b> & c”" in text and "0.900 (1, h)" in text
    assert "a &lt;b&gt; &amp; c" in (tmp_path / "report.html").read_text(encoding="utf-8")   # autoescaped
