"""The wrong-answer catalogue: every wrong answer scores below full marks, every right one
(a different but correct formulation) full marks, on several grading seeds.

The answers are judged through the grader's own path (``judge_exercise`` with the probes
that a grading process runs, then the rules the runner reads from the cell), in this process
for speed; ``tests/grader/specs/wrong_answers.py`` reads the table, one entry per usual mistake,
from ``catalogue/chNN.toml`` (and any ``wrong_answers_<topic>.py`` beside it).
"""

from __future__ import annotations

import os
import sys

import pytest
from minidl_grader import runner
from minidl_grader.judge import registry
from minidl_grader.judge.judging import Result, _in_process_outputs, judge_exercise

from tests.grader.specs import wrong_answers
from tests.grader.specs.wrong_answers import RIGHT, SETUP, WRONG, apply_edit

# make test judges the catalogue at the first two seeds; `make certify` at all twelve, where a
# verdict that depends on the seed shows (MINIDL_CATALOGUE_SEEDS=12). CI, which has just run
# make test, certifies at the other ten (MINIDL_CATALOGUE_SEEDS=2:12, a slice of ALL_SEEDS).
ALL_SEEDS = (11, 2027, 0, 1, 2, 3, 7, 42, 99, 314, 4096, 65537)


def catalogue_seeds(setting: str) -> tuple[int, ...]:
    """The seeds ``MINIDL_CATALOGUE_SEEDS`` names: "N", the first N; "A:B", ALL_SEEDS[A:B]."""
    try:
        start, _, stop = setting.rpartition(":")
        chosen = ALL_SEEDS[int(start or 0) : int(stop)]
    except ValueError:
        chosen = ()
    if not chosen:
        raise ValueError(
            f"MINIDL_CATALOGUE_SEEDS={setting!r}: expected N (1 to {len(ALL_SEEDS)}) or A:B "
            f"(a slice of the {len(ALL_SEEDS)} seeds {ALL_SEEDS})"
        )
    return chosen


SEEDS = catalogue_seeds(os.environ.get("MINIDL_CATALOGUE_SEEDS", "2"))


def test_the_seed_setting_is_read_as_documented():
    assert catalogue_seeds("2") == (11, 2027) and catalogue_seeds("12") == ALL_SEEDS
    assert catalogue_seeds("2:12") == ALL_SEEDS[2:] and catalogue_seeds("0:1") == (11,)
    for wrong in ("0", "twelve", "5:3", ""):
        with pytest.raises(ValueError, match="MINIDL_CATALOGUE_SEEDS"):
            catalogue_seeds(wrong)


@pytest.fixture(autouse=True)
def _interpreter_left_as_found():
    """The answers run in this test process: one must not change the interpreter for the tests
    after it (a raised recursion limit let json's C parser overflow the stack in a later test)."""
    limit = sys.getrecursionlimit()
    yield
    changed = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    assert changed == limit, f"a catalogue answer set the recursion limit to {changed}"


def _judge(name: str, source: str, seed: int):
    exercise = registry.get(name)
    for module in exercise.needs:
        pytest.importorskip(module)
    namespace: dict = {}
    exec(SETUP, namespace)
    exec(compile(source, f"<answer to {name}>", "exec"), namespace)
    outputs, seen = _in_process_outputs(exercise, namespace), []

    def observed(case):  # what the runner reads of a Numba kernel (object mode, prange work)
        value = outputs(case)
        runner.kernel_evidence(exercise, value, seen)
        return value

    result = judge_exercise(exercise, observed, seed)
    # a Numba kernel that must be parallel: judged on its prange loop's work, as the runner
    # does once the numbers are right
    not_parallel = runner._not_parallel(exercise, seen)
    if result.passed and not_parallel:
        return Result(name, exercise.points, 0, not_parallel)
    return result


