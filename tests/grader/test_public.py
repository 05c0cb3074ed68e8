"""Instant feedback without the answer key (issue 40): ``minidl.exercises.check`` judges
against public cases shipped as data; grades come from hidden cases drawn by the grader.

What can fail here: the library (its wheel, a student release) holding a reference, a
mistake function or a question's answer; the public data drifting from the grader's
specs; a solution not passing its public cases or a blank exercise passing them; a
lookup table of the public outputs scoring in a grade; a message printing an expected
array; a question judged right or wrong without the grader.
"""

import ast
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from minidl_grader import cli, notebook, public, release
from minidl_grader.judge import registry
from minidl_grader.public import PUBLIC_SEED, public_data

from minidl.exercises import data, evaluate, probes

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
QUESTION_KEYS = {"chapter", "kind", "entries", "choices"}


def _same(a, b) -> bool:
    """Equal structures, arrays equal to the last bits a BLAS may change: float64 to 1e-9,
    float32 to 64 units in the last place of the array's largest value (another CPU's kernels
    round a float32 product differently)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if np.shape(a) != np.shape(b):
            return False
        rtol, atol = 1e-9, 1e-12
        if np.result_type(a, b) == np.float32 and np.size(b):
            rtol = 64 * float(np.finfo(np.float32).eps)
            finite = np.abs(np.asarray(b)[np.isfinite(b)])
            atol = rtol * float(np.max(finite, initial=0.0))
        return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b)) or (a != a and b != b)
    return a == b


def _decode_all(entry, arrays):
    """An exercise's entry of the index with every encoded value decoded."""
    if isinstance(entry, dict) and len(entry) == 1 and next(iter(entry)) in ("array", "tuple", "dict"):
        return data.decode(entry, arrays)
    if isinstance(entry, dict):
        return {k: _decode_all(v, arrays) for k, v in entry.items()}
    if isinstance(entry, list):
        return [_decode_all(v, arrays) for v in entry]
    return entry


def test_the_shipped_public_data_is_what_the_grader_generates():
    """Regenerate with `minidl-grade public-data` after changing a spec."""
    index, arrays = data.load()
    fresh_index, fresh_arrays = public_data()
    assert index["seed"] == PUBLIC_SEED and index["exercises"].keys() == fresh_index["exercises"].keys()
    decoded = {n: _decode_all(e, arrays) for n, e in index["exercises"].items()}
    fresh = {n: _decode_all(e, fresh_arrays) for n, e in fresh_index["exercises"].items()}
    stale = [name for name in decoded if not _same(decoded[name], fresh[name])]
    assert stale == [], "run `minidl-grade public-data` and commit minidl/exercises/data/"


def test_questions_are_shipped_without_their_answers():
    index, _ = data.load()
    questions = {n: e for n, e in index["exercises"].items() if e["kind"] != "code"}
    assert len(questions) == sum(e.is_question for e in registry.all_exercises())
    for name, entry in questions.items():
        assert set(entry) <= QUESTION_KEYS, (name, entry)
    assert questions["relu_check_at_kink"]["choices"] == ["a", "b", "c", "d"]


def _namespaces(folder: Path):
    """``(chapter, namespace)`` with each notebook's setup and exercise cells run."""
    for path in sorted(folder.glob("*.ipynb")):
        namespace: dict = {}
        for cell in notebook.read_notebook(path)["cells"]:
            meta = notebook.exercise_meta(cell)
            if cell["cell_type"] == "code" and (meta.get("setup") or meta.get("exercise")):
                exec(notebook.cell_source(cell), namespace)
        yield path.stem, namespace


