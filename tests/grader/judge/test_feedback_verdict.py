"""The verdict means the answer is right (issue 27): outputs of the right shape filled with
huge values, NaN or inf score 0 on every exercise of every chapter.

The probes are derived from the specs, not listed by hand: for every registered exercise
the solution notebook's own cells are run here (in this process), the probe collects the
honest outputs for each case, and every number in them is replaced by the poison. The
honest outputs must pass (or the test proves nothing) and the poisoned ones must fail.
"""

import math
from pathlib import Path

import numpy as np
import pytest
from minidl_grader import notebook, runner
from minidl_grader.judge import registry
from minidl_grader.judge.feedback import compare_models, compare_outputs, rel_error
from minidl_grader.runtime import codec
from minidl_grader.runtime.probes import PROBES, NotebookShell, build_model, model_summary

from tests.grader.grading_answers import solutions_with_answers

ROOT = Path(__file__).resolve().parents[3]
POISONS = {"1e200": 1e200, "nan": math.nan, "inf": math.inf, "-inf": -math.inf}


# ---------------------------------------------------------------------- the error measure
def test_rel_error_cannot_overflow():
    a = np.full((3, 4), 1e200)
    assert rel_error(a, a) == 0.0
    assert rel_error(a, np.ones((3, 4))) == pytest.approx(1.0)
    assert rel_error(np.full(3, 1e-300), np.full(3, 2e-300)) == pytest.approx(1 / 3)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_rel_error_of_a_non_finite_value_is_infinite(value):
    got = np.array([1.0, value, 3.0])
    assert rel_error(got, np.array([1.0, 2.0, 3.0])) == math.inf
    assert rel_error(got, got.copy()) == 0.0  # the same non-finite value on both sides


@pytest.mark.parametrize("name", POISONS)
def test_compare_outputs_fails_non_finite_and_huge_values(name):
    expected = np.arange(6.0).reshape(2, 3)
    message = compare_outputs(np.full((2, 3), POISONS[name]), expected, ("y",))
    assert message is not None and "`y`" in message
    if name != "1e200":
        assert "NaN or inf" in message and ("NaN" if name == "nan" else "inf") in message


def test_a_reference_that_is_not_finite_needs_the_same_values():
    expected = np.array([1.0, math.inf, math.nan])
    assert compare_outputs(expected.copy(), expected, ("y",)) is None
    assert compare_outputs(np.array([1.0, 2.0, math.nan]), expected, ("y",)) is not None
    assert compare_outputs(np.array([1.0, -math.inf, math.nan]), expected, ("y",)) is not None


def test_an_emptied_model_is_not_an_answer():
    rng = np.random.default_rng(0)
    weights = [
        (rng.standard_normal((3, 2)), rng.standard_normal(2)),
        (rng.standard_normal((2, 2)), rng.standard_normal(2)),
        (rng.standard_normal((2, 1)), rng.standard_normal(1)),
    ]
    expected = model_summary(build_model(weights))
    assert compare_models(model_summary(build_model(weights)), expected) is None
    emptied = build_model(weights)
    for layer in emptied.layers:
        layer.params = {}
    assert "emptied" in compare_models(model_summary(emptied), expected)
    renamed = build_model(weights)
    renamed.layers[0].params = {
        "kernel": renamed.layers[0].params["W"],
        "bias": renamed.layers[0].params["b"],
    }
    assert "named" in compare_models(model_summary(renamed), expected)


def test_a_model_with_a_batch_norm_and_parameters_replaced_by_new_arrays():
    """build_model places a {"gamma", "beta"} item as a BatchNorm; model_summary tells a
    parameter updated in place from one bound to a new array (replaced_parameter names it)."""
    from minidl.exercises.probes import replaced_parameter

    rng = np.random.default_rng(0)
    weights = [
        (rng.standard_normal((3, 2)), rng.standard_normal(2)),
        {"gamma": np.ones(2), "beta": np.zeros(2)},
        (rng.standard_normal((2, 2)), rng.standard_normal(2)),
        (rng.standard_normal((2, 1)), rng.standard_normal(1)),
    ]
    model = build_model(weights)
    summary = model_summary(model)
    assert summary["kinds"] == ["Dense", "BatchNorm", "ReLU", "Dense", "ReLU", "Dense"]
    assert summary["param_names"][1] == ["gamma", "beta"]
    assert replaced_parameter(summary) is None
    model.layers[3].params["W"] -= 0.5  # in place: the same array
    assert replaced_parameter(model_summary(model)) is None
    model.layers[3].params["b"] = model.layers[3].params["b"] - 0.5
    assert replaced_parameter(model_summary(model)).startswith("layer 3's `b` is a new array")