@pytest.mark.slow  # the whole catalogue, twice: make test (run this file after changing a spec)
@pytest.mark.parametrize("name, label, source", WRONG, ids=[f"{name}: {label}" for name, label, _ in WRONG])
def test_a_wrong_answer_scores_below_full_marks(name, label, source):
    for seed in SEEDS:
        result = _judge(name, source, seed)
        assert result.score < result.points, f"seed {seed}: accepted: {result.message}"
        # judged on its numbers or its rules, not rejected because the answer itself is broken
        broken = "could not compare" in result.message or (
            "raised" in result.message and "ModifiedInput" not in result.message
        )
        assert not broken, f"seed {seed}: the wrong answer does not run: {result.message}"


@pytest.mark.slow
@pytest.mark.parametrize("name, label, source", RIGHT, ids=[f"{name}: {label}" for name, label, _ in RIGHT])
def test_a_right_answer_scores_full_marks(name, label, source):
    for seed in SEEDS:
        result = _judge(name, source, seed)
        assert result.passed, f"seed {seed}: rejected: {result.message}"


def test_check_on_the_public_cases_fails_an_input_changed_in_place_and_a_view(monkeypatch):
    """What a student sees without the grader: the same two rules as the grader's probe."""
    from minidl.exercises import evaluate

    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")
    namespace: dict = {}
    exec(SETUP, namespace)
    for name, label, source in WRONG:
        if label in (
            "the moments updated in place (the student's bug 2 alone)",
            "returns a transposed view of the Keras kernel",
        ):
            exec(source, namespace)
            verdict = evaluate(name, namespace[name])
            assert verdict.status == "failed", verdict
            assert "in place" in verdict.message or "view of an input" in verdict.message
    for name, _, source in RIGHT:
        if name in ("adamw_update", "conv_transpose_from_keras"):
            exec(source, namespace)
            assert evaluate(name, namespace[name]).status == "passed"


def test_check_on_the_public_cases_holds_exact_zeros_as_the_grader_does(monkeypatch):
    """l1_proximal_step's zeros left at 1e-17 fail the student's check() too, not only the grade."""
    from minidl.exercises import evaluate

    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")
    label = "zero inside the threshold left at rounding error, not exactly 0"
    for kind, name, source in [("wrong", n, s) for n, lab, s in WRONG if lab == label] + [
        ("right", n, s) for n, _, s in RIGHT if n == "l1_proximal_step"
    ]:
        namespace: dict = {}
        exec(SETUP, namespace)
        exec(source, namespace)
        verdict = evaluate(name, namespace[name])
        assert verdict.status == ("failed" if kind == "wrong" else "passed"), verdict
        if kind == "wrong":
            assert "exactly 0" in verdict.message


# The in-process judging above uses the probes of a grading process; these go the whole way,
# through the sandboxed process that grades a notebook (the cases' flags must reach it).
SANDBOXED = (
    ("08_going_deep", "lsuv_scales", "the weights rescaled in place (W *= s)"),
    ("25_frameworks", "conv_transpose_from_keras", "returns a transposed view of the Keras kernel"),
    (
        "25_frameworks",
        "loss_scaled_sgd_step",
        "the caller's master weights returned themselves on a skipped step",
    ),
    ("09_transfer_learning", "discriminative_fine_tune_step", "never passes training=True"),
    (
        "09_transfer_learning",
        "discriminative_fine_tune_step",
        "the parameters bound to new arrays (params[key] = params[key] - ...), not updated in place",
    ),
    (
        "09_transfer_learning",
        "freeze_all_but_last",
        "the weighted layers found by isinstance(layer, Dense): the BatchNorm left out",
    ),
    ("10_fast_cpu_kernels", "depthwise_conv2d_numba", "y in float64 for a float32 x"),
    (
        "12_recurrent_networks",
        "clip_by_global_norm",
        "the inputs themselves returned when nothing is clipped",
    ),
)


