"""Shared fixtures: a fresh seed for every test, the kernel tier as a parameter, and chapter 3's
solutions with one exercise cell replaced (the grader's tests build their submissions from it)."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest

import minidl as mdl

TIERS = ["numpy", "numba"]  # numba is a dependency: a broken install fails, it is not skipped


@pytest.fixture(autouse=True)
def _isolated_backend():
    """Every test starts from seed 0 and gets back the kernel tier it found."""
    before = mdl.backend.current()
    mdl.seed(0)
    yield
    mdl.backend.use(before)


@pytest.fixture(params=TIERS)
def tier(request):
    """Run the test once per CPU kernel tier ("numpy" reference, "numba")."""
    mdl.backend.use(request.param)
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


CHAPTER3 = Path(__file__).resolve().parents[1] / "solutions" / "03_backpropagation.ipynb"


def chapter3_with_cell(
    path: Path,
    exercise: str | None = None,
    source: str | None = None,
    extra_cell: str | None = None,
    keep: bool = True,
) -> Path:
    """Write to ``path`` chapter 3's solutions with the cell of ``exercise`` given ``source``
    (removed when ``source`` is None and ``keep`` is False), and ``extra_cell`` (a setup code
    cell) inserted third when given. ``exercise=None`` writes the solutions unchanged."""
    nb = json.loads(CHAPTER3.read_text(encoding="utf-8"))
    cells = []
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("minidl", {})
        if exercise is not None and isinstance(meta, dict) and meta.get("exercise") == exercise:
            if source is None and not keep:
                continue
            cell = copy.deepcopy(cell)
            if source is not None:
                cell["source"] = source
        cells.append(cell)
    if extra_cell is not None:
        cells.insert(
            2,
            {
                "cell_type": "code",
                "metadata": {"minidl": {"setup": True}},
                "source": extra_cell,
                "outputs": [],
                "execution_count": None,
            },
        )
    nb["cells"] = cells
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


@pytest.fixture
def chapter3(tmp_path):
    """``chapter3(exercise, source, ...)`` -> the path of a submission: chapter 3's solutions with
    that exercise's cell replaced, written as ``03_backpropagation.ipynb`` in a fresh folder."""
    made = []

    def make(exercise=None, source=None, extra_cell=None, keep=True, name="03_backpropagation.ipynb"):
        folder = tmp_path / f"submission{len(made)}"
        folder.mkdir()
        made.append(chapter3_with_cell(folder / name, exercise, source, extra_cell, keep))
        return made[-1]

    return make