def test_every_code_exercise_has_public_cases():
    """Feedback for every exercise (issue 55): each code exercise ships visible cases at the
    public seed, also those judged otherwise than by what they return (``judged_as``)."""
    index, _ = data.load()
    code = [e for e in registry.all_exercises() if not e.is_question]
    assert [e.name for e in code if e.public is None] == []
    assert [e.name for e in code if not index["exercises"][e.name]["cases"]] == []
    judged_as = {n: e.get("judged_as", "call") for n, e in index["exercises"].items() if e["kind"] == "code"}
    assert set(judged_as.values()) == {"call", *probes.KINDS}
    assert [name for name, kind in judged_as.items() if kind != "call"] == sorted(PROBE_JUDGED)


# the exercises whose public cases check() judges as the grader's probes do (probes.py)
PROBE_JUDGED = {
    "parity_by_hand": "02",
    "directional_gradient_check": "03",
    "depthwise_conv2d_numba": "10",
    "relu_backward_numba": "10",
    "avgpool2d_padded_backward_numba": "10",
    "bias_relu_cuda": "11",
    "relu_backward_cuda": "11",
    "silu_backward_cuda": "11",
    "upsample_backward_cuda": "11",
    "generator_step": "18",
    "freeze_all_but_last": "09",
    "discriminative_fine_tune_step": "09",
}
# compiled kernels: seconds each (Numba's compiler, g++ for the CUDA emulator)
COMPILED = {name for name in PROBE_JUDGED if name.endswith(("_numba", "_cuda"))}


def test_solutions_pass_their_public_cases_and_blank_exercises_do_not(monkeypatch):
    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")
    checked = 0
    for (chapter, solved), (_, blank) in zip(_namespaces(SOLUTIONS), _namespaces(EXERCISES)):
        for exercise in registry.for_chapter(chapter):
            if exercise.name in COMPILED:  # test_a_kernel_is_checked_on_its_public_cases
                continue
            verdict = evaluate(exercise.name, *[solved[e] for e in exercise.entries])
            assert verdict.passed, (exercise.name, verdict.message)
            checked += 1
            verdict = evaluate(exercise.name, *[blank[e] for e in exercise.entries])
            assert verdict.status == "failed" and "not" in verdict.message, (exercise.name, verdict)
    # every question, and every code exercise (the compiled kernels: below)
    assert checked == len(registry.all_exercises()) - len(COMPILED)


def _entries(chapter: str, folder: Path, name: str) -> list:
    (path,) = folder.glob(f"{chapter}_*.ipynb")
    namespace = dict(_namespaces_of(path))
    return [namespace[e] for e in registry.get(name).entries]


def _namespaces_of(path: Path) -> dict:
    namespace: dict = {}
    for cell in notebook.read_notebook(path)["cells"]:
        meta = notebook.exercise_meta(cell)
        if cell["cell_type"] == "code" and (meta.get("setup") or meta.get("exercise")):
            exec(notebook.cell_source(cell), namespace)
    return namespace


@pytest.mark.slow  # Numba compiles each kernel; the emulator compiles each CUDA source with g++
@pytest.mark.parametrize("name", sorted(COMPILED))
def test_a_kernel_is_checked_on_its_public_cases(name, monkeypatch):
    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")
    if name.endswith("_numba"):
        pytest.importorskip("numba")
    else:
        from minidl.kernels import emulate

        if emulate.compiler() is None:
            pytest.skip("no C++ compiler for the CUDA emulator")
    chapter = PROBE_JUDGED[name]
    verdict = evaluate(name, *_entries(chapter, SOLUTIONS, name))
    assert verdict.passed, verdict.message
    assert ("compiled by Numba" if name.endswith("_numba") else "CUDA emulator") in verdict.message
    verdict = evaluate(name, *_entries(chapter, EXERCISES, name))
    assert verdict.status == "failed" and "not implemented yet" in verdict.message, verdict


def test_a_kernel_that_changes_its_input_is_told_so_as_the_grader_tells_it(monkeypatch):
    """check() judges a Numba kernel's call as every call (``probes._call_on_a_copy``): the
    message names the parameter, in the grader's words (``runtime.probes.settle``)."""
    numba = pytest.importorskip("numba")
    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")

    @numba.njit
    def zeroes_dy(dy, x):
        flat, mask = dy.ravel(), x.ravel() <= 0
        for i in range(flat.size):
            if mask[i]:
                flat[i] = 0.0
        return dy.copy()

    message = evaluate("relu_backward_numba", zeroes_dy).message
    assert "the function changed its input `dy` in place" in message, message


