"""A Jupyter notebook as the grader runs it: its code cells, in order, each turned into
plain Python by IPython's own input transformer (``nbformat`` and ``ipython``, the
``notebook`` extra).

IPython syntax becomes the calls IPython itself would make — ``%magic`` and
``%%magic`` to ``get_ipython().run_line_magic/run_cell_magic``, ``!cmd`` (indented
too) and ``x = !cmd`` to ``system``/``getoutput``, ``obj?`` to the ``pinfo`` magic —
and the grading process answers them (:class:`seqlm.exercises.grading.runner.Shell`):
Python magics such as ``%%time`` run their code, the rest do nothing. Each cell keeps
its own name, so an error points to "p1.ipynb cell 3, line 5".
"""
from __future__ import annotations

from pathlib import Path

from seqlm.errors import SeqlmError


def notebook_cells(path: Path, label: str) -> list[dict]:
    """``[{"label": "NAME cell N", "source": python}, ...]`` for the code cells of ``path``.

    Raises SeqlmError when the extra is not installed, ValueError when the file is not a
    readable notebook (the grader reports that as the file failing to load).
    """
    try:
        import nbformat
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        raise SeqlmError(f"{path}: grading a notebook needs nbformat and IPython: "
                         "pip install 'seqlm[notebook]'") from None
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as err:  # nbformat raises several types for a broken file
        raise ValueError(f"not a readable notebook: {type(err).__name__}: {err}") from None
    transform = TransformerManager().transform_cell
    cells = []
    for n, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), start=1):
        name = f"{label} cell {n}"
        try:
            source = transform(cell.source)
        except Exception:  # IPython could not read it: Python will say why, at the right line
            source = cell.source
        cells.append({"label": name, "source": source})
    return cells


def require_extra(path: Path) -> None:
    """A SeqlmError naming the extra when nbformat or IPython is missing."""
    try:
        import nbformat  # noqa: F401
        from IPython.core.inputtransformer2 import TransformerManager  # noqa: F401
    except ImportError:
        raise SeqlmError(f"{path}: grading a notebook needs nbformat and IPython: "
                         "pip install 'seqlm[notebook]'") from None
