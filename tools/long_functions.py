"""List the functions of src/seqlm over ~60 lines and the files over ~400 that carry no
reason beside them (CONTRIBUTING.md: "No function over ~60 lines, no file over ~400,
without a reason written beside it").

A function's reason is a comment starting ``# long:`` on the line right above its
``def`` (or above its first decorator); a file's is a ``# long:`` line among its first
five. Prints one line per offender; exits 1 if there is one, 0 otherwise.

    python tools/long_functions.py [--lines 60] [--file-lines 400] [ROOT]
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

MARK = "# long:"


def _excused(lines: list[str], node: ast.AST) -> bool:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return first >= 2 and lines[first - 2].strip().startswith(MARK)


def offenders(root: Path, max_lines: int = 60, max_file_lines: int = 400) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        if len(lines) > max_file_lines and not any(s.strip().startswith(MARK) for s in lines[:5]):
            out.append(f"{path}: {len(lines)} lines (file)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > max_lines and not _excused(lines, node):
                    out.append(f"{path}:{node.lineno}: {node.name} {n} lines")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parents[1] / "src" / "seqlm"))
    ap.add_argument("--lines", type=int, default=60)
    ap.add_argument("--file-lines", type=int, default=400)
    args = ap.parse_args(argv)
    found = offenders(Path(args.root), args.lines, args.file_lines)
    print("\n".join(found) if found else "no function or file over the limits without a reason")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
