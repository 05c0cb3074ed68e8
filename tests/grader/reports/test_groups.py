"""Similar submissions by groups: connected components of the flagged pairs."""

from __future__ import annotations

from minidl_grader.reports.groups import group_columns, groups
from minidl_grader.similarity import SOLUTIONS, Match


def pair(left: str, right: str, score: float, exercise: str = "ex") -> Match:
    return Match(exercise, left, right, containment=score, jaccard=score)


def test_a_chain_of_flagged_pairs_is_one_group_and_a_weak_pair_joins_nothing():
    matches = [pair("a", "b", 0.9), pair("b", "c", 0.8), pair("c", "d", 0.2), pair("e", "f", 0.95)]
    found = groups(matches, limit=0.5)
    assert [g.members for g in found] == [["a", "b", "c"], ["e", "f"]]
    assert [g.number for g in found] == [1, 2]
    assert found[0].highest == 0.9
    assert [(m.left, m.right) for m in found[0].pairs] == [("a", "b"), ("b", "c")]
    columns = group_columns(found)
    assert columns == {"a": (1, 3), "b": (1, 3), "c": (1, 3), "e": (2, 2), "f": (2, 2)}
    assert "d" not in columns


def test_pairs_on_different_exercises_join_one_group():
    found = groups([pair("a", "b", 0.9, "one"), pair("b", "c", 0.9, "two")], limit=0.5)
    assert len(found) == 1 and found[0].members == ["a", "b", "c"]
    assert found[0].exercises == ["one", "two"] or set(found[0].exercises) == {"one", "two"}


def test_the_published_solution_is_listed_last_and_not_counted_as_a_submission():
    found = groups([pair(SOLUTIONS, "x", 0.99), pair("x", "y", 0.9)], limit=0.5)
    assert found[0].members[-1] == SOLUTIONS
    assert found[0].submissions == ["x", "y"]
    assert group_columns(found) == {"x": (1, 2), "y": (1, 2)}


def test_larger_groups_come_first_then_the_higher_score():
    matches = [pair("p", "q", 0.99), pair("a", "b", 0.6), pair("b", "c", 0.6), pair("m", "n", 0.7)]
    found = groups(matches, limit=0.5)
    assert [g.members for g in found] == [["a", "b", "c"], ["p", "q"], ["m", "n"]]


def test_nothing_flagged_means_no_group():
    assert groups([pair("a", "b", 0.1)], limit=0.5) == []