def _catalogue(table, names):
    return [(n, label, source) for n, label, source in table if n in names]


def _answer(name: str, source: str):
    from tests.grader.specs.wrong_answers import SETUP

    namespace: dict = {}
    exec(SETUP, namespace)
    exec(compile(source, f"<answer to {name}>", "exec"), namespace)
    return [namespace[e] for e in registry.get(name).entries]


def _catalogue_ids(table):
    return [f"{name}: {label}" for name, label, _ in table]


def _wrong_and_right():
    from tests.grader.specs.wrong_answers import RIGHT, WRONG

    return _catalogue(WRONG, set(PROBE_JUDGED)), _catalogue(RIGHT, set(PROBE_JUDGED))


PROBE_WRONG, PROBE_RIGHT = _wrong_and_right()
_SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    "name, label, source",
    [pytest.param(*w, marks=[_SLOW] if w[0] in COMPILED else []) for w in PROBE_WRONG],
    ids=_catalogue_ids(PROBE_WRONG),
)
def test_check_fails_the_catalogues_wrong_answers_on_the_public_cases(name, label, source, monkeypatch):
    """The wrong answers of tests/grader/specs/wrong_answers.py to the exercises judged by a
    probe: check() fails each, on the public data alone (the grader's verdict is
    test_wrong_answers.py's), for the reason the grader gives, not because it cannot run."""
    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")
    if name.endswith("_numba"):
        pytest.importorskip("numba")
    verdict = evaluate(name, *_answer(name, source))
    assert verdict.status == "failed", verdict.message
    assert "raised" not in verdict.message and "not implemented" not in verdict.message, verdict.message


@pytest.mark.parametrize(
    "name, label, source",
    [pytest.param(*r, marks=[_SLOW] if r[0] in COMPILED else []) for r in PROBE_RIGHT],
    ids=_catalogue_ids(PROBE_RIGHT),
)
def test_check_passes_the_catalogues_right_answers_on_the_public_cases(name, label, source, monkeypatch):
    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")
    if name.endswith("_numba"):
        pytest.importorskip("numba")
    verdict = evaluate(name, *_answer(name, source))
    assert verdict.passed, verdict.message


def test_a_catalogue_of_wrong_answers_covers_every_probe_judged_exercise():
    assert {name for name, _, _ in PROBE_WRONG} == set(PROBE_JUDGED)


def test_check_says_what_it_cannot_run_here(monkeypatch):
    """Without Numba, or without a C++ compiler for the CUDA emulator, a kernel is left
    unchecked, and the message says what to install and that the grader checks it."""
    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")
    monkeypatch.setitem(sys.modules, "numba.core.registry", None)  # importing it fails
    verdict = evaluate("relu_backward_numba", lambda dy, x: dy * (x > 0))
    assert verdict.status == "unchecked" and "Numba is not installed" in verdict.message
    assert "grader" in verdict.message
    monkeypatch.setattr("minidl.kernels.emulate.compiler", lambda: None)
    verdict = evaluate("silu_backward_cuda", 'extern "C" __global__ void silu_backward() {}')
    assert verdict.status == "unchecked" and "C++ compiler" in verdict.message
    assert evaluate("silu_backward_cuda", 3).message.startswith("SILU_BACKWARD_SOURCE should be a string")


