"""No graded code exercise is a near-copy of a chapter cell or of a minidl function.

What is compared, three ways: the code a reader writes for an exercise (the lines between
``# BEGIN SOLUTION`` and ``# END SOLUTION`` of ``solutions/``, CUDA sources included)
against every code cell of ``notebooks/`` (each function of a cell on its own, and the
cell's top-level code); the same answers against every function and method of ``minidl/``,
each on its own (``ast``), and the CUDA sources it holds; and the grader's reference of each
exercise (``grader/minidl_grader/specs/``: the reference function and the spec functions it
calls) against the same functions of ``minidl/`` -- the grader holds the references on
purpose, but a reference that transcribes minidl means an exercise that does.
docs/exercise-similarity.md has the measurement behind ``LIBRARY_THRESHOLD`` and the
allowed pairs; ``python tests/course/test_exercise_similarity.py [FLOOR]`` prints it again.

How: both sides become token sequences with names and literals abstracted (an
identifier is ``N``, a number or string ``L``; keywords, operators and attribute names
after a dot stay, so ``x.T @ dy`` and ``a.T @ g`` are the same, ``x.sum`` and ``x.max``
are not). The *coverage* of an answer by a candidate is the share of the answer's tokens
that lie in runs of at least ``RUN`` tokens matched in order (``difflib``, no junk
heuristic). An answer whose coverage by one candidate is ``THRESHOLD`` (a chapter) or
``LIBRARY_THRESHOLD`` (minidl) or more is a near-copy; the failure names both places. To
stay fast (``Pool``), only the candidates that share enough runs of ``RUN`` tokens with the
answer to reach the threshold are compared.

Calibration: ``copies_in`` run on the solutions of the commit before issue 28's rewrite
(``git show main:solutions/NN_*.ipynb`` into a folder). Copies the issue lists, caught
(coverage >= 0.78): ch03 ``dense_backward`` 1.00 (chapter 3 cell 21) and
``softmax_cross_entropy_backward`` 0.84 (cell 25), ch06 ``batchnorm_forward`` 0.89 (cell 4),
ch07 ``conv2d_forward`` 0.90 (cell 5), ch11 ``relu_forward_cuda`` 0.91 (the leaky-ReLU
kernel of cell 11), ch12 ``rnn_step_forward`` 0.93 (``minidl/layers/recurrent.py``), ch17
``reconstruction_errors`` 0.80 (chapter 17 cell 6), ch02 ``activation_derivatives`` 0.80
(cell 7); and two the issue did not list: ch01 ``softmax`` 0.98
(``minidl/kernels/reference.py``), ch05 ``inverted_dropout`` 0.93 (the same file), ch03
``numerical_gradient`` 0.80 (``minidl/gradcheck.py``). Copies the issue lists that a token
measure does not see, because the answer arranges the same algebra differently (another
order of terms, a helper inlined by hand): ch01's two gradients (0.52, 0.42), ch06
``batchnorm_backward`` 0.60, ch12 ``rnn_step_backward`` 0.55 and ``lstm_step_forward`` 0.53
-- all five were replaced anyway. The good exercises the issue names stay below:
``maxpool_backward`` 0.43, ``maxpool2d_numba`` 0.75, the grid-stride ``relu_backward_cuda``
0.57, ``lstm_step_backward`` 0.57, ``autoencoder_train_step`` 0.14, ``generator_step`` 0.31.
The last five copies, kept for a while as the grader tests' fixtures, were replaced too:
``weight_norm_backward`` 0.58, ``directional_gradient_check`` 0.35,
``weighted_bce_with_logits`` 0.41, ``activation_derivatives`` (softplus, ELU, hard-swish)
0.30 and ``bias_relu_cuda`` 0.43. Issue 41's second round
replaced the near-copies between 0.69 and 0.75 (``maxpool2d_numba``,
``avgpool2d_backward_numba``, ``xor_by_hand``, ``fold_batchnorm``, ``conv2d_weight_gradient``,
``im2col``, ``ema_weights``) and lowered the threshold from 0.78 to 0.70; on today's solutions
the highest answer is ``softmax_cross_entropy_backward`` (0.63, chapter 15 cell 21) against
the chapters and ``dense_after_flatten_from_keras`` (0.62) against minidl.
"""

from __future__ import annotations

