"""The chapters as a course: stored the way nbval can check them, linked into one sequence.

nbval (run over notebooks/ by ``make test``) re-executes every chapter and compares outputs.
These tests check what nbval cannot see: a cell stored without outputs compares nothing,
a misspelt ``# NBVAL_IGNORE_OUTPUT`` line silently compares a timing, and a chapter that
lost its links or its exercises breaks the course without failing any cell.
"""

import ast
import importlib
import importlib.util
import json
import re
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BY_NUMBER = {int(path.name[:2]): path for path in CHAPTERS}
# A chapter is graded when it has worked solutions; the exercises are generated from them.
GRADED = [path for path in CHAPTERS if (ROOT / "solutions" / path.name).exists()]


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(notebook):
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def markdown(notebook):
    return "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")


def reading_order():
    """The chapters in the order the README's table (and the book) gives them."""
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "tools" / "build_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.chapters()


def test_the_chapters_are_numbered_from_00_without_gaps():
    numbers = sorted(BY_NUMBER)
    assert numbers == list(range(numbers[-1] + 1)), f"chapter numbers found: {numbers}"
    assert len(BY_NUMBER) == len(CHAPTERS), "two chapters share a number"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_code_cell_is_stored_executed(path):
    """nbval compares stored outputs: a cell stored unexecuted would be checked against nothing."""
    unexecuted = [
        i
        for i, cell in enumerate(code_cells(load(path)))
        if cell["source"] and cell.get("execution_count") is None
    ]
    assert not unexecuted, f"{path.name}: code cells {unexecuted} have no stored run (make book)"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_nbval_markers_are_spelt_so_that_nbval_sees_them(path):
    """nbval honours a marker only when the comment line is the marker alone.

    ``# NBVAL_IGNORE_OUTPUT  (timings vary)`` is ignored by nbval, and the cell's output is
    compared after all; the reason belongs on the next comment line.
    """
    from nbval.plugin import (
        comment_markers as nbval_markers,  # those nbval itself reads (imported here: seconds)
    )

    for index, cell in enumerate(code_cells(load(path))):
        for line in "".join(cell["source"]).splitlines():
            comment = line.strip()
            if comment.startswith("#") and "NBVAL_" in comment:
                marker = comment.lstrip("#").strip()
                assert marker in nbval_markers, (
                    f"{path.name}, code cell {index}: {comment!r} is not a marker nbval "
                    f"recognises; write the marker alone on its line"
                )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_execution_timestamps_or_errors_are_stored(path):
    for index, cell in enumerate(code_cells(load(path))):
        assert "execution" not in cell.get("metadata", {}), (
            f"{path.name}, code cell {index} stores execution timestamps "
            f"(re-run it with tools/execute_notebooks.py)"
        )
        errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
        assert not errors, f"{path.name}, code cell {index} stores an error: {errors[0]['ename']}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_each_chapter_links_to_its_neighbours(path):
    """Each side links to the chapter before (after) it in the reading order, or to the one
    numbered before (after) it when that one is on the same side in the reading order (the two
    agree while the numbers follow the reading order, as the next test checks)."""
    text = markdown(load(path))
    number = int(path.name[:2])
    order = reading_order()
    position = order.index(path)
    for step in (-1, 1):
        candidates = []
        if number + step in BY_NUMBER:
            numbered = BY_NUMBER[number + step]
            if (order.index(numbered) - position) * step > 0:
                candidates.append(numbered)
        if 0 <= position + step < len(order):
            candidates.append(order[position + step])
        if candidates:
            assert any(f"]({c.name})" in text for c in candidates), (
                f"{path.name} links to none of {[c.name for c in candidates]}"
            )


@pytest.mark.parametrize("path", GRADED, ids=lambda p: p.stem)
def test_graded_chapters_end_with_a_summary_and_their_exercises(path):
    text = markdown(load(path))
    assert re.search(r"^## Summary", text, re.M), f"{path.name} has no '## Summary' section"
    assert re.search(r"^## Exercises", text, re.M), f"{path.name} has no '## Exercises' section"
    exercises = f"../exercises/{path.name}"
    assert (ROOT / "exercises" / path.name).exists(), f"exercises/{path.name} is missing"
    assert f"]({exercises})" in text, f"{path.name} does not link to {exercises}"


def test_readme_lists_every_chapter():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in CHAPTERS if f"(notebooks/{p.name})" not in readme]
    assert not missing, f"README.md does not list {missing}"


def test_the_chapters_are_numbered_in_reading_order():
    """The README's table gives the reading order; the numbers follow it, so a chapter added
    later is renumbered into its place (tools/renumber_chapters.py moves the files and
    rewrites the references)."""
    order = [path.name for path in reading_order()]
    assert order == [path.name for path in CHAPTERS], f"README.md's table reads {order}"


