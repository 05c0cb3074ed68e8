"""Old import paths of modules that moved when the folders took the shape of the layers.

``minidl.layers`` now lives in ``minidl.nn.layers``, ``minidl.model`` in
``minidl.training.model``, and so on (``MOVED`` lists them). Notebooks, exercises and
readers' code written against the old paths keep working: importing an old name gives the
*same* module object as the new one (never a second copy, so ``isinstance`` and the layer
registry still agree), and so does every submodule below it
(``import minidl.layers.conv`` is ``minidl.nn.layers.conv``).

The package root installs the finder once, first on ``sys.meta_path``, so it answers before
the ordinary path finder could load a second copy through the new package's ``__path__``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

# old dotted name -> new dotted name (each covers its submodules too)
MOVED = {
    "minidl.layers": "minidl.nn.layers",
    "minidl.losses": "minidl.nn.losses",
    "minidl.optim": "minidl.nn.optim",
    "minidl.initializers": "minidl.nn.initializers",
    "minidl.regularizers": "minidl.nn.regularizers",
    "minidl.gradcheck": "minidl.nn.gradcheck",
    "minidl.model": "minidl.training.model",
    "minidl.callbacks": "minidl.training.callbacks",
    "minidl.data": "minidl.training.data",
    "minidl.metrics": "minidl.training.metrics",
    "minidl.augment": "minidl.training.augment",  # never moved: the short public name
}


def new_name(name: str) -> str | None:
    """The current home of module ``name`` if it is (or lies below) a moved one, else None."""
    for old, new in MOVED.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old) :]
    return None


class _AliasLoader(importlib.abc.Loader):
    """Hands out the already-imported module of the new name for the old one."""

    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        pass  # the module ran once, under its new name


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds old module names (``MOVED``) and answers with their new modules."""

    def find_spec(self, fullname, path=None, target=None):
        target_name = new_name(fullname)
        if target_name is None:
            return None
        if importlib.util.find_spec(target_name) is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(target_name))


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())