import ast
import difflib
import fnmatch
import inspect
import io
import keyword
import re
import sys
import textwrap
import tokenize
from functools import cache, lru_cache
from pathlib import Path

import pytest
from minidl_grader import notebook
from minidl_grader.judge import mutants, registry

pytestmark = pytest.mark.slow  # every answer against every chapter cell: make test, not make test-unit

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
RUN = 4  # matched runs shorter than this many tokens do not count
THRESHOLD = 0.70  # coverage from which an answer is a near-copy (issue 41: below 0.7)
MIN_TOKENS = 12  # a one-line answer (`return x @ W + b`) is too short to judge
SHORT = 24  # answers shorter than this are judged by their longest matched run
LIBRARY_THRESHOLD = 0.70  # the same against minidl's functions: see docs/exercise-similarity.md
# (exercise, library place pattern) pairs at or above LIBRARY_THRESHOLD judged coincidence,
# each with its reason (measured 2026-11-25, docs/exercise-similarity.md)
ALLOWED_ANSWERS: dict[tuple[str, str], str] = {}
ALLOWED_REFERENCES: dict[tuple[str, str], str] = {
    ("conv_transpose_from_keras", "*"): "the reference is one statement, kernel.transpose(3, 2, 0, 1) "
    "(13 tokens): each of the 17 functions of minidl with a four-axis transpose covers it (0.77-1.00); "
    "the exercise is which axis goes where, and the solution's answer is at 0.46",
    ("dense_after_flatten_from_keras", "minidl/nn/layers/patches.py, unpatchify()"): "the reference is "
    "one reshape-transpose-reshape chain, as unpatchify is (0.79); unpatchify turns (N, T, C*ph*pw) "
    "patches into images, the exercise reorders Keras's (H, W, C) rows to (C, H, W): shape plumbing "
    "in common, not the mapping. The solution's answer, an index permutation, is at 0.62",
}

_C_KEYWORDS = {
    "if",
    "else",
    "for",
    "while",
    "return",
    "int",
    "float",
    "const",
    "void",
    "extern",
    "__global__",
    "__device__",
    "struct",
    "unsigned",
    "break",
}


def tokens(source: str, parsed: bool = False) -> list[str]:
    """``source`` as abstracted tokens: ``N`` for a name, ``L`` for a literal (``parsed``:
    ``source`` is known to be Python, ``ast.unparse``'s output)."""
    out, after_dot = [], False
    try:
        if not parsed:
            ast.parse(source)
        stream = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, ValueError):
        stream = None
    if stream is None:  # C/CUDA source or a fragment
        for word in re.findall(r"[A-Za-z_]\w*|\d+\.?\d*f?|\"[^\"]*\"|\S", source):
            if word[0].isdigit() or word[0] == '"':
                out.append("L")
            elif word[0].isalpha() or word[0] == "_":
                out.append(word if word in _C_KEYWORDS or after_dot else "N")
            else:
                out.append(word)
            after_dot = word in (".", "->")
        return out
    for tok in stream:
        if tok.type in (
            tokenize.COMMENT,
            tokenize.NL,
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
            tokenize.ENCODING,
        ):
            continue
        if tok.type == tokenize.NAME:
            out.append(tok.string if keyword.iskeyword(tok.string) or after_dot else "N")
        elif tok.type in (tokenize.NUMBER, tokenize.STRING):
            out.append("L")
        else:
            out.append(tok.string)
        after_dot = tok.string == "."
    return out


class _Substitute(ast.NodeTransformer):
    def __init__(self, values: dict):
        self.values = values

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id in self.values:
            return _clone(self.values[node.id])
        return node


def _clone(node):
    """A deep copy of an AST (``copy.deepcopy`` gives the same, five times slower)."""
    if isinstance(node, ast.AST):
        new = node.__class__()
        for name in node._fields:
            setattr(new, name, _clone(getattr(node, name, None)))
        for name in node._attributes:
            if hasattr(node, name):
                setattr(new, name, getattr(node, name))
        return new
    if isinstance(node, list):
        return [_clone(item) for item in node]
    return node


