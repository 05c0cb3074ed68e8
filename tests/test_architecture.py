"""The package's import graph: one direction, no cycles, a light ``import minidl``.

The graph is read from the source with ``ast`` (no module is imported): every ``import``
and ``from ... import`` of a ``minidl`` module, at the top of a file or inside a function,
is an edge. ``from pkg import name`` is an edge to the submodule ``pkg.name`` when there is
one, else to ``pkg`` itself.

The layering, lowest first (DESIGN.md, "One dependency direction")::

    0  kernels, _version
    1  backend
    2  foundations: initializers, regularizers, data, datasets, metrics, optim, callbacks,
       gradcheck, plot
    3  layers | losses                  (siblings: neither imports the other)
    4  model, models, utils
    5  gallery | zoo | bench | grading | keras   (siblings; nothing imports grading)
    6  minidl (the package root: the public names)
    7  minidl.__main__ (the command line)

A module may import modules of its own group and of groups on lower levels, nothing else.
No module imports the package root (``import minidl``, ``from minidl import __version__``)
except ``__main__``, which sits above it.
"""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "minidl"
ROOT = "minidl"

# (group, level, the modules in it: a name covers the module and everything below it)
GROUPS = [
    ("kernels", 0, ["minidl.kernels"]),
    ("version", 0, ["minidl._version"]),
    ("backend", 1, ["minidl.backend"]),
    ("foundations", 2, ["minidl.initializers", "minidl.regularizers", "minidl.data", "minidl.datasets",
                        "minidl.metrics", "minidl.optim", "minidl.callbacks", "minidl.gradcheck",
                        "minidl.plot"]),
    ("layers", 3, ["minidl.layers"]),
    ("losses", 3, ["minidl.losses"]),
    ("model", 4, ["minidl.model", "minidl.models", "minidl.utils"]),
    ("gallery", 5, ["minidl.gallery"]),
    ("zoo", 5, ["minidl.zoo"]),
    ("bench", 5, ["minidl.bench"]),
    ("grading", 5, ["minidl.grading"]),
    ("keras", 5, ["minidl.keras"]),
    ("root", 6, ["minidl"]),
    ("main", 7, ["minidl.__main__"]),
]
ENTRY_POINT = "minidl.__main__"      # the one module allowed to import the package root
ON_FIRST_USE = ("minidl.gallery", "minidl.zoo", "minidl.plot", "minidl.bench", "minidl.grading",
                "minidl.keras")


# ============================================================================ reading the graph
def package_modules(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of the package."""
    root = package_dir.name
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join((root,) + parts)] = path
    return modules


def _resolve(module: str, is_package: bool, target: str | None, level: int) -> str | None:
    """The absolute name ``from <level dots><target> import ...`` refers to inside ``module``."""
    if level == 0:
        return target
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[:len(package) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, list[tuple[str, int]]]:
    """module -> [(imported module, line), ...] for the imports of modules of this package."""
    modules = package_modules(package_dir)
    root = package_dir.name
    graph = {}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        edges = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                edges += [(alias.name, node.lineno) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node.module, node.level)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    edges.append((sub if sub in modules else base, node.lineno))
        graph[module] = [(target, line) for target, line in edges
                         if target == root or target.startswith(root + ".")]
    return graph


def group_of(module: str, groups=GROUPS) -> tuple[str, int] | None:
    """(group, level) of ``module``: the group with the longest name that covers it."""
    best = None
    for name, level, prefixes in groups:
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), name, level)
    return None if best is None else best[1:]


# ============================================================================ the rules
def find_cycle(graph: dict) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None."""
    state = {}                                   # module -> "open" while on the stack, then "done"

    def visit(module, path):
        state[module] = "open"
        for target, _ in graph.get(module, []):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target, path + [target])
                if found:
                    return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module, [module])
            if found:
                return found
    return None


def wrong_way_imports(graph: dict, groups=GROUPS) -> list[str]:
    """Every import of a module in another group that is not on a lower level."""
    problems = []
    for module, edges in sorted(graph.items()):
        source = group_of(module, groups)
        for target, line in edges:
            goal = group_of(target, groups)
            if source is None or goal is None or source[0] == goal[0]:
                continue
            if goal[1] >= source[1]:
                way = "sideways" if goal[1] == source[1] else "upward"
                problems.append(f"{module}:{line} imports {target} ({way}: {source[0]} is on level "
                                f"{source[1]}, {goal[0]} on level {goal[1]})")
    return problems


