"""The grader's sixth hostile review (issue 68): no evidence gathered where the submission
can reach it, and no work outside the sandbox that the submission can make unbounded.

Each test here failed on the grader before issue 68 and passes after it.
"""

import json
import random
import time
from pathlib import Path

import pytest
from minidl_grader import cli, runner, similarity

from tests.grader.grading_answers import GOOD_WN, chapter3_with_cell


# ---------------------------------------------------------------------- 5. bounded work
def _old_ordered(run: list) -> list:
    """The one order as the round-5 grader computed it (quadratic): every statement waits
    for every earlier one it depends on; the smallest ready statement goes next."""
    effects = [similarity._reads_and_writes(s) for s in run]
    keys = [similarity._words(s) for s in run]
    before = [
        {
            i
            for i in range(j)
            if effects[i][1] & (effects[j][0] | effects[j][1]) or effects[j][1] & effects[i][0]
        }
        for j in range(len(run))
    ]
    placed: list[int] = []
    while len(placed) < len(run):
        ready = [j for j in range(len(run)) if j not in placed and before[j] <= set(placed)]
        placed.append(min(ready, key=lambda j: (keys[j], j)))
    return [run[j] for j in placed]


def test_the_one_order_is_the_same_as_before_and_near_linear():
    import ast

    rng = random.Random(0)
    for _ in range(300):
        lines = []
        for _ in range(rng.randint(2, 12)):
            target, a, b = rng.choice("abcdef"), *rng.sample("abcdef", 2)
            lines.append(
                rng.choice([f"{target} += {a}", f"{target}[0] = {a} * {b}", f"{target} = f({a}) + {b}"])
            )
        run = ast.parse("\n".join(lines)).body
        assert [ast.unparse(s) for s in similarity._ordered(run)] == [
            ast.unparse(s) for s in _old_ordered(run)
        ], lines
    run = ast.parse("".join(f"v{i} = v{i - 1} + 1\n" for i in range(20_000))).body
    start = time.monotonic()
    similarity._ordered(run)
    assert time.monotonic() - start < 10  # the quadratic order took minutes


@pytest.mark.parametrize(
    "cell",
    [
        "x = %a\n" * 34_000,
        "a = 1\n" * 34_000,
        "%a\n" * 34_000,
        "".join(f"v{i} = v{i - 1}\n" for i in range(34_000)),
    ],
    ids=["assigned-magics", "assignments", "magics", "chain"],
)
def test_a_cell_of_tens_of_thousands_of_lines_is_fingerprinted_in_bounded_time(cell):
    start = time.monotonic()
    print_ = similarity.fingerprint(GOOD_WN + cell)
    assert time.monotonic() - start < 5, "the similarity's reading is not bounded"
    assert print_.cut == (len(similarity.normalized_tokens(GOOD_WN + cell)) >= similarity.MAX_TOKENS)


@pytest.mark.sandbox
def test_a_batch_with_cells_of_34000_lines_is_graded_within_its_budget(tmp_path):
    """Round 3's 34,000 magic lines (and a cell longer than the grader reads) in a batch
    graded with ``--timeout 2 --budget 5``: every row comes back within seconds (before:
    more than five minutes in the similarity's ordering, outside every limit)."""
    folder = tmp_path / "batch"
    folder.mkdir()
    chapter3_with_cell(folder / "magics.ipynb", "weight_norm_backward", "%a\n" * 34_000 + GOOD_WN)
    chapter3_with_cell(folder / "assigned.ipynb", "weight_norm_backward", GOOD_WN + "x = %a\n" * 34_000)
    chapter3_with_cell(folder / "honest.ipynb")
    out = tmp_path / "rows.json"
    start = time.monotonic()
    code = cli.main([str(folder), "--timeout", "2", "--budget", "5", "--json", str(out), "--quiet"])
    elapsed = time.monotonic() - start
    assert code == 0
    rows = {Path(r["submission"]).name: r for r in json.loads(out.read_text())}
    assert elapsed < 90, f"{elapsed:.0f} s for 3 submissions of budget 5 s"
    honest = rows["honest.ipynb"]
    assert honest["score"] == sum(t["max_score"] for t in honest["tests"])
    wn = {r: next(t for t in rows[r]["tests"] if t["name"] == "weight_norm_backward") for r in rows}
    too_long = wn["assigned.ipynb"]["output"]
    assert wn["assigned.ipynb"]["score"] == 0 and str(runner.MAX_CELL_CHARS) in too_long, too_long
    assert any("not read and not run" in f for f in rows["assigned.ipynb"]["extra_data"]["flags"])