def inline(source: str) -> str:
    """``source`` with every name assigned once (outside a loop) replaced by its value, so
    that ``dx = dy @ W.T; return dx`` and ``return dy @ W.T`` read the same."""
    tree = ast.parse(source)
    stores: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            stores[node.id] = stores.get(node.id, 0) + 1

    def block(statements):
        values: dict[str, ast.expr] = {}
        kept = []
        for statement in statements:
            statement = _Substitute(values).visit(statement)
            target = statement.targets[0] if isinstance(statement, ast.Assign) else None
            if isinstance(target, ast.Name) and len(statement.targets) == 1 and stores[target.id] == 1:
                values[target.id] = statement.value
                continue
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and not isinstance(statement, (ast.For, ast.While)):
                    setattr(statement, field, block(inner))
            kept.append(statement)
        return kept

    tree.body = block(tree.body)
    return ast.unparse(tree)


def normalised(source: str) -> list[str]:
    """The tokens of ``source`` once single assignments are inlined (C and odd code as is)."""
    try:
        return tokens(inline(source), parsed=True)
    except (SyntaxError, ValueError, RecursionError):
        return tokens(source)


def coverage(answer: list[str], candidate: list[str]) -> float:
    """Share of ``answer``'s tokens in runs of >= ``RUN`` tokens found, in order, in ``candidate``.

    A short answer (under ``SHORT`` tokens) counts only its longest single run: a few generic
    pieces such as ``N - N * N`` are found anywhere, a whole short answer in one piece is not."""
    if not answer:
        return 0.0
    matcher = difflib.SequenceMatcher(None, answer, candidate, autojunk=False)
    runs = [block.size for block in matcher.get_matching_blocks() if block.size >= RUN]
    matched = max(runs, default=0) if len(answer) < SHORT else sum(runs)
    return matched / len(answer)


def _dedent_block(lines: list[str]) -> str:
    indents = [len(l) - len(l.lstrip()) for l in lines if l.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(l[cut:] for l in lines)


@cache
def answers(folder: Path = SOLUTIONS) -> dict[str, tuple[str, str]]:
    """exercise name -> (where, the code a reader writes), for every graded code exercise."""
    found = {}
    for path in sorted(folder.glob("*.ipynb")):
        for index, cell in enumerate(notebook.read_notebook(path)["cells"]):
            meta = notebook.exercise_meta(cell)
            if "exercise" not in meta or meta.get("question"):
                continue
            blocks = notebook.solution_blocks(notebook.cell_source(cell))
            code = "\n\n".join(_dedent_block(block) for block in blocks)
            found[meta["exercise"]] = (f"{path.relative_to(folder.parent)} cell {index}", code)
    return found


def _pieces(source: str, where: str) -> list[tuple[str, str]]:
    """Each function of ``source`` on its own, and the whole of it."""
    pieces = [(where, source)]
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return pieces
    lines = source.splitlines()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = "\n".join(lines[node.body[0].lineno - 1 : node.end_lineno])
            pieces.append((f"{where}, {node.name}()", _dedent_block(body.splitlines())))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "__global__" in node.value:
            pieces.append((f"{where}, CUDA source", node.value))
    return pieces


def _course_pieces() -> list[tuple[str, str]]:
    """Every code cell of the chapters, whole, and each of its functions."""
    found = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for index, cell in enumerate(notebook.read_notebook(path)["cells"]):
            if cell.get("cell_type") != "code":
                continue
            source = notebook.cell_source(cell)
            source = "\n".join(l for l in source.splitlines() if not l.lstrip().startswith(("%", "!")))
            found += _pieces(source, f"notebooks/{path.name} cell {index}")
    return found


def _library_pieces() -> list[tuple[str, str]]:
    """Every function and method of ``minidl/`` on its own (and its CUDA sources)."""
    found = []
    for path in sorted((ROOT / "minidl").rglob("*.py")):
        found += _pieces(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))[1:]
    return found


