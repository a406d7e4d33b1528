"""Figures 5.1–5.6: the TikZ sources compile, the plots are real images of sensible size."""
from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_tool

from seqlm.compare.example import example_results
from seqlm.errors import SeqlmError
from seqlm.figures import STEMS, make_figures
from seqlm.figures.plots import plot_perplexity, plot_training_curves
from seqlm.figures.tikz import (MANIFEST, PNG_DPI, TIKZ_FIGURES, compile_tex, read_manifest,
                                renders_dir, source_sha256, tikz_source, write_tikz_figures)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG header; fails unless the file is a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def png_colours(path: Path, limit: int = 3) -> int:
    """Number of distinct colours (up to ``limit``), via matplotlib's PNG reader."""
    import matplotlib.image as mpimg
    import numpy as np
    img = mpimg.imread(path)
    flat = img.reshape(-1, img.shape[-1]) if img.ndim == 3 else img.reshape(-1, 1)
    return min(limit, len(np.unique(flat[:: max(1, len(flat) // 200_000)], axis=0)))


def check_pdf(path: Path, min_bytes: int = 2_000) -> None:
    data = path.read_bytes()
    assert data[:5] == b"%PDF-", f"{path} is not a PDF"
    assert b"%%EOF" in data[-1024:], f"{path} is truncated"
    assert len(data) > min_bytes


def check_png(path: Path, min_px: int = 300, max_px: int = 6000) -> None:
    w, h = png_size(path)
    assert min_px <= w <= max_px and 150 <= h <= max_px, (path, w, h)
    assert png_colours(path) > 1, f"{path} is a blank image"


# ------------------------------------------------------------------ TikZ
@pytest.mark.parametrize("stem", list(TIKZ_FIGURES))
def test_tikz_sources_are_standalone_and_use_the_seed_notation(stem):
    src = tikz_source(stem)
    assert src.lstrip("% \n").count(r"\documentclass[tikz,border=2pt]{standalone}") == 1
    libs = {lib.strip() for line in src.splitlines() if line.startswith(r"\usetikzlibrary")
            for lib in line[line.index("{") + 1:line.rindex("}")].split(",")}
    assert libs <= {"positioning", "arrows.meta", "calc", "fit", "backgrounds"}
    symbols = {"fig5_1_rnn_unrolled": [r"\vect{x}_t", r"\vect{h}_t", r"\vect{y}_t", r"\vect{W}_{xh}",
                                       r"\vect{W}_{hh}", r"\vect{W}_{hy}", r"\vect{h}_T"],
               "fig5_3_lstm_cell": [r"\vect{c}_{t-1}", r"\vect{c}_t", r"\vect{f}_t", r"\vect{i}_t",
                                    r"\tilde{\vect{c}}_t", r"\vect{o}_t", r"\vect{h}_{t-1}", r"\odot"],
               "fig5_4_gru_cell": [r"\vect{z}_t", r"\vect{r}_t", r"\vect{r}_t \odot \vect{h}_{t-1}",
                                   r"1-\vect{z}_t", r"\tilde{\vect{h}}_t", r"\vect{h}_{t-1}"]}[stem]
    for s in symbols:
        assert s in src, f"{stem} lacks {s}"
    if stem == "fig5_4_gru_cell":
        assert r"\vect{c}" not in src  # no cell state


def test_tikz_compile_to_pdf_and_png(tmp_path):
    require_tool("pdflatex")
    require_tool("pdftoppm")
    require_tool("pdftocairo")
    out = write_tikz_figures(tmp_path)
    assert out.compiled and not out.shipped
    for stem in TIKZ_FIGURES:
        files = {p.suffix: p for p in out.files[stem]}
        assert set(files) == {".tex", ".pdf", ".png", ".svg"}
        assert b"<svg" in files[".svg"].read_bytes()[:500]
        check_pdf(files[".pdf"])
        check_png(files[".png"], min_px=800)   # 200 dpi: a diagram several inches wide
    assert not list(tmp_path.glob("*.aux")) and not list(tmp_path.glob("*.log"))  # built elsewhere


def no_tex_path(tmp_path: Path) -> str:
    """A PATH with this Python and none of TeX, poppler or Chromium: a machine without them."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "python").symlink_to(sys.executable)
    return str(bin_dir)


def test_without_tex_the_shipped_renders_are_used(tmp_path):
    env = dict(os.environ, PATH=no_tex_path(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "seqlm", "figures", "--out", str(tmp_path / "f"),
                           "--no-gradients"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for stem in TIKZ_FIGURES:
        assert (tmp_path / "f" / f"{stem}.tex").read_text() == tikz_source(stem)
        for ext in ("pdf", "png", "svg"):   # byte for byte the package's renders
            assert (tmp_path / "f" / f"{stem}.{ext}").read_bytes() == \
                (renders_dir() / f"{stem}.{ext}").read_bytes()
        check_png(tmp_path / "f" / f"{stem}.png", min_px=800)
    assert "pdflatex not found" in proc.stderr and "shipped with seqlm" in proc.stderr
    for n in ("5.1", "5.3", "5.4"):
        assert f"Figure {n}: " in proc.stdout and f"Figure {n}: (skipped" not in proc.stdout
    assert "Figure 5.5: (skipped" in proc.stdout


def test_shipped_renders_were_made_from_the_current_sources():
    """`make tikz` after editing a TikZ source: the manifest holds each source's hash."""
    m = read_manifest()
    assert m.get("kind") == "seqlm.tikz_renders" and m["png_dpi"] == PNG_DPI
    assert set(m["figures"]) == set(TIKZ_FIGURES)
    for stem, entry in m["figures"].items():
        assert entry["source_sha256"] == source_sha256(stem), f"{stem}: run `make tikz`"
        for ext in ("pdf", "png", "svg"):
            data = (renders_dir() / f"{stem}.{ext}").read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["files"][ext], f"{stem}.{ext} changed"
        check_pdf(renders_dir() / f"{stem}.pdf")
        assert b"<svg" in (renders_dir() / f"{stem}.svg").read_bytes()[:500]
    assert (renders_dir() / MANIFEST).is_file()


@pytest.mark.parametrize("stem", list(TIKZ_FIGURES))
def test_shipped_renders_match_a_fresh_compile(tmp_path, stem):
    """Where TeX is installed (CI): recompiling the source gives the shipped picture. PDFs
    carry dates and tool versions, so the pixels of the PNGs are compared."""
    import matplotlib.image as mpimg
    import numpy as np
    require_tool("pdflatex")
    require_tool("pdftoppm")
    tex = tmp_path / f"{stem}.tex"
    tex.write_text(tikz_source(stem), encoding="utf-8")
    compile_tex(tex, tmp_path / "out", svg=False)
    fresh = mpimg.imread(tmp_path / "out" / f"{stem}.png")[..., :3]
    shipped = mpimg.imread(renders_dir() / f"{stem}.png")[..., :3]
    assert abs(fresh.shape[0] - shipped.shape[0]) <= 2 and abs(fresh.shape[1] - shipped.shape[1]) <= 2, \
        (fresh.shape, shipped.shape)
    h, w = min(fresh.shape[0], shipped.shape[0]), min(fresh.shape[1], shipped.shape[1])
    diff = np.abs(fresh[:h, :w] - shipped[:h, :w]).max(axis=-1)
    # antialiasing may differ between poppler versions; a changed figure moves whole strokes
    assert (diff > 0.25).mean() < 0.002, f"{stem}: the shipped render differs; run `make tikz`"


# ------------------------------------------------------------------ matplotlib
def test_training_curves_and_perplexity_bars(tmp_path):
    r = example_results()
    for fn, stem in ((plot_training_curves, "f55"), (plot_perplexity, "f56")):
        paths = fn(r, tmp_path / stem)
        assert [p.suffix for p in paths] == [".pdf", ".png"]
        check_pdf(paths[0], min_bytes=5_000)
        w, h = png_size(paths[1])
        # column width (3.35 in) at 200 dpi, tight bbox: about 600-760 px wide
        assert 550 <= w <= 800 and 300 <= h <= 700, (w, h)
        assert png_colours(paths[1]) > 1


def test_long_training_curves_get_a_zoomed_inset(tmp_path):
    import matplotlib.pyplot as plt

    from seqlm.compare.example import _history
    r = example_results()
    for m in r["models"]:
        if "history" in m:
            m["history"] = _history(1.1, math.log(m["valid_ppl"]), epochs=8)
    made = []
    orig = plt.Axes.inset_axes
    plt.Axes.inset_axes = lambda self, *a, **k: made.append(orig(self, *a, **k)) or made[-1]
    try:
        paths = plot_training_curves(r, tmp_path / "f55")
    finally:
        plt.Axes.inset_axes = orig
    assert len(made) == 1                       # 8 epochs: an inset for epochs 3+
    lo, hi = made[0].get_ylim()
    assert hi - lo < 1.0                        # tighter than the main axis
    check_png(paths[1])


def test_perplexity_bars_show_only_finite_main_models_and_need_some(tmp_path):
    r = example_results()
    r["models"] = [m for m in r["models"] if m["name"] in ("trigram-mle", "bigram-add1")]
    with pytest.raises(SeqlmError, match="no finite test_ppl"):
        plot_perplexity(r, tmp_path / "x")
    with pytest.raises(SeqlmError, match="no training history"):
        plot_training_curves(r, tmp_path / "y")


def test_make_figures_writes_all_six(tmp_path):
    require_tool("pdflatex")
    figs = make_figures(tmp_path, example_results(),
                        gradient_kwargs={"length": 20, "hidden": 8, "input_size": 4, "n_seqs": 4})
    assert [f.number for f in figs] == ["5.1", "5.2", "5.3", "5.4", "5.5", "5.6"]
    for f in figs:
        assert f.note == "", f.note
        assert f.stem == STEMS[f.number]
        check_pdf(f.file("pdf"))
        check_png(f.file("png"))


def test_figures_cli_from_a_run_directory(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(example_results()))
    proc = subprocess.run([sys.executable, "-m", "seqlm", "figures", "--run", str(run),
                           "--no-tikz", "--no-gradients"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for stem in ("fig5_5_training_curves", "fig5_6_perplexity"):
        check_png(run / "figures" / f"{stem}.png")
        check_pdf(run / "figures" / f"{stem}.pdf")


@pytest.mark.parametrize("content, message", [
    (None, "not found"), ("{not json", "not valid JSON"), ('{"models": []}', "not a seqlm compare results")])
def test_figures_cli_bad_run_directory(tmp_path, content, message):
    if content is not None:
        (tmp_path / "results.json").write_text(content)
    proc = subprocess.run([sys.executable, "-m", "seqlm", "figures", "--run", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
