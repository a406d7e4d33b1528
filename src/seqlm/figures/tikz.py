"""Figures 5.1, 5.3 and 5.4: TikZ sources shipped as package data, compiled with pdflatex.

The ``.tex`` files in ``seqlm/figures/tikz/`` are standalone documents
(``\\documentclass[tikz]{standalone}``) that use only standard TikZ libraries
(positioning, arrows.meta, calc, fit, backgrounds), so they drop into a book
unchanged. :func:`write_tikz_figures` copies them to an output directory and,
where a TeX installation exists, compiles each to PDF (``pdflatex``) and PNG
(``pdftoppm -png -r 200``). Without TeX the sources are still written and the
returned message says how to compile them.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from seqlm.errors import SeqlmError
from seqlm.io import atomic_path, write_text

# stem → caption, in figure order.
TIKZ_FIGURES: dict[str, str] = {
    "fig5_1_rnn_unrolled": "Figure 5.1: a vanilla RNN, folded and unrolled through time (eqs. 5.1–5.2).",
    "fig5_3_lstm_cell": "Figure 5.3: the LSTM cell; the cell state c_t is the additive highway (eqs. 5.4–5.8).",
    "fig5_4_gru_cell": "Figure 5.4: the GRU cell; two gates, no separate cell state (eqs. 5.9–5.11).",
}

INSTALL_HINT = ("apt-get install texlive-latex-base texlive-pictures texlive-latex-extra poppler-utils")


@dataclass
class TikzOutput:
    """What :func:`write_tikz_figures` wrote, per figure stem."""

    files: dict[str, list[Path]] = field(default_factory=dict)
    compiled: bool = False
    message: str = ""


def tikz_source(stem: str) -> str:
    """The TikZ source of one figure (``fig5_1_rnn_unrolled`` …)."""
    if stem not in TIKZ_FIGURES:
        raise SeqlmError(f"unknown TikZ figure {stem!r} (known: {', '.join(TIKZ_FIGURES)})")
    return resources.files("seqlm.figures").joinpath("tikz", f"{stem}.tex").read_text(encoding="utf-8")


def have_tex() -> bool:
    return shutil.which("pdflatex") is not None


def compile_tex(tex: Path, out_dir: Path, png_dpi: int = 200, timeout: float = 180.0) -> list[Path]:
    """Compile a standalone ``.tex`` into ``out_dir/<stem>.pdf`` (and ``.png`` where
    ``pdftoppm`` exists), atomically. Raises :class:`SeqlmError` with the first
    LaTeX error line if compilation fails."""
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        raise SeqlmError(f"pdflatex not found; install TeX ({INSTALL_HINT})")
    out_dir = Path(out_dir)
    stem = tex.stem
    written = []
    with tempfile.TemporaryDirectory(prefix="seqlm-tikz-") as tmp:
        tmp = Path(tmp)
        shutil.copyfile(tex, tmp / tex.name)
        proc = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", tex.name],
                              cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout, text=True, errors="replace")
        pdf = tmp / f"{stem}.pdf"
        if proc.returncode != 0 or not pdf.exists():
            errors = [ln for ln in proc.stdout.splitlines() if ln.startswith("!")]
            first = errors[0] if errors else f"exit status {proc.returncode}"
            raise SeqlmError(f"{tex}: pdflatex failed: {first}")
        with atomic_path(out_dir / f"{stem}.pdf") as dst:
            shutil.copyfile(pdf, dst)
        written.append(out_dir / f"{stem}.pdf")
        pdftoppm = shutil.which("pdftoppm")
        if pdftoppm:
            subprocess.run([pdftoppm, "-png", "-r", str(png_dpi), "-singlefile", pdf.name, stem],
                           cwd=tmp, check=True, timeout=timeout, capture_output=True)
            with atomic_path(out_dir / f"{stem}.png") as dst:
                shutil.copyfile(tmp / f"{stem}.png", dst)
            written.append(out_dir / f"{stem}.png")
    return written


def write_tikz_figures(out_dir: str | Path, compile: bool = True) -> TikzOutput:
    """Write Figures 5.1, 5.3, 5.4 as ``.tex`` into ``out_dir`` and compile them when
    TeX is installed (``compile=True``)."""
    out_dir = Path(out_dir)
    out = TikzOutput()
    for stem in TIKZ_FIGURES:
        tex = out_dir / f"{stem}.tex"
        write_text(tex, tikz_source(stem))
        out.files[stem] = [tex]
    if not compile:
        out.message = "TikZ sources written (not compiled)"
    elif not have_tex():
        out.message = (f"TikZ sources written to {out_dir}; pdflatex not found, so they were not "
                       f"compiled. Install TeX ({INSTALL_HINT}) and run, in {out_dir}: "
                       + "; ".join(f"pdflatex {s}.tex" for s in TIKZ_FIGURES))
    else:
        for stem in TIKZ_FIGURES:
            out.files[stem] += compile_tex(out_dir / f"{stem}.tex", out_dir)
        out.compiled = True
        out.message = f"TikZ figures compiled with pdflatex into {out_dir}"
    return out