class Pool:
    """Candidates (where, tokens) with an index from each run of ``RUN`` tokens to the
    candidates that hold it. Only a candidate that holds a run of the answer can cover any of
    it, and the answer's tokens inside such shared runs bound its coverage from above (a
    matched block of ``RUN`` tokens or more is made of them; the candidate's tokens in such runs
    bound it too), so ``covering`` computes every bound at once and runs ``difflib`` on the
    candidates in decreasing bound until the bound falls below the best coverage found or the
    floor asked for: a few candidates per answer, not all two thousand. The result is the
    exhaustive comparison's (checked on every answer when this was written)."""

    def __init__(self, pieces: list[tuple[str, str]]):
        self.entries: list[tuple[str, tuple[str, ...]]] = []
        self.index: dict[tuple[str, ...], list[int]] = {}
        for where, text in pieces:
            found = tuple(normalised(text))
            if len(found) < RUN:
                continue
            number = len(self.entries)
            self.entries.append((where, found))
            for gram in {found[i : i + RUN] for i in range(len(found) - RUN + 1)}:
                self.index.setdefault(gram, []).append(number)

    def _bounds(self, answer: tuple[str, ...]) -> list[tuple[int, int]]:
        """(tokens of ``answer`` in runs that a candidate shares, candidate), largest first."""
        masks: dict[tuple[str, ...], int] = {}
        for i in range(len(answer) - RUN + 1):
            gram = answer[i : i + RUN]
            masks[gram] = masks.get(gram, 0) | (((1 << RUN) - 1) << i)
        bounds: dict[int, int] = {}
        for gram, mask in masks.items():
            for number in self.index.get(gram, ()):
                bounds[number] = bounds.get(number, 0) | mask
        return sorted(((mask.bit_count(), number) for number, mask in bounds.items()), reverse=True)

    @staticmethod
    def _shared_in(candidate: tuple[str, ...], grams: set) -> int:
        """Tokens of ``candidate`` in runs that the answer shares: the same bound, seen from
        the candidate's side (a short candidate cannot cover much of a long answer)."""
        mask = 0
        for i in range(len(candidate) - RUN + 1):
            if candidate[i : i + RUN] in grams:
                mask |= ((1 << RUN) - 1) << i
        return mask.bit_count()

    def covering(
        self, answer: tuple[str, ...], floor: float = 0.0, best: bool = True
    ) -> list[tuple[float, str]]:
        """(coverage, where) of the candidates that cover ``floor`` or more of ``answer``, best
        first; with ``best``, only the best one (the floor rises to each coverage found)."""
        grams = {answer[i : i + RUN] for i in range(len(answer) - RUN + 1)}
        found: list[tuple[float, str]] = []
        need = floor
        for shared, number in self._bounds(answer):
            if shared / len(answer) < need:
                break  # neither this candidate nor any after it can reach ``need``
            where, candidate = self.entries[number]
            if self._shared_in(candidate, grams) / len(answer) < need:
                continue
            score = coverage(list(answer), list(candidate))
            if score >= need and score > 0:
                found.append((score, where))
                if best:
                    need = score + 1e-9  # from now on, only a higher one
        found.sort(key=lambda pair: -pair[0])
        return found[:1] if best else found


@cache
def pool(name: str) -> Pool:
    """``"course"``: the chapters' code; ``"library"``: the functions of ``minidl/``."""
    return Pool(_course_pieces() if name == "course" else _library_pieces())


@cache
def closest(code: str, where: str = "course", floor: float = 0.0) -> tuple[float, str]:
    """The highest coverage of ``code`` by a candidate of the pool ``where``, and its place;
    ``(0.0, "")`` when none reaches ``floor`` (a test asks only whether one reaches the
    threshold: with ``floor=THRESHOLD``, the few candidates that might are compared)."""
    answer = tuple(normalised(code))
    if len(answer) < MIN_TOKENS:
        return (0.0, "")
    best = pool(where).covering(answer, floor)
    return best[0] if best else (0.0, "")


def copies_in(folder: Path, where: str = "course", floor: float = 0.0) -> dict[str, tuple[float, str, str]]:
    """name -> (coverage, answer's place, closest place) for every answer of ``folder``."""
    found = {}
    for name, (place, code) in answers(folder).items():
        score, source = closest(code, where, floor)
        found[name] = (score, place, source)
    return found


def _body(fn) -> str:
    """The body of the function ``fn`` without its ``def`` line and docstring: the part a
    reader writes (an answer's solution block holds no more)."""
    source = textwrap.dedent(inspect.getsource(fn))
    node = ast.parse(source).body[0]
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    body = node.body
    if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return _dedent_block(source.splitlines()[body[0].lineno - 1 : node.end_lineno])