BY_SLUG = {path.stem[3:]: number for number, path in BY_NUMBER.items()}
# "Chapter 7's LeNet", "chapters 12 and 13", "chapter-10 kernel"; not 4,000 nor 13.5
CHAPTER_REFERENCE = re.compile(
    r"\b[Cc]hapters?[ -](\d{1,2}(?![\d.,]\d)(?:(?:,\s+and\s+|,\s*|\s+and\s+|\s+to\s+)\d{1,2}(?![\d.,]\d))*)"
)


def _cites_another_book(text, start):
    """The reference's clause (back to a sentence end, a semicolon or the line's start) has a
    year or an *italic title*: a chapter of another book (Goodfellow et al., chapter 6)."""
    clause = re.split(r"(?<=[a-z)])\.\s|;", text[text.rfind("\n", 0, start) + 1 : start])[-1]
    return bool(re.search(r"\b(?:19|20)\d\d\b|\*[^*\n]+\*,\s*", clause))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_reference_names_a_chapter(path):
    """Every "chapter N" in a chapter's text names a chapter that exists, its heading and its
    links to other chapters carry their numbers ("[8 · Going deep](08_going_deep.ipynb)")."""
    text = markdown(load(path))
    for match in CHAPTER_REFERENCE.finditer(text):
        if _cites_another_book(text, match.start()):
            continue
        for number in map(int, re.findall(r"\d+", match.group(1))):
            assert number in BY_NUMBER, f"{path.name}: {match.group(0)!r} names no chapter"
    heading = re.search(r"^# (\d+) · ", text, re.M)
    assert heading and int(heading.group(1)) == int(path.name[:2]), f"{path.name}: heading {heading}"
    for number, target in re.findall(r"\[(\d{1,2}) · [^\]\n]*\]\((\d\d)_\w+\.ipynb\)", text):
        assert int(number) == int(target), f"{path.name}: a link [{number} · ...] to chapter {target}"


# Cross-references whose words say which chapter they mean: (chapter, text with {slug} for
# that chapter's number). A renumbering that moved one number and not the other fails here.
KNOWN_REFERENCES = [
    ("welcome", "(GANs, Chapter {gans})"),
    ("fast_cpu_kernels", "Our patient is LeNet-5 from Chapter {convolutional_networks}"),
    ("gpu_kernels", "Chapter {fast_cpu_kernels} made the hot loops of a training step fast"),
    ("recurrent_networks", "(Chapter {going_deep} is about initialisation"),
    ("attention", "The recurrent networks of Chapter {recurrent_networks} read a sequence"),
    ("language_tasks", "Chapter {attention}'s translator, applied to reports"),
    ("transfer_learning", "Chapter {going_deep} teaches data"),
    ("frameworks", "the GAN of Chapter {gans}"),
    ("speech", "The model is Chapter {recurrent_networks}'s: a **GRU**"),
    ("detection_segmentation", "transposed convolutions (chapter {autoencoders}'s `Conv2DTranspose`)"),
]


@pytest.mark.parametrize("slug, words", KNOWN_REFERENCES, ids=[k[0] for k in KNOWN_REFERENCES])
def test_known_cross_references_name_the_chapter_they_mean(slug, words):
    text = " ".join(markdown(load(BY_NUMBER[BY_SLUG[slug]])).split())
    expected = re.sub(r"\{(\w+)\}", lambda m: str(BY_SLUG[m.group(1)]), words)
    assert expected in text, f"{BY_NUMBER[BY_SLUG[slug]].name} does not say {expected!r}"


# Text a writer meant to replace: "<the course repository's URL>", "<this repository>".
# (Autolinks such as <https://...> have no space; inner products in code cells are not prose.)
PLACEHOLDER = re.compile(r"<(?!https?://)[A-Za-z][^<>\n]*\s[^<>\n]*>")


def outputs_text(cell):
    return "".join(
        "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
        for o in cell.get("outputs", [])
    )


@pytest.mark.parametrize("path", CHAPTERS + [ROOT / "README.md"], ids=lambda p: p.stem)
def test_no_placeholder_is_left_in_the_text(path):
    text = path.read_text(encoding="utf-8") if path.suffix == ".md" else markdown(load(path))
    found = PLACEHOLDER.findall(text)
    assert not found, f"{path.name} still holds placeholders {found}: say what a reader can do today"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_table_of_unknown_values_is_printed(path):
    """A table whose cells print '?' stands for numbers nobody measured: print none, or measure."""
    for index, cell in enumerate(code_cells(load(path))):
        for line in outputs_text(cell).splitlines():
            assert line.split().count("?") < 2, (
                f"{path.name}, code cell {index} prints a table of unknowns: {line.strip()!r}"
            )


