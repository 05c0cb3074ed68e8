"""The version of minidl-grader (grader/pyproject.toml reads it)."""

__version__ = "0.2.0"
