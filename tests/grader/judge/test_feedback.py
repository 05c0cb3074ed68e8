"""The exercise system: registry, release (solutions -> exercises), feedback messages.

The grading of whole notebooks in a separate process is in ``tests/grader/test_runner.py``.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from minidl_grader import check, evaluate, notebook, release
from minidl_grader.judge import registry
from minidl_grader.runtime import codec
from minidl_grader.specs import ch01, ch02, ch03

ROOT = Path(__file__).resolve().parents[3]
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"


# ------------------------------------------------------------------ registry
def test_every_chapter_has_code_exercises_and_questions_and_fifty_items_in_all():
    exercises = registry.all_exercises()
    assert len(exercises) >= 50
    for chapter in registry.CHAPTERS:
        code = [e for e in registry.for_chapter(chapter) if not e.is_question]
        questions = [e for e in registry.for_chapter(chapter) if e.is_question]
        # at most 6: a chapter with an applications section (12's translation, 21's medical
        # imaging) has up to three more
        assert 2 <= len(code) <= 6, f"{chapter} has {len(code)} code exercises"
        assert len(questions) >= 1, f"{chapter} has no question"
    assert all(e.points >= 1 for e in exercises)
    kinds = {e.kind for e in exercises if e.is_question}
    assert kinds == {"choice", "number", "shape"}


def test_unknown_exercise_names_the_known_ones():
    with pytest.raises(KeyError, match="weight_norm_backward"):
        registry.get("weight_norm_backwards")


# ------------------------------------------------------------------ release
def test_committed_exercises_are_exactly_what_release_generates():
    changed, problems = release.release(SOLUTIONS, EXERCISES, check=True)
    assert problems == []
    assert changed == [], "run `python -m minidl_grader release` and commit exercises/"
    assert sorted(p.name for p in SOLUTIONS.glob("*.ipynb")) == [f"{c}.ipynb" for c in registry.CHAPTERS]


def test_release_writes_byte_identical_files_twice(tmp_path):
    release.release(SOLUTIONS, tmp_path / "a")
    release.release(SOLUTIONS, tmp_path / "b")
    for path in (tmp_path / "a").glob("*.ipynb"):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()
        assert path.read_bytes() == (EXERCISES / path.name).read_bytes()


def _is_trivial(line: str) -> bool:
    """The documented rule: a solution line may reappear only if, stripped, it is a comment
    or shorter than 10 characters (``return x``, ``else:``, ``}``)."""
    stripped = line.strip()
    return len(stripped) < 10 or stripped.startswith(("#", "//"))


def _leaks(solution_cells: list[str], exercise_cells: list[str]) -> list[str]:
    """The lines of the solution blocks that the exercise shows and the task does not give: a
    repair exercise shows the broken code outside the solution blocks, and the repaired
    answer keeps its correct lines, which are then no leak."""
    shown = {line.strip() for source in exercise_cells for line in source.splitlines()}
    given = {
        line.strip() for source in solution_cells for line in notebook.strip_solutions(source).splitlines()
    }
    return [
        line
        for source in solution_cells
        for block in notebook.solution_blocks(source)
        for line in block
        if not _is_trivial(line) and line.strip() in shown - given
    ]


def test_no_line_of_a_solution_appears_in_the_exercises():
    for path in SOLUTIONS.glob("*.ipynb"):
        solution = [notebook.cell_source(c) for c in notebook.read_notebook(path)["cells"]]
        exercise = [notebook.cell_source(c) for c in notebook.read_notebook(EXERCISES / path.name)["cells"]]
        assert not (leaked := _leaks(solution, exercise)), f"{path.name} leaks {leaked}"


def test_a_leak_is_a_solution_line_the_task_does_not_give():
    repair = 'BROKEN = """\n    total = sum(x) / len(x)\n"""\n'
    answer = "def f(x):\n    # BEGIN SOLUTION\n    total = sum(x) / len(x)\n    return total * 2.0\n    # END SOLUTION\n"
    stripped = [repair, notebook.strip_solutions(answer)]
    assert _leaks([repair, answer], stripped) == []  # the given line, kept by the repair
    assert _leaks([repair, answer], [*stripped, "    return total * 2.0\n"]) == ["    return total * 2.0"]


def test_exercise_notebooks_are_clean_and_keep_the_metadata():
    for path in EXERCISES.glob("*.ipynb"):
        nb = notebook.read_notebook(path)
        assert nb["metadata"]["minidl"]["chapter"] == path.stem
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
        graded = {
            notebook.exercise_meta(c).get("exercise"): notebook.exercise_meta(c).get("points")
            for c in code
            if "exercise" in notebook.exercise_meta(c)
        }
        assert graded == {e.name: e.points for e in registry.for_chapter(path.stem)}
        assert any(notebook.exercise_meta(c).get("setup") for c in code)


def test_strip_solutions_keeps_indentation_and_handles_cuda_markers():
    source = (
        'def f(x):\n    """doc"""\n    # BEGIN SOLUTION\n    y = x + 1\n    return y\n'
        "    # END SOLUTION\n\nSRC = '''\n{\n  // BEGIN SOLUTION\n  y[i] = 0;\n  // END SOLUTION\n}\n'''\n"
    )
    stripped = notebook.strip_solutions(source)
    assert "    raise NotImplementedError  # your code here\n" in stripped
    assert '  #error "not implemented yet: your code here"' in stripped
    assert "x + 1" not in stripped and "y[i]" not in stripped and '"""doc"""' in stripped


@pytest.mark.parametrize(
    "source, message",
    [
        ("# BEGIN SOLUTION\nx = 1\n", "without"),
        ("x = 1\n# END SOLUTION\n", "without"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "inside"),
    ],
)
def test_unbalanced_markers_are_an_error(source, message):
    with pytest.raises(ValueError, match=message):
        notebook.strip_solutions(source)


def test_validation_catches_points_that_disagree_with_the_registry(tmp_path):
    nb = notebook.read_notebook(SOLUTIONS / "01_linear_models.ipynb")
    for cell in nb["cells"]:
        if notebook.exercise_meta(cell).get("exercise") == "weighted_bce_with_logits":
            cell["metadata"]["minidl"]["points"] = 100
    problems = release.validate_solution(nb, SOLUTIONS / "01_linear_models.ipynb")
    assert any("weighted_bce_with_logits has 100 points" in p for p in problems)


def test_release_check_mode_reports_a_stale_exercise(tmp_path, capsys):
    release.release(SOLUTIONS, tmp_path)
    (tmp_path / "02_neural_networks.ipynb").write_text("{}")
    code = release.main(["--solutions", str(SOLUTIONS), "--exercises", str(tmp_path), "--check"])
    assert code == 1
    assert "02_neural_networks.ipynb" in capsys.readouterr().out


# ------------------------------------------------------------------ feedback messages
def _message(name, *fns):
    result = evaluate(name, *fns)
    assert not result.passed
    return result.message


def _weight_norm(dy, x, v, g):
    """A correct weight-normalised Dense backward, written apart from the reference."""
    length = np.linalg.norm(v, axis=0)
    W = v * g / length
    dW = x.T @ dy
    dg = np.sum(dW * W, axis=0) / g
    return dy @ W.T, g / length * dW - g * dg / length**2 * v, dg, dy.sum(axis=0)


def _weight_norm_with(**wrong):
    """``_weight_norm`` with some outputs replaced: ``wrong[name](dy, x, v, g, right) -> value``."""

    def backward(dy, x, v, g):
        right = dict(zip(("dx", "dv", "dg", "db"), _weight_norm(dy, x, v, g)))
        return tuple(wrong[k](dy, x, v, g, right) if k in wrong else right[k] for k in right)

    return backward


def test_a_correct_answer_passes_and_check_prints_it(capsys):
    assert evaluate("weight_norm_backward", ch03.weight_norm_backward).passed
    assert evaluate("weight_norm_backward", _weight_norm).passed
    check("weight_norm_backward", _weight_norm)
    assert capsys.readouterr().out.startswith("✔ weight_norm_backward: passed")


def test_check_prints_a_failure_with_its_reason(capsys):
    check("weight_norm_backward", _weight_norm_with(dv=lambda dy, x, v, g, r: r["dv"].T))
    out = capsys.readouterr().out
    assert out.startswith("✘ weight_norm_backward") and "transposed" in out


def test_missing_transpose_is_named():
    message = _message("weight_norm_backward", _weight_norm_with(dv=lambda dy, x, v, g, r: r["dv"].T))
    assert "`dv` has shape (3, 4), expected (4, 3)" in message and "transposed" in message


def test_sum_over_the_wrong_axis_is_named():
    message = _message("weight_norm_backward", _weight_norm_with(db=lambda dy, x, v, g, r: dy.sum(axis=1)))
    assert "`db` has shape (5,), expected (3,)" in message and "wrong axis" in message


def test_a_list_of_indices_of_the_wrong_length_is_not_called_a_wrong_axis():
    from minidl.exercises.compare import compare_outputs

    message = compare_outputs(np.array([2, 0]), np.array([2, 0, 5]), ("keep",))
    assert "`keep` has shape (2,), expected (3,)" in message
    assert "2 items where 3 were expected" in message and "wrong axis" not in message


@pytest.mark.parametrize(
    "got, expected, fails",
    [
        (np.ones(3, np.float32), np.ones(3), True),  # float32 where float64 is asked
        (np.ones(3), np.ones(3, np.float32), True),  # float64 where the input's float32 is asked
        (np.arange(3.0), np.arange(3), True),  # indices as floats
        (np.arange(3, dtype=np.int32), np.arange(3), False),  # any integer width
        (np.array([0.0, 1.0]), np.array([False, True]), True),
        ([1.0, 2.0], np.array([1.0, 2.0]), True),  # a list where an array is asked
        (2.0, 2, True),  # a count as a float
        (np.int64(2), 2, False),
        (np.float32(1.5), 1.5, False),  # a plain number may be any real number
        (1, 1.0, False),
    ],
)
def test_output_dtypes_are_compared_exactly(got, expected, fails):
    from minidl.exercises.compare import compare_outputs

    message = compare_outputs(got, expected, ("y",))
    assert (message is not None) == fails, message
    if fails:
        assert "the value" in message and ("dtype" in message or "an int" in message)


def test_a_wrong_dtype_is_reported_after_wrong_values():
    from minidl.exercises.compare import compare_outputs

    message = compare_outputs(np.full(3, 2.0, np.float32), np.ones(3), ("y",))
    assert "relative error" in message and "dtype" not in message


def test_check_on_the_public_data_rejects_float32(monkeypatch):
    from minidl.exercises import evaluate as public_evaluate

    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")
    assert public_evaluate("weight_norm_backward", _weight_norm).passed
    narrowed = public_evaluate(
        "weight_norm_backward", _weight_norm_with(dx=lambda dy, x, v, g, r: r["dx"].astype(np.float32))
    )
    assert not narrowed.passed and "dtype float32" in narrowed.message


def test_an_extra_batch_mean_is_named():
    message = _message("weight_norm_backward", _weight_norm_with(db=lambda dy, x, v, g, r: dy.mean(axis=0)))
    assert "`db` is wrong: relative error" in message and "which is 1 / (the batch size N)" in message


@pytest.mark.parametrize(
    "wrong, hint",
    [
        # dv = g / ||v|| dW: the norm's own dependence on v forgotten
        ({"dv": lambda dy, x, v, g, r: g / np.linalg.norm(v, axis=0) * (x.T @ dy)}, "path through the norm"),
        ({"dx": lambda dy, x, v, g, r: dy @ v.T}, "dx goes through v"),
        ({"dv": lambda dy, x, v, g, r: x.T @ dy}, "this is dL/dW"),
        ({"dx": lambda dy, x, v, g, r: dy @ (v * g / np.linalg.norm(v)).T}, "over the whole of v"),
        (
            {"dx": lambda dy, x, v, g, r: dy @ (v * g / np.linalg.norm(v, axis=1, keepdims=True)).T},
            "over the rows of v",
        ),
    ],
    ids=["no projection", "dx through v", "dW for dv", "one norm for all", "row norms"],
)
def test_the_usual_weight_norm_mistakes_are_named(wrong, hint):
    assert hint in _message("weight_norm_backward", _weight_norm_with(**wrong))


def test_a_forgotten_batch_mean_is_named():
    message = _message("softmax_cross_entropy_backward", ch03._sce_no_mean)
    assert "1/N of the batch mean is missing" in message


def test_an_unexplained_constant_factor_is_reported_with_its_value():
    def off_by_three(X, y, w, b, sample_weight, lam):
        dw, db = ch01.linear_regression_gradient(X, y, w, b, sample_weight, lam)
        return 3.0 * dw, 3.0 * db

    message = _message("linear_regression_gradient", off_by_three)
    assert "off by a constant factor 3" in message


def test_a_flipped_sign_is_named():
    message = _message(
        "logistic_regression_gradient", lambda *a: tuple(-g for g in ch01.logistic_regression_gradient(*a))
    )
    assert "sign is flipped" in message


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_overflow_to_nan_is_explained():
    def as_written(z, y, pos_weight):
        p = 1 / (1 + np.exp(-z))
        return -(pos_weight * y * np.log(p) + (1 - y) * np.log(1 - p))

    message = _message("weighted_bce_with_logits", as_written)
    assert "NaN or inf" in message and "softplus(t) = log(1 + e^t) = max(t, 0)" in message

    def softplus_derivative(z):
        return np.exp(z) / (1 + np.exp(z))  # inf / inf at z = 800

    message = _message(
        "activation_derivatives", softplus_derivative, ch02.elu_derivative, ch02.hard_swish_derivative
    )
    assert "NaN or inf" in message and "1 / (1 + e^-z)" in message


def test_the_chapter_epsilon_is_named_where_it_caps_the_loss():
    def clipped(z, y, pos_weight):
        p = np.clip(1 / (1 + np.exp(-np.clip(z, -50, 50))), 1e-7, 1 - 1e-7)
        return -(pos_weight * y * np.log(p) + (1 - y) * np.log(1 - p))

    assert "clipping p, or log(p + eps), caps the loss" in _message("weighted_bce_with_logits", clipped)


def test_a_forgotten_return_and_a_wrong_number_of_outputs():
    assert "did you forget `return`" in _message("weight_norm_backward", lambda dy, x, v, g: None)
    assert "expected 4 return values (dx, dv, dg, db), got 3" in _message(
        "weight_norm_backward", lambda dy, x, v, g: _weight_norm(dy, x, v, g)[:3]
    )


def test_exceptions_report_type_message_and_line():
    def broken(dy, x, v, g):
        return dy @ v  # wrong inner dimensions

    message = _message("weight_norm_backward", broken)
    assert "raised ValueError" in message and "return dy @ v" in message


def _directional(f, x, grad, directions, h=1e-5, move_back=True, one_sided=False):
    """A directional gradient check written apart from the reference, with two switches for
    the usual mistakes."""
    numeric = []
    for d in directions:
        x += h * d
        f_plus = f(x)
        x -= h * d if one_sided else 2 * h * d
        f_minus = f(x)
        numeric.append((f_plus - f_minus) / (h if one_sided else 2 * h))
        if move_back and not one_sided:
            x += h * d
    return np.array(numeric), np.array([np.sum(grad * d) for d in directions])


def test_directional_gradient_check_mistakes():
    assert evaluate("directional_gradient_check", _directional).passed
    assert "one-sided difference" in _message(
        "directional_gradient_check", lambda *a: _directional(*a, one_sided=True)
    )
    # x not moved back: each direction starts where the last one left it
    assert "x was left changed after a direction" in _message(
        "directional_gradient_check", lambda *a: _directional(*a, move_back=False)
    )

    def moves_x_at_the_end(f, x, grad, directions, h=1e-5):
        result = _directional(f, x, grad, directions, h)
        x -= h * directions[-1]
        return result

    assert "the numbers are right, but x was left changed" in _message(
        "directional_gradient_check", moves_x_at_the_end
    )
    swapped = _message("directional_gradient_check", lambda *a: _directional(*a)[::-1])
    assert "a gradient with a bug" in swapped and "swapped" in swapped


def test_non_array_outputs_are_described():
    class Fake:
        pass

    assert "got an object of type Fake" in _message("max_norm", lambda W, c: Fake())


def test_not_implemented_yet_is_recognised():
    def template(W, c):
        raise NotImplementedError

    assert "not implemented yet" in _message("max_norm", template)


def test_check_rejects_a_wrong_number_of_objects():
    with pytest.raises(TypeError, match="softplus_derivative, elu_derivative, hard_swish_derivative"):
        evaluate("activation_derivatives", ch02.softplus_derivative)


def test_a_three_entry_exercise_names_the_entry_and_its_mistake():
    def no_product_rule(z):
        return np.clip(z + 3, 0, 6) / 6

    message = _message(
        "activation_derivatives", ch02.softplus_derivative, ch02.elu_derivative, no_product_rule
    )
    assert "hard_swish_derivative(z)" in message and "the product rule adds z h'(z)" in message


@pytest.mark.slow
def test_numba_and_cuda_exercises_explain_their_own_mistakes():
    import numba  # noqa: F401  (a dependency: missing is a failure, not a skip)
    from minidl_grader.specs import ch10

    assert "compile it with Numba" in _message("depthwise_conv2d_numba", ch10.depthwise_conv2d_numba)
    from minidl.kernels import emulate

    if emulate.compiler() is None:
        pytest.skip("no C++ compiler for the CUDA emulator")
    unguarded = (
        'extern "C" __global__ void bias_relu(const float* x, const float* b, float* y, int n,\n'
        "                                     int channels, int hw) {\n"
        "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
        "  float v = x[i] + b[(i / hw) % channels];\n  y[i] = v > 0 ? v : 0;\n}\n"
    )
    assert "read x[120], but x has 120 elements" in _message("bias_relu_cuda", unguarded)
    # a write through a plain pointer, which the emulator does not check: the guard values see it
    through_pointer = unguarded.split("{")[0] + (
        "{\n  int i = blockIdx.x * blockDim.x + threadIdx.x;\n  float* out = y;\n"
        "  if (i <= n) out[i] = i < n ? fmaxf(x[i] + b[(i / hw) % channels], 0.0f) : 0.0f;\n}\n"
    )
    assert "wrote past the end of `y`" in _message("bias_relu_cuda", through_pointer)
    assert "does not compile" in _message("bias_relu_cuda", unguarded.replace(";", "", 1))
    channels_last = unguarded.replace("b[(i / hw) % channels]", "b[i % channels]").replace(
        "  float v", "  if (i >= n) return;\n  float v"
    )
    assert "channels-last" in _message("bias_relu_cuda", channels_last)


# issue 55: what the guard values after the output could not see
READ_FIRST = r"""
extern "C" __global__ void silu_backward(const float* dy, const float* x, float* dx, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = x[i];  // read before the test: the threads past the end read past x
    if (i < n) { float s = 1.0f / (1.0f + expf(-v)); dx[i] = dy[i] * s * (1.0f + v * (1.0f - s)); }
}
"""
BLOCK_STRIDE = r"""
extern "C" __global__ void relu_backward(const float* dy, const float* x, float* dx, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += STEP)
        dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}