def test_every_solutions_notebook_belongs_to_a_chapter():
    """GRADED is derived from solutions/: a solutions notebook without its chapter would drop out unseen."""
    orphans = [
        p.name
        for p in sorted((ROOT / "solutions").glob("*.ipynb"))
        if not (ROOT / "notebooks" / p.name).exists()
    ]
    assert not orphans, f"solutions without a chapter of the same name: {orphans}"
    assert GRADED, "no chapter has a solutions notebook: the exercise sections would go unchecked"


# --- Every import a reader is shown resolves -------------------------------------------------
# A chapter or an exercise that names a module the library no longer has (``from minidl.grading
# import check`` outlived the module by several releases) fails only when a reader types it.
PROJECT_PACKAGES = ("minidl", "minidl_keras", "minidl_grader", "bench")  # bench/: the repository's
# benchmarks, which a student release carries beside notebooks/ (chapters 10 and 11 import them)
# Imported by a chapter but installed by hand, not by any extra: the chapter says so and skips
# its cells without it (chapter 25 runs Keras 3 on PyTorch; pyproject's [compare] comment).
INSTALLED_BY_HAND = {"torch"}
# Distributions whose import name differs from the distribution's name.
IMPORT_NAMES = {"cupy_cuda12x": ["cupy", "cupy_backends"], "scikit_learn": ["sklearn"], "pillow": ["PIL"]}
FILE_SUFFIXES = (".zip", ".py", ".whl", ".gz", ".ipynb", ".json", ".npz", ".md", ".toml")


def declared_imports():
    """Top-level import names of every dependency the three pyproject files declare (extras too)."""
    import tomllib

    names = set()
    for path in (
        ROOT / "pyproject.toml",
        ROOT / "grader" / "pyproject.toml",
        ROOT / "keras_door" / "pyproject.toml",
    ):
        project = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {})
        requirements = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            requirements += extra
        for requirement in requirements:
            distribution = re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0)
            key = re.sub(r"[-.]", "_", distribution).lower()
            names.update(IMPORT_NAMES.get(key, [key, distribution]))
    return names