@lru_cache(maxsize=1)
def references() -> dict[str, tuple[str, str]]:
    """exercise name -> (where, code) of the grader's reference for each code exercise: the
    reference of each entry (``mutants.references_of``) and the spec functions it calls
    (``mutants._closure``), one after another, as a reader's answer holds its helpers. An
    exercise judged without a reference function (chapter 9's two, chapter 11's CUDA ones)
    is represented by its judge when the judge is a function of its spec module, since that
    computes the expected result; ``silu_backward_cuda``'s judge is built by ``_kernels.py``
    (its CUDA answer is in ``answers()``)."""
    found = {}
    for exercise in registry.all_exercises():
        if exercise.is_question:
            continue
        entries = mutants.references_of(exercise)
        if not entries and getattr(exercise.judge, "__module__", None) == exercise.make_cases.__module__:
            entries = {"judge": exercise.judge}
        functions: dict = {}
        for fn in entries.values():
            functions.update(mutants._closure(fn))
        if not functions:
            continue
        path = Path(inspect.getsourcefile(next(iter(functions.values()))) or "").resolve()
        where = f"{path.relative_to(ROOT)}: {', '.join(f'{name}()' for name in functions)}"
        found[exercise.name] = (where, "\n\n".join(_body(fn) for fn in functions.values()))
    return found


# ------------------------------------------------------------------ the measure itself
def test_renaming_and_new_literals_do_not_hide_a_copy():
    chapter = "def f(dy, x, W):\n    return dy @ W.T, x.T @ dy, dy.sum(axis=0)\n"
    renamed = "g = grad @ weights.T\nreturn g, inputs.T @ grad, grad.sum(axis=1)\n"
    assert coverage(normalised(renamed), normalised(chapter)) >= THRESHOLD
    other = "s = x.mean(axis=1, keepdims=True)\nreturn (x - s) / np.sqrt(x.var(axis=1) + eps)\n"
    assert coverage(normalised(other), normalised(chapter)) < THRESHOLD
    spelled_out = "dx = dy @ W.T\ndW = x.T @ dy\ndb = dy.sum(axis=0)\nreturn dx, dW, db\n"
    assert coverage(normalised(spelled_out), normalised(chapter)) == 1.0


def test_cuda_sources_are_tokenised_too():
    kernel = (
        'extern "C" __global__ void k(const float* x, float* y, int n) {\n'
        "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n  if (i < n) y[i] = x[i] > 0 ? x[i] : 0;\n}\n"
    )
    assert tokens(kernel)[:4] == ["extern", "L", "__global__", "void"]
    assert "x" in tokens(kernel) and "N" in tokens(kernel)  # blockIdx.x: the attribute stays


class _Rename(ast.NodeTransformer):
    """Every variable and parameter renamed (``v0``, ``v1``, ...); attributes stay."""

    def __init__(self):
        self.names: dict[str, str] = {}

    def _new(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(id=self._new(node.id), ctx=node.ctx), node)

    def visit_arg(self, node):
        node.arg = self._new(node.arg)
        return node


