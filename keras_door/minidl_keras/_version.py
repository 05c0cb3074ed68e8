"""The version of the Keras door, in a module of its own (pyproject.toml reads it)."""

__version__ = "0.2.0"
