"""What the grader's own tests submit: chapter 3's solutions with one exercise cell replaced,
and a right answer to ``weight_norm_backward`` (2 points), the cell the attack, limit and
runner tests replace with a hostile or a broken one.
"""

import copy
import json
from pathlib import Path

WN_DEF = "def weight_norm_backward(dy, x, v, g):\n"
# a right answer's body: n the column norms of v, u = v / n, W = g u
WN_BODY = (
    "    n = (v * v).sum(axis=0) ** 0.5\n"
    "    u = v / n\n"
    "    dg = (x.T @ dy * u).sum(axis=0)\n"
    "    return dy @ (g * u).T, g * (x.T @ dy - dg * u) / n, dg, dy.sum(axis=0)\n"
)
GOOD_WN = WN_DEF + WN_BODY


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