def _renamed_copy(path: str, name: str) -> str:
    """The body of the function (or method) ``name`` of ``minidl/`` file ``path``, with its
    variables renamed and its comments and docstring gone: what a transcription looks like."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    node = next(
        n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name
    )
    body = [
        statement
        for statement in node.body
        if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))
    ]
    return ast.unparse(_Rename().visit(ast.Module(body=body, type_ignores=[])))


@pytest.mark.parametrize(
    "path, name",
    [
        ("minidl/kernels/reference/conv.py", "im2col"),  # a function
        ("minidl/nn/layers/normalization.py", "backward"),  # a method: BatchNorm.backward
        ("minidl/training/vision_metrics.py", "average_precision"),  # a long one
    ],
)
def test_a_renamed_copy_of_a_library_function_is_caught(tmp_path, path, name):
    code = _renamed_copy(path, name)
    original = {
        n.id
        for n in ast.walk(ast.parse((ROOT / path).read_text(encoding="utf-8")))
        if isinstance(n, ast.Name)
    }
    assert not original & {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}
    cell = (
        "def planted(*args):\n    # BEGIN SOLUTION\n"
        + textwrap.indent(code, "    ")
        + "\n    # END SOLUTION\n"
    )
    folder = tmp_path / "solutions"
    folder.mkdir()
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"minidl": {"exercise": "planted"}},
                "source": cell,
                "outputs": [],
                "execution_count": None,
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (folder / "99_planted.ipynb").write_text(notebook.dumps_notebook(nb), encoding="utf-8")
    score, place, source = copies_in(folder, "library", LIBRARY_THRESHOLD)["planted"]
    assert score >= LIBRARY_THRESHOLD and source == f"{path}, {name}()", (score, source)
    # what the library tests assert on: the copy is unexplained unless a pair allows it, and
    # an allowed pair that no longer reaches the threshold is reported stale
    assert (score, source) in _unexplained("planted", code, ALLOWED_ANSWERS)
    assert not _unexplained("planted", code, {("planted", "*"): "every match allowed"})
    with pytest.raises(AssertionError, match="no longer reaches"):
        _unexplained("planted", code, {("planted", "minidl/nowhere.py, *"): "a stale pair"})


# ------------------------------------------------------------------ the course
@pytest.mark.parametrize("name", sorted(answers()))
def test_no_exercise_is_a_near_copy_of_the_course(name):
    where, code = answers()[name]
    score, source = closest(code, "course", THRESHOLD)
    assert score < THRESHOLD, (
        f"{name} ({where}) is a near-copy of {source}: {score:.0%} of its tokens match in order"
    )


# ------------------------------------------------------------------ the library
def _unexplained(name: str, code: str, allowed: dict[tuple[str, str], str]) -> list[tuple[float, str]]:
    """The library functions that cover ``LIBRARY_THRESHOLD`` or more of ``code``, less the
    pairs ``allowed`` for exercise ``name`` (a place pattern, as ``fnmatch`` reads it)."""
    patterns = [pattern for exercise, pattern in allowed if exercise == name]
    answer = tuple(normalised(code))
    if len(answer) < MIN_TOKENS:
        return []
    hits = pool("library").covering(answer, LIBRARY_THRESHOLD, best=False)
    for exercise, pattern in allowed:
        if exercise == name:
            assert any(fnmatch.fnmatch(where, pattern) for _, where in hits), (
                f"the allowed pair ({name}, {pattern}) no longer reaches {LIBRARY_THRESHOLD}: remove it"
            )
    return [(score, where) for score, where in hits if not any(fnmatch.fnmatch(where, p) for p in patterns)]


@pytest.mark.parametrize("name", sorted(answers()))
def test_no_exercise_is_a_near_copy_of_the_library(name):
    where, code = answers()[name]
    found = _unexplained(name, code, ALLOWED_ANSWERS)
    assert not found, f"{name} ({where}) is a near-copy of " + "; ".join(
        f"{source} ({score:.0%} of its tokens match in order)" for score, source in found
    )


@pytest.mark.parametrize("name", sorted(references()))
def test_no_grader_reference_is_a_near_copy_of_the_library(name):
    where, code = references()[name]
    found = _unexplained(name, code, ALLOWED_REFERENCES)
    assert not found, f"the grader's reference of {name} ({where}) is a near-copy of " + "; ".join(
        f"{source} ({score:.0%} of its tokens match in order)" for score, source in found
    )


# ------------------------------------------------------------------ the measurement
def measure(floor: float = 0.5) -> None:
    """Print, for each answer, its highest coverage by the library and by the chapters, and for
    each reference its highest by the library; with the library functions that cover more than
    ``floor`` of it (slow: every candidate is compared;
    ``python tests/course/test_exercise_similarity.py [FLOOR]``)."""
    for label, texts in (("answer", answers()), ("reference", references())):
        rows: list[tuple[float, str, str, int, list[tuple[float, str]]]] = []
        for name, (_where, code) in texts.items():
            answer = tuple(normalised(code))
            if len(answer) < MIN_TOKENS:
                rows.append((0.0, "-", name, len(answer), []))
                continue
            chapters = "-"
            if label == "answer":
                chapters = f"{(pool('course').covering(answer) or [(0.0, '')])[0][0]:.2f}"
            library = pool("library").covering(answer, floor, best=False) or pool("library").covering(answer)
            rows.append((library[0][0] if library else 0.0, chapters, name, len(answer), library))
        print(f"\n{label}s: coverage by the library (by the chapters) [tokens] the closest library functions")
        for top, chapters, name, size, library in sorted(rows, reverse=True):
            shown = "; ".join(f"{score:.2f} {where}" for score, where in library[:3])
            print(f"{top:.2f} ({chapters}) {name} [{size}] {shown}")


if __name__ == "__main__":
    measure(float(sys.argv[1]) if len(sys.argv) > 1 else 0.5)
