"""The similarity report: winnowed fingerprints find copies and leave honest answers alone.

The thresholds per exercise, and their rates on a held-out half, are set and measured by
``tools/similarity_thresholds.py`` (``tests/tools/test_similarity_thresholds.py``). Here the
rates are measured on ``tests/grader/grading_similarity_data.py``: independent rewrites of eight
exercises (pairs among them and with the published solution must not be reported) and
renamed / reordered copies of the solution (each must be reported). The module's
constants were set on this data; the measured rates are printed (``-s``) and stated in
README.md.
"""

import ast
import copy
import csv
import itertools
import json
import random

import numpy as np
import pytest
from minidl_grader import cli, evaluate, notebook, similarity
from minidl_grader.judge import registry

from tests.grader.grading_similarity_data import COPIES, HONEST
from tests.grader.test_runner_attacks import ROOT


def _solutions():
    return cli.published_solutions(ROOT / "solutions")


SOLUTIONS, HANDED_OUT = _solutions()


def _run(source: str):
    namespace = {"np": np}
    exec(compile(source, "<answer>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize(
    "exercise, source",
    [(e, s) for e, answers in HONEST.items() for s in answers]
    + [(e, s) for e, answers in COPIES.items() for s in answers],
)
def test_every_answer_of_the_data_is_right(exercise, source):
    """The data are real answers: each passes the grader's own cases."""
    result = evaluate(exercise, _run(source)[exercise], seed=3)
    assert result.passed, result.message


def test_names_literals_comments_and_docstrings_do_not_change_the_tokens():
    a = 'def f(x, n):\n    """Doc."""\n    total = x * 2.0  # twice\n    return total + n\n'
    b = "def g(values, count):\n    s = values * 3   # other comment\n\n    return s + count\n"
    assert similarity.normalized_tokens(a)[0][0] == "def"
    assert [t for t, _ in similarity.normalized_tokens(a)] == [t for t, _ in similarity.normalized_tokens(b)]
    c = "def f(x, n):\n    return x - n\n"
    assert [t for t, _ in similarity.normalized_tokens(a)] != [t for t, _ in similarity.normalized_tokens(c)]


def test_winnowing_finds_every_common_run_of_w_plus_k_minus_1_tokens():
    """The guarantee of winnowing: a shared run of W + K - 1 tokens shares a kept hash."""
    rng = random.Random(0)
    alphabet = ["V", "N", "+", "*", "(", ")", "[", "]", ",", "="]
    for _ in range(200):
        common = [(rng.choice(alphabet), 1) for _ in range(similarity.W + similarity.K - 1)]
        a = [(rng.choice(alphabet), 1) for _ in range(rng.randrange(30))] + common
        b = common + [(rng.choice(alphabet), 1) for _ in range(rng.randrange(30))]
        kept_a = {h for h, *_ in similarity._winnow(similarity._kgram_hashes(a, similarity.K), similarity.W)}
        kept_b = {h for h, *_ in similarity._winnow(similarity._kgram_hashes(b, similarity.K), similarity.W)}
        assert kept_a & kept_b


def measured_rates() -> dict:
    """Scores of every honest pair (rewrites with each other and with the solution) and of
    every copy against the solution."""
    honest, copies = [], []
    for exercise, answers in HONEST.items():
        base = HANDED_OUT[exercise]
        prints = [similarity.fingerprint(s, base) for s in answers + [SOLUTIONS[exercise]]]
        for a, b in itertools.combinations(prints, 2):
            match = similarity.compare(a, b)
            honest.append((exercise, match.score if match else None))
    for exercise, answers in COPIES.items():
        solution = similarity.fingerprint(SOLUTIONS[exercise], HANDED_OUT[exercise])
        for source in answers:
            match = similarity.compare(similarity.fingerprint(source, HANDED_OUT[exercise]), solution)
            copies.append((exercise, match.score if match else None))
    false_positives = [h for h in honest if h[1] is not None and h[1] >= similarity.threshold(h[0])]
    false_negatives = [c for c in copies if c[1] is None or c[1] < similarity.threshold(c[0])]
    return {
        "honest pairs": len(honest),
        "honest pairs too short to compare": sum(s is None for _, s in honest),
        "highest honest score": max(s for _, s in honest if s is not None),
        "copies": len(copies),
        "lowest copy score": min(s or 0 for _, s in copies),
        "false positives": false_positives,
        "false negatives": false_negatives,
    }


def test_measured_rates_no_honest_pair_reported_every_copy_found():
    rates = measured_rates()
    print("similarity measured:", json.dumps(rates))
    assert rates["honest pairs"] >= 40 and rates["copies"] >= 14
    assert rates["false positives"] == [], rates
    # one threshold of 0.5 found every copy here but reported honest students elsewhere (the
    # README's held-out rates); per exercise, two copies of formulaic exercises are missed
    # (the clip_by_global_norm copy writes the solution's conditional expression as an if)
    assert [e for e, _ in rates["false negatives"]] == [
        "linear_regression_gradient",
        "clip_by_global_norm",
    ], rates
    assert rates["highest honest score"] <= min(similarity.threshold(e) for e in HONEST) - 0.05


def test_a_short_exercise_is_not_compared_at_all():
    """One honest line of a transpose is what everyone writes: not a copy."""
    base = HANDED_OUT["conv_transpose_from_keras"]
    first, second = (similarity.fingerprint(s, base) for s in HONEST["conv_transpose_from_keras"])
    assert similarity.compare(first, second) is None
    assert (
        similarity.compare(first, similarity.fingerprint(SOLUTIONS["conv_transpose_from_keras"], base))
        is None
    )


def test_the_batch_pairs_name_the_copy_and_the_matching_lines():
    answers = {
        "alice.ipynb": {
            "conv2d_input_gradient": COPIES["conv2d_input_gradient"][0],
            "maxpool_backward": HONEST["maxpool_backward"][0],
        },
        "bob.ipynb": {
            "conv2d_input_gradient": HONEST["conv2d_input_gradient"][2],
            "maxpool_backward": HONEST["maxpool_backward"][1],
        },
        "carol.ipynb": {"conv2d_input_gradient": HONEST["conv2d_input_gradient"][2].replace("dx", "grad")},
    }
    matches = similarity.compare_batch(answers, SOLUTIONS, HANDED_OUT)
    flagged = {(m.left, m.right, m.exercise) for m in matches if m.score >= similarity.threshold(m.exercise)}
    assert flagged == {
        ("alice.ipynb", similarity.SOLUTIONS, "conv2d_input_gradient"),
        ("bob.ipynb", "carol.ipynb", "conv2d_input_gradient"),
    }
    copy_match = next(m for m in matches if m.left == "alice.ipynb" and m.right == similarity.SOLUTIONS)
    assert copy_match.left_lines and copy_match.right_lines
    assert similarity.highest(matches, "carol.ipynb").startswith("1.00 bob.ipynb: conv2d_input_gradient")


@pytest.mark.parametrize("suffix", [".html", ".md"])
def test_the_report_escapes_what_a_submission_controls(tmp_path, suffix):
    hostile = "<script>alert(1)</script>.ipynb"
    code = COPIES["conv2d_input_gradient"][0].replace(
        '"""conv2d_input_gradient"""', '"""```</pre><script>x()</script>"""'
    )
    code += "    # ```` <img src=x onerror=alert(2)>\n"
    matches = similarity.compare_batch({hostile: {"conv2d_input_gradient": code}}, SOLUTIONS, HANDED_OUT)
    report = tmp_path / f"report{suffix}"
    assert similarity.write_report(report, matches) == 1
    text = report.read_text()
    if suffix == ".html":
        assert "<script>" not in text and "<img" not in text and "&lt;script&gt;" in text
    else:
        fence = next(line for line in text.splitlines() if line.startswith("```"))
        assert len(fence) == 5  # longer than the 4 backticks inside
        assert "\\<script\\>" in text  # the file name in a heading
    # the matching lines are marked on both sides
    assert ("class='same'" in text) if suffix == ".html" else ("\n>" in text or " | >" in text)


def _chapter4_with_adamw(path, source: str):
    """Chapter 4 with ``source`` as its only answer: the other exercises are left out, so
    that the published solutions of the long ones (ema_weights, ...) are not pairs too."""
    nb = copy.deepcopy(notebook.read_notebook(ROOT / "solutions" / "04_optimization.ipynb"))
    kept = []
    for cell in nb["cells"]:
        exercise = notebook.exercise_meta(cell).get("exercise")
        if exercise == "adamw_update":
            cell["source"] = source
        if exercise in (None, "adamw_update"):
            kept.append(cell)
    nb["cells"] = kept
    notebook.write_notebook(nb, path)


@pytest.mark.sandbox
def test_grading_a_batch_fills_the_column_and_writes_the_report(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    _chapter4_with_adamw(folder / "alice.ipynb", COPIES["adamw_update"][1])
    _chapter4_with_adamw(folder / "bob.ipynb", HONEST["adamw_update"][1])
    _chapter4_with_adamw(folder / "carol.ipynb", HONEST["adamw_update"][2])
    grades, report = tmp_path / "grades.csv", tmp_path / "similar.md"
    code = cli.main(
        [
            str(folder),
            "--csv",
            str(grades),
            "--similarity",
            str(report),
            "--seed",
            "5",
            "--no-isolation",
            "--quiet",
        ]
    )
    assert code == 0
    rows = {row["submission"].rsplit("/", 1)[-1]: row for row in csv.DictReader(grades.open())}
    points = registry.get("adamw_update").points
    assert all(float(r["adamw_update"]) == points for r in rows.values()), rows
    text = report.read_text()
    found = [line for line in text.splitlines() if line.startswith("## ")]  # one group (reports/groups.py)
    assert found == ["## Group 1: 1 submission(s) and the published solution, highest 1.00"], found
    (members,) = [line for line in text.splitlines() if line.startswith("members: ")]
    assert "alice.ipynb, published solution; exercises: adamw\\_update" in members, members
    assert (rows["alice.ipynb"]["similarity_group"], rows["alice.ipynb"]["group_size"]) == ("1", "1")
    assert all(rows[who]["similarity_group"] == "" for who in ("bob.ipynb", "carol.ipynb"))
    assert rows["alice.ipynb"]["similarity"].startswith("1.00 published solution: adamw_update")
    # empty: nothing shared with anyone (a 0.00 names no partner)
    for who in ("bob.ipynb", "carol.ipynb"):
        assert float((rows[who]["similarity"] or "0").split()[0]) < similarity.threshold("adamw_update")


def test_a_renamed_cuda_kernel_is_found():
    """Chapter 11's answers are CUDA C inside a string: read as C, renamed copies are found."""
    source = SOLUTIONS["bias_relu_cuda"]
    renamed = source.replace(" v ", " val ").replace("v > ", "val > ").replace(": 0.0f", ": 0.f")
    renamed = renamed.replace("int c ", "int ch ").replace("b[c]", "b[ch]").replace("// planes", "// memory")
    assert renamed != source
    base = HANDED_OUT["bias_relu_cuda"]
    match = similarity.compare(similarity.fingerprint(renamed, base), similarity.fingerprint(source, base))
    assert match is not None and match.score >= similarity.threshold("bias_relu_cuda")


@pytest.mark.parametrize(
    "wrap",
    [
        lambda code: f"exec({code!r})\n",  # the published solution on one line, in a string
        lambda code: f"%time exec({code!r})\n",
        lambda code: f"_code = {code!r}\nexec(_code)\n",
        lambda code: f"%%time\nexec(compile({code!r}, 'x', 'exec'))\n",
        lambda code: "%%capture\n" + code,
    ],
)
def test_a_solution_inside_a_string_or_a_magic_is_compared(wrap):
    """Issue 56: `exec('...')` on one line was one token, under the minimum, never compared;
    its contents are now read as code, and score as the copy they are."""
    for exercise in ("maxpool_backward", "conv2d_input_gradient"):
        base = HANDED_OUT[exercise]
        solution = similarity.fingerprint(SOLUTIONS[exercise], base)
        match = similarity.compare(similarity.fingerprint(wrap(SOLUTIONS[exercise]), base), solution)
        assert match is not None and match.score >= similarity.threshold(exercise), (exercise, match)


def test_prose_and_messages_in_strings_stay_one_token():
    source = 'raise ValueError("expected x of shape (N, D), got something else entirely")\n'
    assert [t for t, _ in similarity.normalized_tokens(source)] == ["raise", "V", "(", "S", ")"]


def test_one_spelling_parentheses_quotes_and_line_breaks_change_nothing():
    """A formatter's rewrite (``return (a, b)``, a tuple in brackets, another line break) was
    a different run of tokens: the cell is read as ``ast.unparse`` writes it."""
    a = "def f(x, y):\n    p, q = x + 1, y * 2\n    return p, q\n"
    b = "def f(x, y):\n    (p, q) = (x + 1,\n              y * 2)\n    return (p, q)\n"
    assert [t for t, _ in similarity.normalized_tokens(a)] == [t for t, _ in similarity.normalized_tokens(b)]
    # the lines are the cell's own: the report marks the student's lines
    assert [line for _, line in similarity.normalized_tokens(b)][-3:] == [4, 4, 4]


def test_cuda_source_on_one_line_is_read_as_c():
    """A kernel's source written with newline escapes (one line) was one string token."""
    source, base = SOLUTIONS["bias_relu_cuda"], HANDED_OUT["bias_relu_cuda"]
    one_line = ast.unparse(ast.parse(source))  # every multi-line string on one line
    assert '"""' not in one_line
    match = similarity.compare(similarity.fingerprint(one_line, base), similarity.fingerprint(source, base))
    assert match is not None and match.score == 1.0


def test_thresholds_are_per_exercise_and_a_private_exercise_gets_the_floor():
    assert similarity.threshold("a private course's exercise") == similarity.THRESHOLD
    values = {similarity.threshold(e) for e in SOLUTIONS}
    assert len(values) > 2 and min(values) >= similarity.THRESHOLD


def test_the_report_flags_each_pair_at_its_exercises_threshold(tmp_path):
    pair = similarity.Match("adamw_update", "a.ipynb", "b.ipynb", containment=0.6, jaccard=0.5)
    assert 0.6 < similarity.threshold("adamw_update")
    assert similarity.write_report(tmp_path / "r.md", [pair]) == 0
    assert similarity.write_report(tmp_path / "r.md", [pair], 0.5) == 1


# ------------------------------------------------------- padding and reordering (issue 56)
_ANSWER = '''def f(x, w, lr):
    """One step of a toy regression."""
    h = x @ w
    g = np.maximum(h, 0.0)
    loss = np.mean(g * g)
    dw = x.T @ (2 * g * (h > 0)) / len(x)
    return loss, w - lr * dw
'''
_AFTER = "    h = x @ w\n"  # the padding goes after this line

PADDING = {
    "pass": "pass",
    "a bare string": '"""a second docstring"""',
    "an ellipsis": "...",
    "a bare constant": "42",
    "a pure expression": "h.shape",
    "an unread local": "_unused = None",
    "an unread local computed": "scratch = h * 2.0 + lr",
    "an unread chain": "a = h.T\n    b = a + 1",
    "x = x": "h = h",
    "a, b = a, b": "x, w = x, w",
    "del of a local": "tmp = 3\n    del tmp",
    "assert of a true constant": "assert True",
    "print of nothing": "print(end='')",
    "if False": "if False:\n        h = h * 100.0",
    "while False": "while False:\n        lr = 0",
    "an empty if": "if lr > 0:\n        pass",
    "x += 0": "lr += 0",
    "x *= 1": "lr *= 1",
}


def _words(source: str) -> list[str]:
    return [t for t, _ in similarity.normalized_tokens(source)]


@pytest.mark.parametrize("padding", list(PADDING.values()), ids=list(PADDING))
def test_a_statement_that_changes_nothing_is_dropped(padding):
    """A copy padded with a no-op statement has the original's tokens: it scores 1.00."""
    padded = _ANSWER.replace(_AFTER, _AFTER + f"    {padding}\n")
    assert padded != _ANSWER and _words(padded) == _words(_ANSWER)
    match = similarity.compare(similarity.fingerprint(padded), similarity.fingerprint(_ANSWER))
    assert match is not None and match.containment == match.jaccard == 1.0


@pytest.mark.parametrize(
    "before, after",
    [
        ("    h = x @ w\n", "    h = (x @ w) * 1 + 0\n"),  # no-op arithmetic
        ("    h = x @ w\n", "    h = 1 * (0 + x @ w) - 0\n"),
        ("    h = x @ w\n", "    h = (x @ w) / 1 ** 1\n"),
        ("    h = x @ w\n", "    h = +(x @ w)\n"),
        ("    g = np.maximum(h, 0.0)\n", "    if True:\n        g = np.maximum(h, 0.0)\n"),  # a live branch
        (
            "    return loss, w - lr * dw\n",
            "    return loss, w - lr * dw\n    print('never')\n",
        ),  # unreachable
    ],
    ids=["x * 1 + 0", "1 * (0 + x) - 0", "x / 1 ** 1", "+x", "if True", "after return"],
)
def test_an_expression_or_branch_that_changes_nothing_is_read_as_its_value(before, after):
    padded = _ANSWER.replace(before, after)
    assert padded != _ANSWER and _words(padded) == _words(_ANSWER)


@pytest.mark.parametrize(
    "extra",
    [
        "h = h + 1",  # arithmetic that changes the value
        "h = h // 1",  # floor division changes floats
        "h = 0 - h",
        "h = h * 1.5",
        "assert lr > 0",  # a real check
        "assert False",
        "print()",  # prints a line
        "np.random.shuffle(x)",  # a call: it may change what it is given
        "extra = np.sum(h)",  # an unread result of a call: the call stays
        "h += lr",  # in place: an array changed
        "while True:\n        break",
        "if lr > 0:\n        h = h * lr",
    ],
)
def test_a_statement_that_may_change_something_is_kept(extra):
    """The rules drop only what cannot change a result: an honest answer with more code in
    it does not read as one without."""
    assert _words(_ANSWER.replace(_AFTER, _AFTER + f"    {extra}\n")) != _words(_ANSWER)


def test_the_names_a_cell_leaves_to_the_next_cells_are_kept():
    """Outside a function a name is read by the next cells and the grader (``lr = 0.1`` may
    be the answer); only a ``_name`` never read is dropped there, and a cell that reads
    names by name (``eval``, ``locals()``) keeps every assignment."""
    assert _words("lr = 0.1\nsteps = 10\n") == ["V", "=", "N", "V", "=", "N"]
    assert _words("lr = 0.1\n_scratch = 10\n") == ["V", "=", "N"]
    assert _words("lr = 0.1\ndel lr\n") == ["V", "=", "N", "del", "V"]
    kept = "def f(x):\n    y = x * 2\n    return eval('x')\n"
    # (the operands of * in one order, by their tokens: ``x * 2`` reads as ``2 * x``)
    assert _words(kept)[:12] == ["def", "V", "(", "V", ")", ":", "V", "=", "N", "*", "V", "return"]


def test_published_solutions_padded_as_the_tool_pads_score_as_the_solution():
    """Every long published solution with a no-op after each statement (the four kinds of
    ``tools/similarity_thresholds.py`` and more) scores 1.00 against itself."""
    fillers = ["pass", "_unused = None", "assert True", "print(end='')", "...", "_ = 0"]
    checked = 0
    for exercise in ("gaussian_kl_general", "maxpool_backward", "conv2d_input_gradient", "adamw_update"):
        tree = ast.parse(SOLUTIONS[exercise])
        for node in ast.walk(tree):
            for name, value in ast.iter_fields(node):
                if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                    padded = []
                    for i, statement in enumerate(value):
                        padded += [statement, ast.parse(fillers[i % len(fillers)]).body[0]]
                    setattr(node, name, padded)
        copy_ = ast.unparse(tree)
        base = HANDED_OUT[exercise]
        match = similarity.compare(
            similarity.fingerprint(copy_, base), similarity.fingerprint(SOLUTIONS[exercise], base)
        )
        assert match is not None and match.containment == 1.0, (exercise, match)
        checked += 1
    assert checked == 4


def test_honest_answers_keep_their_scores_when_padded():
    """Padding an honest rewrite neither raises nor lowers its score with the solution: the
    rules read it as the rewrite it is, not as the solution."""
    for exercise, answers in HONEST.items():
        base = HANDED_OUT[exercise]
        solution = similarity.fingerprint(SOLUTIONS[exercise], base)
        for source in answers:
            lines = source.splitlines(keepends=True)
            at = next(i for i, line in enumerate(lines) if line.startswith("    ") and '"""' not in line)
            padded = "".join(lines[: at + 1] + ["    pass\n", "    _unused = None\n"] + lines[at + 1 :])
            plain = similarity.compare(similarity.fingerprint(source, base), solution)
            again = similarity.compare(similarity.fingerprint(padded, base), solution)
            assert (plain and plain.score) == (again and again.score), (exercise, source)


_SWAPPED = '''def f(x, w, lr):
    """One step of a toy regression."""
    h = x @ w
    loss_scale = 1.0 / len(x)
    g = np.maximum(h, 0.0)
    loss = np.mean(g * g)
    dw = x.T @ (2 * g * (h > 0)) * loss_scale
    return loss, w - lr * dw
'''


def test_independent_assignments_in_any_order_are_read_in_one_order():
    """Every order of a run of assignments that keeps their dependencies (renamed or not)
    gives the same tokens; an order that changes what is computed does not."""
    body = _SWAPPED.splitlines(keepends=True)
    statements = body[2:7]
    reads_before = {  # statement: those it must follow (it reads what they write)
        2: {0},  # g reads h
        3: {2},  # loss reads g
        4: {0, 1, 2},  # dw reads h, loss_scale, g
    }
    expected = _words(_SWAPPED)
    seen = 0
    for order in itertools.permutations(range(5)):
        if all(order.index(j) > order.index(i) for j, need in reads_before.items() for i in need):
            source = "".join(body[:2] + [statements[i] for i in order] + body[7:])
            assert _words(source) == expected, order
            seen += 1
    assert seen > 5
    renamed = _SWAPPED.replace("loss_scale", "s").replace("h", "pre")
    assert _words(renamed) == expected
    # a dependent pair in the other order computes something else: other tokens
    assert _words("def f(x):\n    a = x\n    x = 2\n    return a\n") != _words(
        "def f(x):\n    x = 2\n    a = x\n    return a\n"
    )


def test_reordered_and_padded_copies_mark_the_students_own_lines():
    """The report marks the lines where the student wrote them: a moved statement at its own
    line, a dropped statement after the last copied one not at all."""
    copy_ = (
        "def f(x, w, lr):\n"  # 1
        '    """Mine."""\n'  # 2
        "    loss_scale = 1.0 / len(x)\n"  # 3  (moved up)
        "    pass\n"  # 4
        "    h = x @ w\n"  # 5
        "    g = np.maximum(h, 0.0)\n"  # 6
        "    _unused = None\n"  # 7
        "    loss = np.mean(g * g)\n"  # 8
        "    dw = x.T @ (2 * g * (h > 0)) * loss_scale\n"  # 9
        "    return loss, w - lr * dw\n"  # 10
        "    print(end='')\n"  # 11 (after the return: never run)
    )
    tokens = similarity.normalized_tokens(copy_)
    assert [t for t, _ in tokens] == _words(_SWAPPED)
    assert {line for _, line in tokens} == {1, 3, 5, 6, 8, 9, 10}
    match = similarity.compare(similarity.fingerprint(copy_), similarity.fingerprint(_SWAPPED))
    assert match is not None and match.containment == 1.0
    assert {3, 5, 6, 8, 9, 10} <= match.left_lines <= set(range(1, 11))
    assert 11 not in match.left_lines and match.right_lines <= set(range(1, 9))
