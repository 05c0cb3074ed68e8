"""Every code exercise accounts for each class of edge cases (judge/edges.py): the classes
its spec names (``edges``) are found by their detectors in its generated cases, for every
seed; each other class that could arise from its arguments (its gate) has a reason it does
not apply (``not_applicable``), and no reason is kept for a class that cannot arise."""

import inspect

import pytest
from minidl_grader.judge import edges, registry
from minidl_grader.judge.mutants import references_of

SEEDS = (1, 2, 3)


def _code() -> list[registry.Exercise]:
    return [e for e in registry.all_exercises() if not e.is_question]


def _cases(exercise, seed) -> list:
    """``(case, its reference's parameter names)`` for the cases of one seed."""
    references = references_of(exercise)
    pairs = []
    for case in exercise.make_cases(registry.rng_for(exercise.name, seed)):
        reference = references.get(case.entry or exercise.entries[0])
        names = list(inspect.signature(reference).parameters) if reference else []
        pairs.append((case, names))
    return pairs


def _code_of(exercise) -> str:
    return "\n".join(edges.code_of(r) for r in references_of(exercise).values())


@pytest.mark.parametrize("exercise", _code(), ids=lambda e: e.name)
def test_the_named_classes_are_covered_and_the_others_have_reasons(exercise):
    named, reasons = set(exercise.edges), exercise.not_applicable
    unknown = (named | set(reasons)) - set(edges.CLASSES)
    assert not unknown, f"{exercise.name}: unknown classes {sorted(unknown)}; known: {list(edges.CLASSES)}"
    both = named & set(reasons)
    assert not both, f"{exercise.name}: {sorted(both)} both named and not applicable"
    assert all(isinstance(r, str) and r.strip() for r in reasons.values()), exercise.name
    code, dtypes = _code_of(exercise), exercise.contract.dtypes if exercise.contract else ()
    for name in reasons:
        assert any(edges.gate(name, _cases(exercise, seed), code, dtypes) for seed in SEEDS), (
            f"{exercise.name}: the class {name!r} cannot arise from its arguments (judge/edges.py, "
            f"its gate): drop the reason"
        )
    for seed in SEEDS:
        cases = _cases(exercise, seed)
        for name in edges.CLASSES:
            if name in named:
                assert edges.detect(name, cases), (
                    f"{exercise.name}: its spec names the class {name!r}, but no case of seed "
                    f"{seed} covers it (see judge/edges.py for what counts)"
                )
            elif name not in reasons:
                assert not edges.gate(name, cases, code, dtypes), (
                    f"{exercise.name}: the class {name!r} could arise from its arguments: name it "
                    f"in `edges` (with a case that covers it) or say why it does not apply "
                    f"(`not_applicable`)"
                )


def _case(*args, entry=None):
    return (registry.Case(args, entry=entry), [f"p{i}" for i in range(len(args))])


def test_the_detectors_find_what_their_docstrings_say():
    import numpy as np

    found = lambda name, *pairs: edges.detect(name, list(pairs))  # noqa: E731
    assert found("empty", _case(np.zeros((0, 3)))) and found("empty", _case([]))
    assert not found("empty", _case(np.zeros((2, 3))))
    assert found("size_one", _case(np.zeros((1, 3)))) and not found("size_one", _case(np.zeros((2, 3))))
    assert found("non_square", _case(np.zeros((5, 2, 3)))) and not found(
        "non_square", _case(np.zeros((2, 3, 3)))
    )
    assert found("ties", _case(np.array([[1.0, 2.0], [3.0, 3.0]])))
    assert not found("ties", _case(np.array([[1.0, 2.0], [2.0, 1.0]])))  # equal only across rows
    assert not found("ties", _case(np.array([1, 1])))  # ints: repeated_indices
    assert found("repeated_indices", _case(np.array([1, 1]))) and found("repeated_indices", _case(["a", "a"]))
    assert found("extreme_magnitude", _case(np.array([-100.0]))) and not found(
        "extreme_magnitude", _case(np.array([99.0, np.inf]))
    )
    assert found("float32", _case(np.zeros(2, np.float32))) and not found("float32", _case(np.zeros(2)))
    assert found("inf_or_nan_input", _case(np.array([0.0, -np.inf]))) and found(
        "inf_or_nan_input", _case(float("nan"))
    )
    assert found("varied_settings", _case(np.zeros(2), 0.5), _case(np.zeros(2), 0.9))
    assert not found("varied_settings", _case(np.zeros(2), 0.5), _case(np.ones(2), 0.5))
    left_right = np.array([[0, 1, 1], [1, 1, 0]], bool)
    assert found("left_and_right_padding", _case(left_right))
    assert not found("left_and_right_padding", _case(np.array([[1, 1, 0], [1, 0, 0]], bool)))
    done = (registry.Case((np.array([0.0, 1.0]),)), ["terminated"])
    assert edges.detect("terminal_at_batch_end", [done])
    assert not edges.detect("terminal_at_batch_end", [_case(np.array([0.0, 1.0]))])  # not by name
    assert found("long_sequence", _case(np.zeros((2, 64)))) and not found(
        "long_sequence", _case(np.zeros((2, 63)))
    )
