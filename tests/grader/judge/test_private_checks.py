"""Private checks: made like built-in exercises, kept out of the registry, loaded from a folder."""

import numpy as np
import pytest
from minidl_grader.judge import registry
from minidl_grader.judge.private_checks import Case, load_checks, private_check

CHECK_FILE = """
from minidl_grader.judge.private_checks import Case, private_check

def cases(rng):
    return [Case((rng.standard_normal(3),), label="x of shape (3,)")]

CHECKS = [private_check("{name}", chapter="03_backpropagation", points=2, entry="square",
                        make_cases=cases, reference=lambda x: x**2, outputs=("y",),
                        mistakes=(("twice x, not its square", lambda x: 2 * x),))]
"""


def test_a_private_check_judges_like_a_function_exercise_and_is_not_registered():
    check = private_check(
        "square_check",
        "03_backpropagation",
        1,
        "square",
        lambda rng: [Case((np.arange(3.0),), label="x")],
        lambda x: x**2,
        ("y",),
    )
    assert check.title == "square_check" and check.probe == "call" and check.points == 1
    case = check.make_cases(np.random.default_rng(0))[0]
    assert check.judge(case, np.array([0.0, 1.0, 4.0])) is None
    assert check.judge(case, np.array([0.0, 1.0, 5.0])) is not None
    with pytest.raises(KeyError):
        registry.get("square_check")


def test_an_unknown_chapter_or_probe_is_refused():
    with pytest.raises(
        ValueError, match=r"private check 'x': unknown chapter '99_nope'; expected one of 01_linear_models"
    ):
        private_check("x", "99_nope", 1, "f", list, abs, ("y",))
    with pytest.raises(ValueError, match="probe must be 'call' or 'call_and_inputs'"):
        private_check("x", "03_backpropagation", 1, "f", list, abs, ("y",), probe="numba")


def test_a_folder_of_checks_is_loaded_skipping_underscored_files(tmp_path):
    (tmp_path / "hidden.py").write_text(CHECK_FILE.format(name="hidden_square"), encoding="utf-8")
    (tmp_path / "_helpers.py").write_text("raise RuntimeError('never run')\n", encoding="utf-8")
    (check,) = load_checks(tmp_path)
    assert check.name == "hidden_square" and check.chapter == "03_backpropagation" and check.points == 2
    assert check.catches == ("twice x, not its square",)


@pytest.mark.parametrize(
    "files, message",
    [
        ({"a.py": "CHECKS = 3\n"}, "a.py must define CHECKS, a list of private_check"),
        ({"a.py": CHECK_FILE.format(name="adamw_update")}, "a.py: the name 'adamw_update' is already taken"),
        (
            {"a.py": CHECK_FILE.format(name="twin"), "b.py": CHECK_FILE.format(name="twin")},
            "b.py: the name 'twin' is already taken",
        ),
        ({"a.py": "1 / 0\n"}, "a.py: ZeroDivisionError"),
    ],
)
def test_a_bad_folder_is_refused_naming_the_file(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_checks(tmp_path)
    with pytest.raises(ValueError, match="is not a folder"):
        load_checks(tmp_path / "a.py")