"""


@pytest.mark.slow
def test_cuda_exercises_fail_a_read_outside_an_array_and_blocks_that_redo_each_others_work():
    from minidl.kernels import emulate

    if emulate.compiler() is None:
        pytest.skip("no C++ compiler for the CUDA emulator")
    message = _message("silu_backward_cuda", READ_FIRST)
    assert "kernel silu_backward: thread 9 of block 6 read x[777], but x has 777 elements" in message
    assert "test `i < n` before the first x[i]" in message
    assert evaluate("silu_backward_cuda", READ_FIRST.replace("x[i];", "x[i < n ? i : 0];")).passed
    # the right numbers, each block redoing the elements after its start: fails on the 4-block case
    message = _message("relu_backward_cuda", BLOCK_STRIDE.replace("STEP", "blockDim.x"))
    assert "of the 3000 elements of `dx` were handled by more than one thread" in message
    assert "i += blockDim.x * gridDim.x" in message
    assert evaluate("relu_backward_cuda", BLOCK_STRIDE.replace("STEP", "blockDim.x * gridDim.x")).passed


# ------------------------------------------------------------------ codec
def test_codec_round_trips_plain_data_and_arrays():
    value = {"a": (np.arange(6.0).reshape(2, 3), 1, 2.5, None, True), "b": [np.int64(3), "s"]}
    back = codec.loads(codec.dumps(value))
    assert np.array_equal(back["a"][0], value["a"][0]) and back["a"][1:] == (1, 2.5, None, True)
    assert back["b"] == [3, "s"]


def test_codec_never_unpickles_and_rejects_malformed_data():
    assert isinstance(codec.loads(codec.dumps(np.array([object()]))), codec.Unsupported)
    with pytest.raises(ValueError):
        codec.loads(json.dumps({"__pickle__": "gASV"}).encode())
    with pytest.raises(ValueError):
        codec.loads(b"\x80\x04not json")


def test_exercise_notebooks_run_cell_by_cell_without_crashing(capsys):
    """A reader who runs a fresh exercise notebook top to bottom sees failures, not crashes."""
    for name in ("01_linear_models", "03_backpropagation", "09_transfer_learning"):
        namespace = {}
        for cell in notebook.read_notebook(EXERCISES / f"{name}.ipynb")["cells"]:
            if cell["cell_type"] == "code":
                exec(notebook.cell_source(cell), namespace)
        out = " ".join(capsys.readouterr().out.split())  # check() wraps its messages
        items = registry.for_chapter(name)
        assert out.count("✘") == len(items)
        assert len(re.findall("not implemented yet", out)) == sum(not e.is_question for e in items)
        assert len(re.findall("not answered yet", out)) == sum(e.is_question for e in items)


def test_the_readme_states_the_item_counts_of_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    items = registry.all_exercises()
    questions = sum(e.is_question for e in items)
    assert (
        f"{len(items)} items in all, {len(items) - questions}\nfunctions to write and {questions} questions"
    ) in readme
    for chapter, row in registry.counts().items():
        assert f"| {chapter[:2]} | {row['code']} | {row['questions']} | {row['points']} |" in readme
    assert f"| all | {len(items) - questions} | {questions} | {sum(e.points for e in items)} |" in readme
