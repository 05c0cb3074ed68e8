"""The version of minidl, in a module of its own so that any module can read it without
importing the package (``minidl.__version__`` re-exports it; pyproject.toml reads it too)."""

__version__ = "0.2.0"
