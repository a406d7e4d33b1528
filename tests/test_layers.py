"""The layers of CONTRIBUTING.md hold: imports flow one way, and no module imports
itself back through others. Read from the source with ``ast`` (function-level
imports included), so a hidden import inside a function counts too."""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
# Lower numbers sit further left in DESIGN.md's picture; a module may import only
# its own layer or a lower one.
LAYER = {"errors": 0, "io": 0, "metrics": 0, "schema": 0, "_lazy": 0, "processes": 0, "data": 1, "reference": 2, "nn": 2, "ngram": 2, "lm": 2,
         "eval": 3, "train": 4, "analysis": 5, "figures": 6, "compare": 7, "exercises": 7, "report": 7,
         "commands": 8, "cli": 9, "__main__": 9}


def _modules() -> dict[str, Path]:
    out = {}
    for p in (SRC / "seqlm").rglob("*.py"):
        parts = list(p.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The seqlm modules ``path`` imports (``from pkg import sub`` counts as ``pkg.sub``)."""
    got = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("seqlm") and not node.level:
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules]
            got.update(subs)
            if len(subs) < len(node.names):
                got.add(node.module)
        elif isinstance(node, ast.Import):
            got.update(a.name for a in node.names if a.name.startswith("seqlm."))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) \
                in ("import_module", "__import__") and node.args:
            got.update(_string_import(node.args[0], modules))
    return {m for m in got if m in modules}


def _string_import(arg: ast.expr, modules) -> set[str]:
    """``importlib.import_module("seqlm.x")`` imports seqlm.x; an f-string
    ``f"seqlm.commands.{name}"`` imports (at least) every module under its fixed prefix."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("seqlm"):
        return {arg.value}
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        prefix = str(arg.values[0].value)
        if prefix.startswith("seqlm.") and prefix != "seqlm.":  # (the root's lazy re-exports name no layer)
            return {m for m in modules if m.startswith(prefix)} | {prefix.rstrip(".")}
    return set()


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYER.get(parts[1], 99) if len(parts) > 1 else 0    # the root: __version__, lazy re-exports


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: _imports(p, modules) - {m} for m, p in modules.items()}


def test_every_package_has_a_layer():
    assert {m.split(".")[1] for m in _modules() if m.count(".") >= 1} <= set(LAYER)


def test_imports_flow_one_way():
    upward = sorted(f"{a} -> {b}" for a, deps in _graph().items() for b in deps
                    if a != "seqlm" and _layer(b) > _layer(a))
    assert not upward, "a layer imports one to its right: " + "; ".join(upward)


def test_no_import_circle():
    graph, cycles = _graph(), []
    # A package's __init__ re-exports its submodules; a submodule that imports its
    # own package's __init__ back is a circle too.
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cycles.append(" -> ".join(path[path.index(d):] + [d]))
            elif d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state and m != "seqlm":
            visit(m, [m])
    assert not cycles, "import circles: " + "; ".join(cycles)