@pytest.mark.sandbox
@pytest.mark.parametrize("chapter, name, label", SANDBOXED, ids=[f"{n}: {lab}" for _, n, lab in SANDBOXED])
def test_a_wrong_answer_scores_below_full_marks_in_the_sandbox(tmp_path, chapter, name, label):
    import json
    from pathlib import Path

    from minidl_grader.runner import grade_notebook

    source = next(s for n, lab, s in WRONG if n == name and lab == label)
    solutions = Path(__file__).resolve().parents[3] / "solutions" / f"{chapter}.ipynb"
    notebook = json.loads(solutions.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("minidl", {}).get("exercise") == name:
            cell["source"] = source
    path = tmp_path / f"{chapter}.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    results = {r.name: r for r in grade_notebook(path, seed=SEEDS[0]).results}
    assert results[name].score == 0, results[name].message
    assert all(r.passed for n, r in results.items() if n != name and not registry.get(n).is_question)


def test_every_code_exercise_has_a_wrong_answer_in_the_catalogue():
    listed = {name for name, _, _ in WRONG}
    missing = [e.name for e in registry.all_exercises() if not e.is_question and e.name not in listed]
    assert missing == []


# ------------------------------------------------------------------ the catalogue's format
BASE = "def f(x):\n    a = x\n    b = a + 1\n    return b"


def test_an_edit_replaces_inserts_and_deletes_lines_of_its_base():
    assert apply_edit(BASE, "@@ 3\n    b = a - 1") == BASE.replace("a + 1", "a - 1")
    assert apply_edit(BASE, "@@ 2-3\n    b = x * 2") == "def f(x):\n    b = x * 2\n    return b"
    assert apply_edit(BASE, "@@ 1+\n    x = x.copy()") == BASE.replace(":\n", ":\n    x = x.copy()\n", 1)
    assert (
        apply_edit(BASE, "@@ 0+\nimport math\n@@ 2") == "import math\ndef f(x):\n    b = a + 1\n    return b"
    )
    assert apply_edit(BASE, "") == BASE  # the same cell under another label


def test_an_edit_out_of_range_or_out_of_order_is_an_error_naming_the_entry():
    with pytest.raises(ValueError, match=r"ch99.toml: f: 'x'.*@@ 7 .*past the 4 lines"):
        apply_edit(BASE, "@@ 7\n    pass", "ch99.toml: f: 'x'")
    with pytest.raises(ValueError, match="out of order"):
        apply_edit(BASE, "@@ 3\n    pass\n@@ 2\n    pass")
    with pytest.raises(ValueError, match="starts with '@@ N'"):
        apply_edit(BASE, "    b = 0")


def test_toml_and_python_files_of_the_catalogue_are_all_read(tmp_path, monkeypatch):
    """A helper's ``wrong_answers_<topic>.py`` is read beside the TOML files, in either form."""
    monkeypatch.setattr(wrong_answers, "WRONG", [])
    monkeypatch.setattr(wrong_answers, "RIGHT", [])
    (tmp_path / "catalogue").mkdir()
    (tmp_path / "catalogue" / "ch99.toml").write_text(
        "[[f]]\nright = 'the base'\nsource = '''" + BASE + "'''\n"
        "[[f]]\nwrong = 'minus'\nfrom = 'the base'\nedit = '''@@ 3\n    b = a - 1'''\n",
        encoding="utf-8",
    )
    (tmp_path / "wrong_answers_calls.py").write_text(
        "from tests.grader.specs.wrong_answers import wrong\nwrong('g', 'by a call', 'def g(): pass')\n"
    )
    (tmp_path / "wrong_answers_lists.py").write_text(
        "WRONG = [('h', 'in a list', 'def h(): pass')]\nRIGHT = [('h', 'right in a list', 'def h(): return 1')]\n"
    )
    wrong_answers.load(tmp_path)
    assert wrong_answers.WRONG == [
        ("f", "minus", "\n" + BASE.replace("a + 1", "a - 1") + "\n"),
        ("g", "by a call", "def g(): pass"),
        ("h", "in a list", "def h(): pass"),
    ]
    assert wrong_answers.RIGHT == [
        ("f", "the base", "\n" + BASE + "\n"),
        ("h", "right in a list", "def h(): return 1"),
    ]


def test_an_edit_must_name_one_earlier_entry(tmp_path):
    (tmp_path / "ch99.toml").write_text(
        "[[f]]\nwrong = 'minus'\nfrom = 'nothing'\nedit = '''@@ 3\n    b = 0'''\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match="ch99.toml: f: 'minus': 'from' must name one earlier entry"):
        wrong_answers._entries(tmp_path / "ch99.toml")