def _module_exists(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent that is not a package, or does not exist
        return False


def project_name_resolves(dotted):
    """`minidl.training.rouge` or `minidl.nn.gradcheck.check_layer`: the longest prefix that is a
    module is imported, and the rest must be its attributes (or submodules)."""
    parts = dotted.split(".")
    for length in range(len(parts), 0, -1):
        module_name = ".".join(parts[:length])
        if _module_exists(module_name):
            break
    else:
        return False
    obj = importlib.import_module(module_name)
    for part in parts[length:]:
        if not hasattr(obj, part) and not _module_exists(f"{obj.__name__}.{part}"):
            return False
        obj = getattr(obj, part, None) or importlib.import_module(f"{obj.__name__}.{part}")
    return True


def shown_imports(path):
    """(where, module, names) for every import in a notebook's code cells and in its markdown's
    code (spans and fenced blocks), and (where, dotted, None) for every project name in code spans."""
    found = []
    for index, cell in enumerate(load(path)["cells"]):
        source = "".join(cell["source"])
        where = f"{path.parent.name}/{path.name}, cell {index}"
        if cell["cell_type"] == "code":
            lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
            for node in ast.walk(ast.parse("\n".join(lines))):
                if isinstance(node, ast.Import):
                    found += [(where, alias.name, []) for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    found.append((where, node.module, [alias.name for alias in node.names]))
        elif cell["cell_type"] == "markdown":
            for code in re.findall(r"```.*?```|`[^`\n]+`", source, re.S):
                from_import = r"\bfrom\s+([\w.]+)\s+import\s+([\w, ]+)"
                for module, names in re.findall(from_import, code):
                    found.append((where, module, [n.strip() for n in names.split(",") if n.strip()]))
                for module in re.findall(r"(?<![\w.])import\s+([\w.]+)", re.sub(from_import, "", code)):
                    found.append((where, module, []))
                for dotted in re.findall(rf"(?<![\w./])((?:{'|'.join(PROJECT_PACKAGES)})(?:\.\w+)*)", code):
                    if not dotted.endswith(FILE_SUFFIXES):
                        found.append((where, dotted, None))
    return found


IMPORTING = CHAPTERS + sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("path", IMPORTING, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_import_shown_resolves(path):
    """Every import in a chapter's or a solution's code and markdown names a module of minidl,
    minidl_keras or minidl_grader that exists (with the names imported from it), the standard
    library, or a declared dependency."""
    declared, problems = declared_imports(), []
    for where, module, names in shown_imports(path):
        top = module.split(".")[0]
        if top in PROJECT_PACKAGES:
            if not project_name_resolves(module):
                problems.append(f"{where}: {module} does not exist")
            for name in names or []:
                if not project_name_resolves(f"{module}.{name}"):
                    problems.append(f"{where}: {module} has no {name}")
        elif top not in sys.stdlib_module_names and top not in declared | INSTALLED_BY_HAND:
            problems.append(f"{where}: {module} is neither the standard library nor a declared dependency")
    assert not problems, "\n".join(problems)


def test_the_import_check_catches_a_module_that_is_gone():
    """The check above, on the names it must reject and accept."""
    assert not project_name_resolves("minidl.grading")
    assert not project_name_resolves("minidl.exercises.no_such_name")
    assert project_name_resolves("minidl.exercises.check")
    assert project_name_resolves("minidl.nn.gradcheck.check_layer")
    assert project_name_resolves("minidl_keras.layers")
    assert {"numpy", "gymnasium", "vaderSentiment", "cupy"} <= declared_imports()


# "## 8.4 Title": chapter 8, section 4 (chapters 10, 11 and 25 number "## 1." with "### 1.1" inside)
SECTION_HEADING = re.compile(r"^## (\d+)\.(\d+) ", re.M)
SECTION_REFERENCE = re.compile(r"\b[Ss]ections? (\d+)\.(\d+)\b")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_numbered_sections_carry_their_chapters_number(path):
    """A chapter whose sections are numbered "## 8.4 ..." numbers them all with its own number, and
    its text and its exercises refer to them by that number (a renumbering that moved the chapter
    and left "section 16.4" behind fails here)."""
    number = int(path.name[:2])
    text = markdown(load(path))
    headings = SECTION_HEADING.findall(text)
    assert all(int(chapter) == number for chapter, _ in headings), f"{path.name}: sections {headings}"
    if not headings:
        return
    sections = {int(section) for _, section in headings}
    texts = [(path.name, text)]
    solutions = ROOT / "solutions" / path.name
    if solutions.exists():
        texts.append((f"solutions/{path.name}", markdown(load(solutions))))
    for name, body in texts:
        for match in SECTION_REFERENCE.finditer(body):
            if _cites_another_book(body, match.start()):
                continue
            chapter, section = map(int, match.groups())
            assert chapter == number and section in sections, (
                f"{name}: {match.group(0)!r} names no section of it"
            )


def test_make_lab_serves_the_root_so_that_chapters_reach_their_exercises():
    """The chapters link to ``../exercises/NN.ipynb``: a Lab rooted at notebooks/ cannot open
    them. ``make lab`` serves the repository's root and opens on the welcome chapter."""
    recipe = re.search(r"^lab:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert recipe, "the Makefile has no lab target"
    command = recipe.group(1).replace("\\\n", " ")
    assert "--notebook-dir=. " in command
    opened = re.search(r"--LabApp\.default_url=/lab/tree/(\S+)", command)
    assert opened and (ROOT / opened.group(1)).is_file(), command
    linked = {m for path in CHAPTERS for m in re.findall(r"\]\(\.\./(exercises/[^)]+)\)", path.read_text())}
    assert linked and all((ROOT / link).is_file() for link in linked)


class _FakeKernelStart:
    """nbval.kernel.start_new_kernel that fails its first `failures` calls the way a lost port race
    does, then returns a manager and a client."""

    def __init__(self, failures):
        self.failures, self.calls = failures, 0

    def __call__(self, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("Kernel didn't respond in 60 seconds")
        return object(), object()


@pytest.mark.parametrize("failures", [0, 1, 2, 3])
def test_nbval_starts_a_kernel_again_when_a_start_fails(monkeypatch, failures):
    """The root conftest's KernelStartedAgain is what nbval starts: up to three tries, one warning
    for each failed one, the last failure raised."""
    nbval_kernel = pytest.importorskip("nbval.kernel")
    import nbval.plugin

    start = _FakeKernelStart(failures)
    monkeypatch.setattr(nbval_kernel, "start_new_kernel", start)
    monkeypatch.setattr(nbval_kernel.RunningKernel, "_ensure_iopub_up", lambda self: None)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        if failures < 3:
            kernel = nbval.plugin.RunningKernel("python3", cwd=str(ROOT), startup_timeout=60)
            assert hasattr(kernel, "km") and hasattr(kernel, "kc")
        else:
            with pytest.raises(RuntimeError, match="didn't respond"):
                nbval.plugin.RunningKernel("python3", cwd=str(ROOT), startup_timeout=60)
    assert start.calls == min(failures + 1, 3)
    retries = [
        str(w.message)[:16] for w in record if w.category is UserWarning
    ]  # not nbval's ResourceWarning
    assert retries == ["kernel start 1 o", "kernel start 2 o"][: min(failures, 2)]
