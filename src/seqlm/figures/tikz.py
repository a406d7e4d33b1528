"""Figures 5.1, 5.3 and 5.4: TikZ sources shipped as package data, compiled with pdflatex.

The ``.tex`` files in ``seqlm/figures/tikz/`` are standalone documents
(``\\documentclass[tikz]{standalone}``) that use only standard TikZ libraries
(positioning, arrows.meta, calc, fit, backgrounds), so they drop into a book
unchanged; they are the masters. :func:`write_tikz_figures` copies them to an
output directory and, where a TeX installation exists, compiles each to PDF
(``pdflatex``), PNG (``pdftoppm -png -r 200``) and SVG (``pdftocairo -svg``).

Without TeX it copies the renders shipped beside the sources
(``seqlm/figures/tikz/renders/``: PDF, PNG, SVG and ``renders.json``, the
SHA-256 of the source each was made from), so every machine gets all six
figures. ``make tikz`` (:func:`render_package`) regenerates them; a test
checks that the manifest matches the sources, and, where TeX is installed,
that recompiling gives the same pixels (PDFs carry dates, so bytes are not
compared). Only when the shipped renders are stale and TeX is absent are the
figures left as sources, with a message saying how to compile them.
"""
from __future__ import annotations

import hashlib
import json
import os
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
    "fig5_4_gru_cell": "Figure 5.4: the GRU (cho) cell, the reset applied before the matrix product; "
                       "two gates, no separate cell state (eqs. 5.9–5.11).",
}

INSTALL_HINT = ("apt-get install texlive-latex-base texlive-pictures texlive-latex-extra poppler-utils")
PNG_DPI = 200
RENDER_FORMATS = ("pdf", "png", "svg")
MANIFEST = "renders.json"


@dataclass
class TikzOutput:
    """What :func:`write_tikz_figures` wrote, per figure stem."""

    files: dict[str, list[Path]] = field(default_factory=dict)
    compiled: bool = False
    shipped: bool = False       # the renders shipped with seqlm were used (no TeX here)
    message: str = ""


def tikz_source(stem: str) -> str:
    """The TikZ source of one figure (``fig5_1_rnn_unrolled`` …)."""
    if stem not in TIKZ_FIGURES:
        raise SeqlmError(f"unknown TikZ figure {stem!r} (known: {', '.join(TIKZ_FIGURES)})")
    return resources.files("seqlm.figures").joinpath("tikz", f"{stem}.tex").read_text(encoding="utf-8")


def have_tex() -> bool:
    return shutil.which("pdflatex") is not None


def source_sha256(stem: str) -> str:
    return hashlib.sha256(tikz_source(stem).encode("utf-8")).hexdigest()


def renders_dir() -> Path:
    """Where the shipped renders live (inside the installed package)."""
    return Path(str(resources.files("seqlm.figures").joinpath("tikz", "renders")))


def read_manifest(directory: Path | None = None) -> dict:
    """``renders.json`` of the shipped renders (``{}`` when absent or unreadable)."""
    try:
        return json.loads(((directory or renders_dir()) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def shipped_renders(stem: str) -> dict[str, Path] | None:
    """The shipped PDF/PNG/SVG of a figure, if they were made from the current source."""
    entry = read_manifest().get("figures", {}).get(stem, {})
    files = {ext: renders_dir() / f"{stem}.{ext}" for ext in RENDER_FORMATS}
    if entry.get("source_sha256") != source_sha256(stem) or not all(p.is_file() for p in files.values()):
        return None
    return files


def _tex_env() -> dict:
    # Reproducible PDFs: pdfTeX takes its dates and /ID from SOURCE_DATE_EPOCH.
    return {**os.environ, "SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}


def compile_tex(tex: Path, out_dir: Path, png_dpi: int = PNG_DPI, timeout: float = 180.0,
                svg: bool = True) -> list[Path]:
    """Compile a standalone ``.tex`` into ``out_dir/<stem>.pdf`` (and ``.png`` where
    ``pdftoppm`` exists, ``.svg`` where ``pdftocairo`` does), atomically. Raises
    :class:`SeqlmError` with the first LaTeX error line if compilation fails."""
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
                              timeout=timeout, text=True, errors="replace", env=_tex_env())
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
        pdftocairo = shutil.which("pdftocairo")
        if svg and pdftocairo:
            subprocess.run([pdftocairo, "-svg", pdf.name, f"{stem}.svg"], cwd=tmp, check=True,
                           timeout=timeout, capture_output=True)
            with atomic_path(out_dir / f"{stem}.svg") as dst:
                shutil.copyfile(tmp / f"{stem}.svg", dst)
            written.append(out_dir / f"{stem}.svg")
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
        shipped = {stem: shipped_renders(stem) for stem in TIKZ_FIGURES}
        if all(shipped.values()):
            for stem, files in shipped.items():
                for ext, src in files.items():
                    with atomic_path(out_dir / f"{stem}.{ext}") as dst:
                        shutil.copyfile(src, dst)
                    out.files[stem].append(out_dir / f"{stem}.{ext}")
            out.shipped = True
            out.message = (f"pdflatex not found: Figures 5.1, 5.3, 5.4 are the renders shipped with "
                           f"seqlm (PDF, PNG, SVG, made from the .tex sources written beside them "
                           f"in {out_dir})")
        else:
            out.message = (f"TikZ sources written to {out_dir}; pdflatex not found, so they were not "
                           f"compiled. Install TeX ({INSTALL_HINT}) and run, in {out_dir}: "
                           + "; ".join(f"pdflatex {s}.tex" for s in TIKZ_FIGURES))
    else:
        for stem in TIKZ_FIGURES:
            out.files[stem] += compile_tex(out_dir / f"{stem}.tex", out_dir)
        out.compiled = True
        out.message = f"TikZ figures compiled with pdflatex into {out_dir}"
    return out


def render_package(dest: str | Path | None = None) -> Path:
    """``make tikz``: compile every source into ``dest`` (default: the package's
    ``renders/``) as PDF, PNG and SVG, and write ``renders.json`` with each source's
    SHA-256 and each render's, so a test can tell when a render is stale."""
    for tool in ("pdflatex", "pdftoppm", "pdftocairo"):
        if shutil.which(tool) is None:
            raise SeqlmError(f"{tool} not found; install TeX and poppler ({INSTALL_HINT})")
    dest = Path(dest) if dest is not None else renders_dir()
    dest.mkdir(parents=True, exist_ok=True)
    manifest = {"kind": "seqlm.tikz_renders", "schema_version": 1, "png_dpi": PNG_DPI, "figures": {}}
    with tempfile.TemporaryDirectory(prefix="seqlm-tikz-src-") as tmp:
        for stem in TIKZ_FIGURES:
            tex = Path(tmp) / f"{stem}.tex"
            tex.write_text(tikz_source(stem), encoding="utf-8")
            files = compile_tex(tex, dest, PNG_DPI)
            manifest["figures"][stem] = {
                "source_sha256": source_sha256(stem),
                "files": {p.suffix[1:]: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}}
    write_text(dest / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return dest
