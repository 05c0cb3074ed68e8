"""tools/similarity_compare.py: the held-out rates it prints for every detector are counted
on the held-out half only, with the threshold set on the training half only."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
spec = importlib.util.spec_from_file_location("similarity_compare", ROOT / "tools" / "similarity_compare.py")
assert spec is not None and spec.loader is not None
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)


def test_pairs_compare_a_copy_and_a_lone_answer_with_the_published_solution():
    data = {
        "solutions": {"e": "SOLUTION"},
        "honest": [("e", "pair", ("a", "b"), False), ("e", "right", "c", True)],
        "copies": [("e", "renamed", "d", True)],
    }
    honest, made = tool._pairs(data)
    assert honest == [("e", "pair", False, ("a", "b")), ("e", "right", True, ("c", "SOLUTION"))]
    assert made == [("e", "renamed", True, ("d", "SOLUTION"))]


def test_the_threshold_is_set_on_the_training_half_alone():
    honest = [("e", "pair", False, None)] * 20 + [("e", "pair", True, None)] * 5
    scores = [0.1] * 20 + [0.99] * 5  # held-out honest pairs that score high must not move it
    limit = tool._threshold(honest, scores)
    assert abs(limit - min(1.0, 0.1 + tool.st.MARGIN)) < 1e-12


def test_rates_count_the_held_out_half_and_a_missing_score_as_missed():
    honest = [("e", "pair", True, None), ("e", "pair", True, None), ("e", "pair", False, None)]
    level = tool.st.LEVELS[0]
    made = [("e", level, True, None), ("e", level, True, None), ("e", level, False, None)]
    rates = tool._rates(honest, made, [0.9, 0.2, 0.95], [0.8, None, 0.1], lambda _e: 0.5)
    assert (rates["honest"], rates["fp"]) == (2, 1)  # the training pair at 0.95 is not counted
    assert (rates["copies"], rates["fn"]) == (2, 1)  # no score (too short) is a copy missed
    assert rates["by level"][level] == (1, 2)
