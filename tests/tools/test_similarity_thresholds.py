"""tools/similarity_thresholds.py: the copies it measures are right answers, and the
thresholds and rates it wrote are what the data give."""

import ast
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from minidl_grader import cli, evaluate

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "similarity_thresholds", ROOT / "tools" / "similarity_thresholds.py"
)
assert spec is not None and spec.loader is not None
tool = importlib.util.module_from_spec(spec)
sys.modules["similarity_thresholds"] = tool
spec.loader.exec_module(tool)

SOLUTIONS, _ = cli.published_solutions(ROOT / "solutions")


@pytest.mark.parametrize("exercise", ["maxpool_backward", "adamw_update", "groupnorm_forward", "corpus_chrf"])
def test_every_kind_of_copy_is_still_a_right_answer(exercise):
    """Renaming, swapping independent assignments and padding change no result."""
    made = tool.copies(SOLUTIONS[exercise], seed=5)
    assert set(made) == set(tool.LEVELS)
    for level, source in made.items():
        assert source != SOLUTIONS[exercise]
        namespace = {"np": np}
        exec(compile(source, f"<{level}>", "exec"), namespace)
        result = evaluate(exercise, namespace[exercise], seed=3)
        assert result.passed, (level, result.message)


def test_only_independent_assignments_are_swapped():
    first, second, third = ast.parse("a = x + 1\nb = y * 2\nc = a + b\n").body
    assert tool.independent(first, second)
    assert not tool.independent(second, third)  # c reads b
    write, read = ast.parse("m[0] = 1\nk = m.sum()\n").body
    assert not tool.independent(write, read)  # an item written is its array written


@pytest.mark.slow  # every copy of every solution: about 10 s
def test_a_pair_of_rewrites_is_in_one_half_only():
    data = tool.corpus()
    pairs = [h for h in data["honest"] if h[1] == "pair"]
    assert pairs and all(tool._held_out(a) == tool._held_out(b) == held for _, _, (a, b), held in pairs)
    assert {held for *_, held in data["copies"]} == {True, False}


@pytest.mark.slow
def test_the_thresholds_and_the_readmes_rates_are_what_the_data_give():
    """``python tools/similarity_thresholds.py --check``: the JSON the grader reads and the
    rates grader/README.md states are regenerated from the data and compared (about 20 s)."""
    assert tool.main(["--check"]) == 0
