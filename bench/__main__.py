"""``python -m bench`` from the repository's root (``make bench``): every row, see ``runner``."""

import sys

from minidl import backend


def run(argv: list[str] | None = None) -> int:
    """Set up the process as ``python -m minidl`` does, then time every row (``runner.main``)."""
    backend.wait_passively()  # before any thread pool starts (see its docstring)
    backend.keep_freed_memory()  # reuse freed arrays instead of faulting fresh pages in (see its docstring)
    from .runner import main

    return main(argv)


if __name__ == "__main__":
    sys.exit(run())
