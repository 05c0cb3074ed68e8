"""Execute chapter notebooks in place, as nbval will compare them, and store them clean.

    python tools/execute_notebooks.py notebooks/17_autoencoders.ipynb [more ...]

Each notebook runs top to bottom in a fresh kernel from its own folder (as JupyterLab
and nbval run it); its outputs are written back, and the per-cell execution timestamps
that Jupyter records are dropped so a re-run changes only what really changed. The run
time of each notebook is printed: a chapter should stay under two minutes on 2 cores.
`make book` runs this over every chapter with the thread counts `make test` uses.
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TIMEOUT_PER_CELL = 600


def execute(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        notebook,
        timeout=TIMEOUT_PER_CELL,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    seconds = time.perf_counter() - start
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)
    return seconds


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    for name in argv:
        seconds = execute(Path(name))
        print(f"{name}: {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
