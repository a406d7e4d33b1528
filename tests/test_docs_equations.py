"""docs/equations.md points at the line that implements each equation: every
cited line must still carry that equation's tag, so the map cannot go stale."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| \((5\.\d+'?)\) \|")
LINK = re.compile(r"\]\(\.\./(src/seqlm/[\w/]+\.py)#L(\d+)\)")


def _citations() -> list[tuple[str, str, int]]:
    out = []
    for line in (REPO / "docs" / "equations.md").read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            out += [(m.group(1), path, int(n)) for path, n in LINK.findall(line)]
    return out


def test_every_cited_line_carries_its_equation_tag():
    cites = _citations()
    assert len(cites) > 40 and {eq for eq, _, _ in cites} >= {f"5.{k}" for k in range(1, 12)}
    stale = []
    for eq, path, n in cites:
        lines = (REPO / path).read_text(encoding="utf-8").splitlines()
        # "5.1" must not match "5.11"; "5.11" must not match "5.11'" unless cited as such
        tag = re.compile(re.escape(eq) + (r"(?![\d'])" if not eq.endswith("'") else ""))
        if n > len(lines) or not tag.search(lines[n - 1]):
            stale.append(f"({eq}) {path}:{n}")
    assert not stale, "docs/equations.md cites lines without their tag: " + ", ".join(stale)
