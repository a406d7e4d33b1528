"""A Jupyter notebook as a Python file: its code cells, in order (``nbformat``, optional)."""
from __future__ import annotations

from pathlib import Path

from seqlm.errors import SeqlmError


def notebook_source(path: Path) -> str:
    """The code cells of ``path`` joined into one script. IPython lines (``%magic``,
    ``!shell``) are commented out: the grader runs plain Python.

    Raises SeqlmError when nbformat is not installed, ValueError when the file is
    not a readable notebook (the grader reports that as the file failing to load).
    """
    try:
        import nbformat
    except ImportError:
        raise SeqlmError(f"{path}: grading a notebook needs nbformat: "
                         "pip install 'seqlm[notebook]'") from None
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as err:  # nbformat raises several types for a broken file
        raise ValueError(f"not a readable notebook: {type(err).__name__}: {err}") from None
    parts = []
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        lines = [("# (IPython) " + ln) if ln.lstrip().startswith(("%", "!")) else ln
                 for ln in cell.source.splitlines()]
        parts.append(f"# --- code cell {i + 1} ---\n" + "\n".join(lines))
    return "\n\n".join(parts) + "\n"
