"""Every Python snippet of the README and docs/ runs, as a reader would paste it.

The snippets run in order (docs/compare.md's run feeds docs/inspect.md's), in one
scratch directory holding the small files they name (book.txt, a.txt, path/to/dir);
those that need PTB run where $SEQLM_DATA (or ../shared/data) has it.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ORDER = ["README.md", "docs/data.md", "docs/synthetic.md", "docs/ngram.md", "docs/equations.md",
         "docs/compare.md", "docs/figures.md", "docs/inspect.md", "docs/training.md",
         "docs/vanishing_gradients.md"]
FENCE = re.compile(r"```python\n(.*?)```", re.S)


def snippets():
    out = []
    for name in ORDER:
        for i, code in enumerate(FENCE.findall((REPO / name).read_text(encoding="utf-8"))):
            out.append((name, i, code))
    return out


def test_every_python_snippet_is_listed():
    listed = {f"{n}" for n, _, _ in snippets()}
    found = {str(p.relative_to(REPO)) for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
             if "```python" in p.read_text(encoding="utf-8")}
    assert found == listed, f"snippets not run: {sorted(found - listed)}"


def _scratch(tmp: Path) -> None:
    text = "".join(f"The cat sat, said {i % 9}. A dog ran!\n" for i in range(400))
    (tmp / "book.txt").write_text(text)
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp / name).write_text(text)
    d = tmp / "path" / "to" / "dir"
    d.mkdir(parents=True)
    for split in ("train", "valid", "test"):
        (d / f"{split}.txt").write_text(text)


@pytest.mark.slow
def test_every_python_snippet_of_the_docs_runs(tmp_path, monkeypatch, ptb_dir_or_none):
    _scratch(tmp_path)
    monkeypatch.chdir(tmp_path)
    if ptb_dir_or_none is not None:
        monkeypatch.setenv("SEQLM_DATA", str(ptb_dir_or_none.parent))
    ran = []
    for name, i, code in snippets():
        if '"ptb"' in code and ptb_dir_or_none is None:
            continue  # PTB is not on this machine
        namespace = {"results": None, "__name__": "__snippet__"}
        try:
            exec(compile(code, f"{name} (snippet {i + 1})", "exec"), namespace)
        except Exception as err:  # noqa: BLE001 - say which snippet, then fail
            raise AssertionError(f"{name} snippet {i + 1} fails: {type(err).__name__}: {err}") from err
        ran.append(name)
    assert len(ran) >= len(snippets()) - 2