def test_an_in_place_answer_is_judged_by_its_inputs_after_the_call(monkeypatch):
    """generator_step's public case stores the inputs as they must be after the call: an
    answer that steps the discriminator too is told so, one that updates Wg in place too."""
    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")
    (right,) = _entries("18", SOLUTIONS, "generator_step")

    def steps_d_too(z, Wg, bg, Wd, bd, lr):
        out = right(z, Wg, bg, Wd, bd, lr)
        Wd *= 0.5
        return out

    def in_place(z, Wg, bg, Wd, bd, lr):
        new_Wg, new_bg = right(z, Wg, bg, Wd, bd, lr)
        Wg[...] = new_Wg
        return Wg, new_bg

    assert "discriminator's Wd was changed" in evaluate("generator_step", steps_d_too).message
    assert "changed its input `Wg` in place" in evaluate("generator_step", in_place).message


def test_values_round_trip_with_their_types_and_named_functions():
    arrays: dict = {}
    value = {"args": (np.arange(3.0), [1, 2.5, None, "s", True]), "f": data.cubic, "n": np.int64(4)}
    encoded = public.encode(value, arrays)
    assert encoded["dict"]["f"] == {"function": "cubic"} and encoded["dict"]["n"] == 4
    back = data.decode(encoded, arrays)
    assert back["f"] is data.cubic and back["n"] == 4 and back["args"][1] == [1, 2.5, None, "s", True]
    np.testing.assert_array_equal(back["args"][0], np.arange(3.0))


def test_code_is_never_stored():
    with pytest.raises(TypeError, match="cannot store a value of type function as public data"):
        public.encode(lambda x: x, {})
    with pytest.raises(TypeError, match="of type object"):
        public.encode(object(), {})


def test_equal_arrays_are_stored_once_and_the_files_do_not_depend_on_the_day(tmp_path):
    arrays: dict = {}
    index = {
        "a": public.encode(np.ones(4), arrays),
        "b": public.encode(np.ones(4), arrays),
        "c": public.encode(np.zeros(4), arrays),
    }
    first = public.write(index, arrays, tmp_path / "one")
    second = public.write(index, arrays, tmp_path / "two")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    loaded, stored = data.load(tmp_path / "one")
    assert loaded["a"] == loaded["b"] == {"array": "k0"} and sorted(stored) == ["k0", "k2"]
    np.testing.assert_array_equal(data.decode(loaded["c"], stored), np.zeros(4))


def test_the_public_data_stores_an_array_once_and_a_function_by_name(tmp_path):
    arrays: dict = {}
    x = np.arange(6.0).reshape(2, 3)
    index = {
        "a": public.encode((x, x.copy(), data.cubic), arrays),
        "b": public.encode([x + 1, {"array": 2}], arrays),
    }
    assert index["a"]["tuple"][2] == {"function": "cubic"}
    public.write(index, arrays, tmp_path)
    written, stored = data.load(tmp_path)
    assert len(stored) == 2  # x once, x + 1
    first, second, function = data.decode(written["a"], stored)
    assert np.array_equal(first, x) and np.array_equal(second, x) and function is data.cubic
    first[0, 0] = 99.0  # a fresh copy each time
    assert data.decode(written["a"], stored)[1][0, 0] == 0.0
    assert data.decode(written["b"], stored)[1] == {"array": 2}


def test_check_names_the_mistake_and_never_prints_an_expected_array(monkeypatch, capsys):
    from minidl.exercises import check

    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")

    def weight_norm_backward(dy, x, v, g):  # dv transposed: one of the listed mistakes
        n = (v * v).sum(axis=0) ** 0.5
        dg = (x.T @ dy * v / n).sum(axis=0)
        return dy @ (g * v / n).T, (g * (x.T @ dy - dg * v / n) / n).T, dg, dy.sum(axis=0)

    check("weight_norm_backward", weight_norm_backward)
    out = capsys.readouterr().out
    assert out.startswith("✘ weight_norm_backward") and "transposed" in out
    # a wrong answer of the right shape, for every exercise with public cases: at most the
    # first differing value and its position, never the expected array
    index, arrays = data.load()
    for name, entry in index["exercises"].items():
        if entry["kind"] != "code" or not entry["cases"]:
            continue
        expected = [data.decode(c["expected"], arrays) for c in entry["cases"]]

        def off(*args, _expected=expected[0]):
            return _perturbed(_expected)

        verdict = evaluate(name, *[off] * len(entry["entries"]))
        numbers = re.findall(r"-?\d+\.\d+(?:e[-+]?\d+)?", verdict.message)
        assert not verdict.passed and len(numbers) <= 6, (name, verdict.message)


