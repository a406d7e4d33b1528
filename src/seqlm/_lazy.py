"""Names of a package imported on first use (PEP 562), so that importing the
package does not pay for torch."""
from __future__ import annotations

import importlib


def lazy_names(package: str, names: dict[str, str]):
    """``(__getattr__, __dir__)`` for a package whose ``names`` (name -> module)
    are imported when first asked for."""
    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(names[name]), name)

    def __dir__() -> list[str]:
        return sorted(names)
    return __getattr__, __dir__