def root_imports(graph: dict, root: str = ROOT) -> list[str]:
    return [f"{module}:{line} imports the package root {root}" for module, edges in sorted(graph.items())
            for target, line in edges if target == root and module not in (root, ENTRY_POINT)]


# ============================================================================ the package
GRAPH = import_graph()


def test_the_graph_is_read_from_the_source():
    assert any(t == "minidl.layers.base" for t, _ in GRAPH["minidl.model"])
    assert any(t == "minidl.kernels.reference" for t, _ in GRAPH["minidl.kernels.cpu"])
    assert len(GRAPH) > 40


def test_every_module_belongs_to_a_group():
    assert [m for m in GRAPH if group_of(m) is None] == []


def test_no_import_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_imports_go_down_the_layers_only():
    assert wrong_way_imports(GRAPH) == []


def test_no_module_imports_the_package_root():
    assert root_imports(GRAPH) == []


def test_nothing_imports_grading_but_grading_and_the_command_line():
    importers = sorted({module for module, edges in GRAPH.items() for target, _ in edges
                        if target.startswith("minidl.grading")
                        and not module.startswith("minidl.grading") and module != ENTRY_POINT})
    assert importers == []


def test_import_minidl_loads_no_top_floor_module_and_no_matplotlib():
    code = textwrap.dedent(f"""
        import sys
        import minidl as mdl
        loaded = sorted(m for m in sys.modules
                        if m == "matplotlib" or any(m == top or m.startswith(top + ".")
                                                    for top in {ON_FIRST_USE!r}))
        print(loaded)
        # ... and each of them still answers on first use
        assert mdl.zoo.available() and callable(mdl.gallery.transfer.freeze)
        assert callable(mdl.plot.plot_history)
        from minidl import zoo, gallery, plot
        assert zoo is mdl.zoo and {{"gallery", "plot", "zoo"}} <= set(dir(mdl))
        assert mdl.__version__ == __import__("minidl._version").__version__
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_an_unknown_attribute_of_minidl_is_an_attribute_error():
    import minidl
    with pytest.raises(AttributeError, match="no attribute 'zoom'"):
        minidl.zoom


# ============================================================================ the checks can fail
def _write_package(tmp_path, files: dict) -> Path:
    package = tmp_path / "minidl"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return package


def test_the_checks_catch_a_cycle_a_wrong_way_import_and_a_root_import(tmp_path):
    package = _write_package(tmp_path, {
        "__init__.py": "__version__ = '0'\nfrom .model import Sequential\n",
        "backend.py": "def f():\n    from .layers.core import Dense   # upward, inside a function\n",
        "losses.py": "from .layers.activations import sigmoid   # sideways\n",
        "model.py": "from . import __version__, backend\nfrom .layers import core\n",
        "layers/__init__.py": "from .core import Dense\n",
        "layers/core.py": "from .. import backend\nfrom .activations import sigmoid\n",
        "layers/activations.py": "from ..model import Sequential\n",
    })
    graph = import_graph(package)
    assert ("minidl.backend", 1) in graph["minidl.layers.core"]       # a submodule, not the root
    assert find_cycle(graph) == ["minidl", "minidl.model", "minidl"]
    without_root = {module: [(t, line) for t, line in edges if t != "minidl"]
                    for module, edges in graph.items()}
    assert find_cycle(without_root) == ["minidl.backend", "minidl.layers.core", "minidl.backend"]
    problems = "\n".join(wrong_way_imports(graph))
    assert "minidl.backend:2 imports minidl.layers.core (upward" in problems
    assert "minidl.losses:1 imports minidl.layers.activations (sideways" in problems
    assert "minidl.layers.activations:1 imports minidl.model (upward" in problems
    assert root_imports(graph) == ["minidl.model:1 imports the package root minidl"]


def test_a_clean_package_passes(tmp_path):
    package = _write_package(tmp_path, {
        "__init__.py": "from ._version import __version__\nfrom .model import Sequential\n",
        "_version.py": "__version__ = '0'\n",
        "backend.py": "from .kernels import common\n",
        "kernels/__init__.py": "",
        "kernels/common.py": "",
        "model.py": "from . import backend\nfrom ._version import __version__\nfrom .layers import core\n",
        "layers/__init__.py": "from .core import Dense\n",
        "layers/core.py": "from .. import backend\n",
    })
    graph = import_graph(package)
    assert find_cycle(graph) is None and wrong_way_imports(graph) == [] and root_imports(graph) == []