# ---------------------------------------------------------------------- every exercise
def _poison(value, poison: float):
    """``value`` with every number (not bools) replaced by ``poison``, shapes kept."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
        dtype = value.dtype if value.dtype.kind == "f" else np.float64
        with np.errstate(over="ignore"):
            return np.full(value.shape, poison).astype(dtype)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return poison
    if isinstance(value, tuple):
        return tuple(_poison(v, poison) for v in value)
    if isinstance(value, list):
        return [_poison(v, poison) for v in value]
    if isinstance(value, dict):
        return {k: _poison(v, poison) for k, v in value.items()}
    return value


def _numbers(value) -> list:
    """Every number (not bools) of ``value``, each array as one item."""
    if isinstance(value, np.ndarray):
        return [value] if value.dtype.kind in "iuf" else []
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    if isinstance(value, (tuple, list)):
        return [n for v in value for n in _numbers(v)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    return []


def _same_numbers(a, b) -> bool:
    """``a`` and ``b`` hold the same numbers, NaN equal to NaN (a poison that is the answer)."""
    x, y = _numbers(a), _numbers(b)
    return len(x) == len(y) and all(
        np.array_equal(np.asarray(u, float), np.asarray(v, float), equal_nan=True) for u, v in zip(x, y)
    )


def _has_number(value) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "iuf" and value.size > 0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return True
    if isinstance(value, (tuple, list)):
        return any(_has_number(v) for v in value)
    if isinstance(value, dict):
        return any(_has_number(v) for v in value.values())
    return False


def _solution(chapter: str) -> Path:
    return ROOT / "solutions" / f"{chapter}.ipynb"


@pytest.fixture(scope="module")
def honest_outputs():
    """``{exercise: [(case, outputs), ...]}`` from each chapter's solution, run here."""
    found = {}
    for chapter in registry.CHAPTERS:
        exercises = registry.for_chapter(chapter)
        if not exercises or not _solution(chapter).exists():
            continue
        nb = notebook.read_notebook(_solution(chapter))
        namespace = {"__name__": "__main__"}
        namespace["get_ipython"] = lambda shell=NotebookShell(namespace): shell
        cells, _ = runner._graded_cells(nb, exercises)
        for label, source, _ in cells:
            exec(compile(source, label, "exec"), namespace)
        for exercise in exercises:
            if any(_missing(module) for module in exercise.needs):
                continue
            cases = exercise.make_cases(registry.rng_for(exercise.name, 7))
            found[exercise.name] = [
                (case, codec.loads(codec.dumps(PROBES[exercise.probe](namespace, exercise.entries, case))))
                for case in cases
            ]
    return found


def _missing(module: str) -> bool:
    try:
        __import__(module)
        return False
    except ImportError:
        return True


@pytest.mark.slow
def test_every_chapter_is_probed(honest_outputs):
    graded = {registry.get(name).chapter for name in honest_outputs}
    with_solutions = {c for c in registry.CHAPTERS if _solution(c).exists() and registry.for_chapter(c)}
    assert graded == with_solutions


@pytest.mark.slow
@pytest.mark.parametrize("poison", POISONS)
def test_numbers_of_the_right_shape_score_zero_everywhere(honest_outputs, poison):
    poisoned_items = 0
    for name, runs in honest_outputs.items():
        exercise = registry.get(name)
        if not any(_has_number(out) for _, out in runs):
            continue  # nothing numeric to fake (a multiple-choice letter)
        poisoned_items += 1
        for case, out in runs:
            assert exercise.judge(case, out) is None, f"{name}: the solution fails {case.label}"
            if not _has_number(out):
                continue  # an empty answer (no step at all) has no number to fake
            bad = _poison(out, POISONS[poison])
            if _same_numbers(bad, out):
                continue  # the right answer is that value (NaN: an AP that is undefined)
            problem = exercise.judge(case, bad)
            assert problem, f"{name} ({case.label}) accepts outputs filled with {poison}"
    assert poisoned_items >= len(registry.CHAPTERS)


@pytest.mark.sandbox
def test_a_notebook_returning_huge_values_scores_zero_through_the_sandbox(tmp_path):
    """End to end, one chapter: every code exercise of chapter 3 answered with 1e200."""
    fakes = {
        "weight_norm_backward": "import numpy as np\ndef weight_norm_backward(dy, x, v, g):\n"
        "    return (np.full(x.shape, 1e200), np.full(v.shape, 1e200), "
        "np.full(g.shape, 1e200), np.full(g.shape, 1e200))\n",
        "softmax_cross_entropy_backward": "import numpy as np\n"
        "def softmax_cross_entropy_backward(z, y):\n"
        "    return np.full(z.shape, np.nan)\n",
        "directional_gradient_check": "import numpy as np\n"
        "def directional_gradient_check(f, x, grad, directions, h=1e-5):\n"
        "    return np.full(len(directions), np.inf), np.full(len(directions), np.inf)\n",
    }
    path = solutions_with_answers(tmp_path / "fake.ipynb", fakes, _solution("03_backpropagation"))
    result = runner.grade_notebook(path, timeout=30, seed=3)
    scores = {r.name: r.score for r in result.results}
    assert result.error is None
    assert all(scores[name] == 0 for name in fakes), scores
    questions = [r for r in result.results if registry.get(r.name).is_question]
    assert questions and all(r.passed for r in questions)