def _perturbed(value):
    if isinstance(value, np.ndarray):
        return value * 1.5 + 0.25
    if isinstance(value, (tuple, list)):
        return type(value)(_perturbed(v) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value * 1.5 + 0.25
    return value


def test_a_question_is_only_checked_for_form_without_the_grader(monkeypatch, capsys):
    """A student release (no grader) cannot try a, b, c, d: every letter is well-formed."""
    from minidl.exercises import check

    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")
    verdicts = {letter: evaluate("relu_check_at_kink", letter) for letter in "abcd"}
    assert len({(v.status, v.message) for v in verdicts.values()}) == 1
    assert verdicts["a"].passed and "well-formed" in verdicts["a"].message
    assert not evaluate("relu_check_at_kink", "z").passed
    assert "not answered yet" in evaluate("relu_check_at_kink", ...).message
    # the self-study install (the grader present) says right or wrong, with the reason
    monkeypatch.delenv("MINIDL_PUBLIC_CHECK")
    check("relu_check_at_kink", "a")
    assert "(a) is not right" in capsys.readouterr().out


LOOKUP = (
    "import numpy as _np\n"
    "from minidl.exercises import data as _data\n"
    "_index, _arrays = _data.load()\n"
    "def _key(args):\n"
    "    return repr([(a.shape, a.tobytes()) if isinstance(a, _np.ndarray) else a for a in args])\n"
    "_TABLE = {}\n"
    "for _case in _index['exercises'][{name!r}]['cases']:\n"
    "    _TABLE[_key(_data.decode(_case['args'], _arrays))] = _data.decode(_case['expected'], _arrays)\n"
    "def {name}(*args):\n"
    "    return _TABLE.get(_key(args), {default})\n"
)


@pytest.mark.parametrize(
    "chapter, name, default",
    [("08_going_deep", "lsuv_scales", "0.0"), ("03_backpropagation", "weight_norm_backward", "None")],
)
def test_a_lookup_table_of_the_public_outputs_scores_zero(tmp_path, monkeypatch, chapter, name, default):
    source = LOOKUP.replace("{name!r}", repr(name)).replace("{name}", name).replace("{default}", default)
    namespace: dict = {}
    exec(source, namespace)
    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")
    assert evaluate(name, namespace[name]).passed  # check() on the public cases: fooled
    nb = notebook.read_notebook(SOLUTIONS / f"{chapter}.ipynb")
    for cell in nb["cells"]:
        if notebook.exercise_meta(cell).get("exercise") == name:
            cell["source"] = source
    path = tmp_path / f"{chapter}.ipynb"
    notebook.write_notebook(nb, path)
    out = tmp_path / "out.json"
    assert cli.main([str(path), "--seed", "1234", "--json", str(out), "--quiet", "--timeout", "30"]) == 0
    tests = {t["name"]: t for t in json.loads(out.read_text())["tests"]}
    assert tests[name]["score"] == 0, tests[name]
    others = [t for n, t in tests.items() if n != name]
    assert all(t["score"] == t["max_score"] for t in others), others  # the rest of the solutions


def test_grading_refuses_the_public_seed(capsys):
    assert cli.main([str(SOLUTIONS / "03_backpropagation.ipynb"), "--seed", str(PUBLIC_SEED)]) == 2
    assert "public cases" in capsys.readouterr().err


def _body(source: str) -> str:
    """A function's code lines, stripped, without its ``def`` line and docstring."""
    tree = ast.parse(textwrap.dedent(source))
    node = tree.body[0]
    statements = node.body[1:] if ast.get_docstring(node) else node.body
    lines = [ast.unparse(s) for s in statements]
    return "\n".join(line.strip() for text in lines for line in text.splitlines() if line.strip())


def _spec_functions() -> dict[str, str]:
    """Every function of the grader's specs (references, mistakes, case makers) longer
    than a short line: ``{qualified name: body}``."""
    registry.all_exercises()
    found = {}
    for name, module in sorted(sys.modules.items()):
        if not name.startswith("minidl_grader.specs."):
            continue
        for attr, fn in vars(module).items():
            if inspect.isfunction(fn) and fn.__module__ == name and fn.__name__ != "<lambda>":
                body = _body(inspect.getsource(fn))
                if body.count("\n") >= 1 or len(body) >= 40:
                    found[f"{name}.{attr}"] = body
    return found


def _normalized(text: str) -> str:
    try:
        text = ast.unparse(ast.parse(textwrap.dedent(text)))
    except SyntaxError:
        pass
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _leaks(files: dict[str, str]) -> dict[str, list[str]]:
    """Files (``{name: text}``) that hold a spec function's code, a solution block or the
    grader's name."""
    functions = _spec_functions()
    assert len(functions) > 50  # the check looks at something
    leaks = {}
    for name, text in files.items():
        code = _normalized(text) if name.endswith(".py") else text
        found = [f for f, body in functions.items() if body in code]
        found += [m for m in ("minidl_grader", "BEGIN SOLUTION", "quiz.toml") if m in text]
        if found:
            leaks[name] = found
    return leaks


@pytest.mark.slow
def test_the_leak_check_finds_a_pasted_reference():
    from minidl_grader.specs import ch06, ch21

    pasted = "import numpy as np\n\n" + inspect.getsource(ch21.delta_features).replace("def delta", "def my")
    assert _leaks({"a.py": pasted}) == {"a.py": ["minidl_grader.specs.ch21.delta_features"]}
    assert list(_leaks({"b.py": textwrap.indent(inspect.getsource(ch06.groupnorm_backward), "    ")}))


def _pip(*args: str, cwd=None) -> None:
    """``python -m pip *args`` with this interpreter; fails the test with pip's last words."""
    run = subprocess.run(
        [sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-2000:]


@pytest.mark.slow
def test_the_wheel_holds_no_answer(tmp_path):
    """What `pip install .` installs: the library and its public data, no reference, no
    mistake function, no question's answer, no grader."""
    # built from a clean copy of what setuptools reads: no stale build/ of the repository
    source = tmp_path / "source"
    shutil.copytree(ROOT / "minidl", source / "minidl", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    _pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), ".", cwd=source)
    (wheel,) = tmp_path.glob("minidl-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "minidl/exercises/data/public.json" in names and "minidl/exercises/data/public.npz" in names
        assert "minidl/kernels/emulate_prelude.h" in names  # the CUDA emulator's C++ (package data)
        assert not [n for n in names if re.search(r"grading|minidl_grader|/specs/|solutions|quiz", n)]
        texts = {n: archive.read(n).decode("utf-8", "replace") for n in names if n.endswith((".py", ".json"))}
    assert _leaks(texts) == {}
    index = json.loads(texts["minidl/exercises/data/public.json"])
    for entry in index["exercises"].values():
        assert entry["kind"] == "code" or set(entry) <= QUESTION_KEYS


@pytest.mark.slow
def test_a_student_release_has_no_solutions_no_grader_and_no_specs(tmp_path):
    out = tmp_path / "course"
    assert release.main(["--out", str(out)]) == 0
    top = sorted(p.name for p in out.iterdir())
    assert top == ["README.md", "bench", "exercises", "minidl", "notebooks", "pyproject.toml", "workspace"]
    # a whole release: every link between its notebooks (chapter -> the student's copy in
    # workspace/, exercise -> chapter, chapter -> chapter) leads to a file of the release
    from tests.grader.test_instructor_path import _relative_links

    links = _relative_links(out)
    assert len(links) > 50
    assert [(str(page.relative_to(out)), t) for page, t in links if not (page.parent / t).exists()] == []
    files = [p for p in out.rglob("*") if p.is_file()]
    assert not [
        p for p in files if re.search(r"grading|minidl_grader|specs|solutions", str(p.relative_to(out)))
    ]
    assert sorted(p.name for p in (out / "exercises").glob("*.ipynb")) == sorted(
        p.name for p in EXERCISES.glob("*.ipynb")
    )
    assert (out / "notebooks" / "00_welcome.ipynb").is_file()
    assert (out / "minidl" / "exercises" / "data" / "public.npz").is_file()
    texts = {
        str(p.relative_to(out)): p.read_text(encoding="utf-8", errors="replace")
        for p in files
        if p.suffix in (".py", ".json") or p.parent.name == "exercises"
    }
    assert _leaks(texts) == {}
    assert release.main(["--out", str(out)]) == 1  # never over an existing release
    # it installs, and check() runs from the installed copy on its public cases
    target = tmp_path / "installed"
    _pip("install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target), str(out))
    code = (
        "import minidl, numpy as np\n"
        "from minidl.exercises import check\n"
        "print(minidl.__file__)\n"
        "def lsuv(x, weights, rescaled=True):\n"
        "    scales, h = [], x\n"
        "    for W in weights:\n"
        "        scales.append(1.0 / (h @ W).std())\n"
        "        h = np.maximum(h @ W * (scales[-1] if rescaled else 1.0), 0.0)\n"
        "    return np.array(scales)\n"
        "check('lsuv_scales', lsuv)\n"
        "check('lsuv_scales', lambda x, weights: lsuv(x, weights, rescaled=False))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "MINIDL_PUBLIC_CHECK": "1", "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert lines[0].startswith(str(target))
    assert lines[1].startswith("✔ lsuv_scales: passed (4 public test cases)")
    assert lines[2].startswith("✘ lsuv_scales") and "*rescaled* layers below it" in run.stdout


def test_the_readme_states_how_many_exercises_have_public_cases():
    index, _ = data.load()
    code = [e for e in index["exercises"].values() if e["kind"] == "code"]
    assert all(e["cases"] for e in code)
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"All {len(code)} code exercises have public cases" in readme


# ---------------------------------------------------------------------- forbidden names (issue 55)
# rouge_l_fbeta forbids minidl.training.rouge: an answer built on its lcs_length passes the
# numbers, and the grader scores it 0 on reading the cell. check() must say so, in every spelling.
ROUGE_BY_THE_LIBRARY = """
from minidl.training import rouge as R


def rouge_l_fbeta(candidate, reference, beta):
    a, b = candidate.split(), reference.split()
    m = R.lcs_length(a, b)
    if m == 0:
        return 0.0
    p, r = m / len(a), m / len(b)
    return (1 + beta**2) * p * r / (r + beta**2 * p)
"""
ROUGE_BY_HAND = """
def rouge_l_fbeta(candidate, reference, beta):
    a, b = candidate.split(), reference.split()
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a)):
        for j in range(len(b)):
            table[i + 1][j + 1] = table[i][j] + 1 if a[i] == b[j] else max(table[i][j + 1], table[i + 1][j])
    m = table[-1][-1]
    if m == 0:
        return 0.0
    p, r = m / len(a), m / len(b)
    return (1 + beta**2) * p * r / (r + beta**2 * p)
"""
SPELLINGS = {  # each uses lcs_length of minidl.training.rouge
    "a module alias": ROUGE_BY_THE_LIBRARY,
    "imported by name": ROUGE_BY_THE_LIBRARY.replace(
        "from minidl.training import rouge as R", "from minidl.training.rouge import lcs_length"
    ).replace("R.lcs_length", "lcs_length"),
    "imported inside the function": ROUGE_BY_THE_LIBRARY.replace(
        "    m = R.", "    import minidl.training.rouge as R\n    m = R."
    ).replace("from minidl.training import rouge as R\n", ""),
}


def _from_file(tmp_path, source: str, name: str = "rouge_l_fbeta"):
    """The answer defined in a module file (its source readable, as in a notebook cell)."""
    import importlib.util

    path = tmp_path / f"answer_{abs(hash(source))}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("readable", [True, False], ids=["source", "exec"])
def test_check_fails_an_answer_that_uses_what_the_exercise_forbids(spelling, readable, tmp_path, monkeypatch):
    import minidl_grader

    source = SPELLINGS[spelling]
    namespace: dict = {}
    exec(source, namespace)  # no source for inspect: read from the compiled code
    answer = _from_file(tmp_path, source) if readable else namespace["rouge_l_fbeta"]
    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")
    verdict = evaluate("rouge_l_fbeta", answer)  # the public data, without the grader
    assert verdict.status == "failed", verdict
    assert (
        "minidl.training.rouge" in verdict.message and "the grader scores such an answer 0" in verdict.message
    )
    result = minidl_grader.evaluate("rouge_l_fbeta", answer)  # the grader's check()
    assert not result.passed and result.message == verdict.message


def test_check_passes_the_same_answer_written_by_hand(tmp_path, monkeypatch):
    import minidl_grader

    monkeypatch.setenv("MINIDL_PUBLIC_CHECK", "1")
    answer = _from_file(tmp_path, ROUGE_BY_HAND)
    assert evaluate("rouge_l_fbeta", answer).passed
    assert minidl_grader.evaluate("rouge_l_fbeta", answer).passed
    # the library's answer has the right numbers: only its use of the library fails it
    monkeypatch.setattr("minidl.exercises.forbidden_use", lambda names, forbids: None)
    assert evaluate("rouge_l_fbeta", _from_file(tmp_path, ROUGE_BY_THE_LIBRARY)).passed


def test_check_applies_the_forbids_where_the_grader_cannot_be_imported(tmp_path):
    """A student release has no grader: check() falls back to the public data, forbids included."""
    (tmp_path / "answer.py").write_text(ROUGE_BY_THE_LIBRARY)
    script = (
        "import sys\n"
        "sys.modules['minidl_grader'] = None  # importing the grader fails, as where it is absent\n"
        "from minidl.exercises import _grader_check, check\n"
        "assert _grader_check() is None\n"
        "from answer import rouge_l_fbeta\n"
        "check('rouge_l_fbeta', rouge_l_fbeta)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    env.pop("MINIDL_PUBLIC_CHECK", None)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("✘ rouge_l_fbeta: uses minidl.training.rouge"), result.stdout


def test_check_and_the_grader_agree_on_what_a_spec_forbids():
    """minidl's forbidden_use (no grader) decides as provenance.spec_forbidden_uses does."""
    from minidl_grader.judge import provenance

    from minidl.exercises import forbidden_use

    forbids = sorted({entry for e in registry.all_exercises() for entry in getattr(e, "forbids", ())})
    names = [
        *forbids,
        *(f"{entry}.anything" for entry in forbids),
        "minidl.nn.layers.conv.MaxPool2D",
        "minidl.nn.layers.dense.Dense",
        "minidl.nn.layers.normalization.LayerNorm",
        "minidl.nn.losses.MeanSquaredError",
        "minidl.nn",
        "minidl.training.rouge.lcs_length",
        "minidl.kernels.reference",
        "numpy.linalg.solve",
        "minidl.grading.anything",
    ]
    for exercise in registry.all_exercises():
        entries = list(getattr(exercise, "forbids", ()))
        for name in names:
            by_grader = provenance.spec_forbidden_uses([name], entries)
            assert forbidden_use([name], entries) == (by_grader[0] if by_grader else None), (
                exercise.name,
                name,
            )
