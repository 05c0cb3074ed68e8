"""The exercises, one module per chapter.

Each module registers its exercises with ``registry.function_exercise`` (or builds an
``Exercise`` by hand when the check needs more than a function call). The references
here are written independently of the rest of minidl, in plain NumPy, so a bug in the
library cannot make a wrong answer pass.
"""

from __future__ import annotations

import importlib
import pkgutil

__all__ = ["load_all"]


def load_all() -> None:
    """Import every chapter's module (each registers its exercises). The package root hands
    this to ``registry.add_source``: the registry, a floor below, never imports a spec."""
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        if not module.startswith("_"):
            importlib.import_module(f"{__name__}.{module}")
