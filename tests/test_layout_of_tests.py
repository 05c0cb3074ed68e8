"""The tests mirror the source tree: the test of a file is found by its path.

``minidl/nn/layers/conv.py`` is tested in ``tests/minidl/nn/layers/test_conv.py``,
``grader/minidl_grader/judge/feedback.py`` in ``tests/grader/judge/test_feedback.py``, the Keras
door's ``keras_door/minidl_keras/text.py`` in ``tests/keras/test_text.py`` and
``tools/figures.py`` in ``tests/tools/test_figures.py``. A package's ``__init__.py`` is tested in
``test_init.py`` of its folder, a ``__main__.py`` in ``test_main.py``. A second file for one
module adds a word after the module's name (``tests/minidl/nn/layers/test_recurrent_mask.py`` tests ``recurrent.py``).

A module with no test file of its own is listed in ``UNTESTED`` with the test files that
exercise it, and at least three quarters of the modules have their own
(``MIN_OWN_TEST_FILE``); a test file that mirrors no module is listed in ``CROSS_CUTTING``
with what it covers. Tests of the course as a whole (notebooks, examples, the book in a browser) live in
``tests/course/``. Every folder of ``tests/`` is a package (``__init__.py``), so that two files
of one name in two folders are two modules.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"

# tests/<area>/ mirrors this folder of the repository
AREAS = {
    "minidl": ROOT / "minidl",
    "grader": ROOT / "grader" / "minidl_grader",
    "keras": ROOT / "keras_door" / "minidl_keras",
    "bench": ROOT / "bench",
    "tools": ROOT / "tools",
}
COURSE = "course"  # tests of the course as a whole: they mirror no module
TOP_LEVEL = {"__init__.py", "conftest.py", "test_architecture.py", "test_layout_of_tests.py"}

PACKAGE_NAMES = "names only (its package's public names); imported by the tests of its modules"
VERSION = (
    "the version string that pip reads (pyproject's dynamic version); no test needs more than "
    "tests/test_architecture.py, which parses every module of the package"
)
BENCH_ROWS = (
    "benchmark rows: built by the runner that tests/bench/test_runner.py drives, which times "
    "one row (--only); `make bench` times them all"
)
PROJECT_SPECS = "the graded projects' hidden splits, drawn apart and absent from a release: tests/grader/judge/test_projects.py"
# module (repository path) -> where it is exercised, naming the test files
UNTESTED = {
    # ------------------------------------------------------------------ minidl/
    "minidl/__init__.py": PACKAGE_NAMES + "; tests/test_architecture.py keeps `import minidl` light",
    "minidl/_version.py": "the version: tests/minidl/test_main.py (info prints it)",
    "bench/__init__.py": PACKAGE_NAMES + " (tests/bench/test_runner.py)",
    "bench/__main__.py": "`python -m bench`: the runner's main (tests/bench/test_runner.py) after the "
    "process settings that tests/minidl/kernels/test_contract.py checks",
    "bench/conv_tiles.py": "tests/bench/test_runner.py "
    "(test_conv_tiles_times_the_im2col_route_and_each_tile_budget)",
    "bench/peer.py": "PyTorch's side of the benchmark: tests/bench/test_runner.py (test_peer_*)",
    "bench/recurrent.py": BENCH_ROWS,
    "minidl/datasets/__init__.py": PACKAGE_NAMES + " (tests/minidl/datasets/test_images.py)",
    "minidl/exercises/probes.py": "check() on the kernels, models and inputs after the call: "
    "tests/grader/test_public.py",
    "grader/minidl_grader/specs/projects/__init__.py": PROJECT_SPECS,
    "grader/minidl_grader/specs/projects/adding.py": PROJECT_SPECS,
    "grader/minidl_grader/specs/projects/digits.py": PROJECT_SPECS,
    "grader/minidl_grader/specs/projects/reviews.py": PROJECT_SPECS,
    "minidl/gallery/__init__.py": PACKAGE_NAMES + " (tests/minidl/gallery/test_gallery.py)",
    "minidl/gallery/autoencoders.py": "tests/minidl/gallery/test_gallery.py (autoencoder, corrupt, anomalies)",
    "minidl/gallery/gan.py": "tests/minidl/gallery/test_gallery.py (generator and discriminator steps)",
    "minidl/gallery/transfer.py": "tests/minidl/gallery/test_gallery.py (freeze, replace_head)",
    "minidl/kernels/__init__.py": PACKAGE_NAMES + " (tests/minidl/kernels/test_contract.py)",
    "minidl/kernels/cpu/__init__.py": PACKAGE_NAMES + " (tests/minidl/kernels/test_contract.py)",
    "minidl/kernels/gpu/__init__.py": PACKAGE_NAMES + " (tests/minidl/kernels/gpu/test_device.py)",
    "minidl/kernels/reference/__init__.py": PACKAGE_NAMES + " (tests/minidl/kernels/test_conformance.py)",
    "minidl/nn/__init__.py": PACKAGE_NAMES + " (tests/minidl/nn/test_gradcheck.py)",
    "minidl/nn/layers/__init__.py": PACKAGE_NAMES
    + "; tests/minidl/nn/test_gradcheck.py checks every name it exports",
    "minidl/training/__init__.py": PACKAGE_NAMES + " (tests/minidl/training/test_model.py)",
    # ------------------------------------------------------------------ grader/minidl_grader/
    "grader/minidl_grader/__init__.py": PACKAGE_NAMES + " (tests/grader/test_layout.py)",
    "grader/minidl_grader/__main__.py": "minidl-grade's entry: tests/grader/test_catalogue.py, tests/minidl/test_main.py",
    "grader/minidl_grader/_version.py": VERSION,
    "grader/minidl_grader/cli.py": "the commands: tests/grader/test_runner.py, tests/grader/reports/test_gradescope.py, "
    "tests/grader/test_similarity.py",
    "grader/minidl_grader/release.py": "solutions -> exercises: tests/grader/judge/test_feedback.py "
    "(test_release_*, test_committed_exercises_are_exactly_what_release_generates)",
    "grader/minidl_grader/confinement/__init__.py": PACKAGE_NAMES
    + " (tests/grader/confinement/test_isolation.py)",
    "grader/minidl_grader/judge/__init__.py": PACKAGE_NAMES + " (tests/grader/judge/test_feedback.py)",
    "grader/minidl_grader/reports/__init__.py": PACKAGE_NAMES + " (tests/grader/reports/test_text.py)",
    "grader/minidl_grader/reports/report.py": "tests/grader/judge/test_judging_partial.py "
    "(gradescope JSON, CSV and table per case), tests/grader/reports/test_text.py",
    "grader/minidl_grader/runtime/__init__.py": PACKAGE_NAMES
    + " (tests/grader/judge/test_feedback_verdict.py)",
    "grader/minidl_grader/runtime/probes.py": "tests/grader/judge/test_feedback_verdict.py (every chapter probed)",
    "grader/minidl_grader/runtime/rules.py": "constants only (njit options, a description's limits): "
    "tests/grader/judge/test_kernels.py",
    "grader/minidl_grader/runtime/sandbox.py": "the code inside the sandbox: tests/grader/test_runner.py, "
    "tests/grader/test_runner_attacks.py",
    "grader/minidl_grader/specs/__init__.py": PACKAGE_NAMES + " (tests/grader/specs/test_quiz.py)",
    "grader/minidl_grader/specs/_kernels.py": "the Numba and CUDA exercises' scaffolding: "
    "tests/grader/judge/test_feedback.py (test_numba_and_cuda_exercises_explain_their_own_mistakes)",
    # ------------------------------------------------------------------ keras_door/minidl_keras/
    "keras_door/minidl_keras/affine.py": "Keras's options of Dense and the convolutions (bias_initializer, "
    "regularizers, constraints): tests/keras/test_options.py",
    "keras_door/minidl_keras/__init__.py": PACKAGE_NAMES + " (tests/keras/programs/test_programs.py)",
    "keras_door/minidl_keras/_version.py": VERSION,
    "keras_door/minidl_keras/graph.py": "the layer-level tape: tests/keras/test_functional.py",
    "keras_door/minidl_keras/merging.py": "the merge layers, gradient-checked: tests/keras/test_functional.py",
    "keras_door/minidl_keras/model_file.py": "the .keras file (save, load_model): tests/keras/test_saving.py, "
    "tests/keras/programs/test_programs.py",
    "keras_door/minidl_keras/normalization.py": "tests/keras/test_text_and_normalization.py "
    "(Normalization), tests/keras/test_differences.py (BatchNormalization)",
    "keras_door/minidl_keras/ops.py": "keras.ops, each gradient-checked: tests/keras/test_functional.py",
    "keras_door/minidl_keras/weights.py": "Keras's weight order: tests/keras/test_differences.py "
    "(test_weights_are_laid_out_*), tests/keras/test_masking.py",
    "keras_door/minidl_keras/wrappers.py": "Bidirectional: tests/keras/test_masking.py, "
    "tests/keras/test_options.py (test_bidirectional_*)",
    "keras_door/minidl_keras/optimizers/__init__.py": "tests/keras/test_options.py (optimizer options), "
    "tests/keras/test_differences.py (update rules)",
    # ------------------------------------------------------------------ tools/
    "tools/execute_notebooks.py": "runs the chapters to store their outputs; tests/course/test_notebooks.py "
    "checks what it stored",
    "tools/make_mnist_5k.py": "a script run once by hand to rebuild mnist_5k.npz; "
    "its output is checked by tests/minidl/datasets/test_images.py (test_bundled_mnist_*)",
    "tools/make_spoken_digits.py": "tests/minidl/datasets/test_speech.py regenerates a stored clip with it",
}

# test file -> what it covers (it mirrors no one module)
CROSS_CUTTING = {
    "tests/minidl/test_user_mistakes.py": "the mistakes users make, across layers, losses, training and saving",
    "tests/minidl/nn/layers/test_dtypes.py": "float32 in, float32 out, for every layer of the gradient check's table",
    "tests/minidl/gallery/test_gallery.py": "autoencoders, gan, transfer and the upsampling layers they use",
    "tests/minidl/kernels/test_conformance.py": "every tier against the reference, case by case (tests/minidl/kernels/kernel_cases.py)",
    "tests/minidl/kernels/test_cuda_sources.py": "every CUDA source compiled by NVRTC, the launchers' own checks",
    "tests/minidl/kernels/gpu/test_device.py": "the GPU tier on a device, device placement everywhere",
    "tests/grader/test_layout.py": "the grader's folders and its own distribution",
    "tests/grader/specs/test_wrong_answers.py": "the usual wrong answers of every chapter's exercises",
    "tests/grader/specs/test_contracts.py": "every spec's contract (dtypes, inputs) against its reference and task",
    "tests/grader/specs/test_forbids_reach.py": "every exercise against every function of minidl: none left reachable that computes it",
    "tests/grader/test_new_chapter.py": "a throwaway chapter found by the registry, release, public data and layout",
    "tests/grader/reports/test_package_python.py": "a Gradescope package's requirements resolve for each image Python",
    "tests/grader/test_instructor_path.py": "an instructor's path: release, package, setup-cell errors, the CSV",
    "tests/grader/test_numba_evidence.py": "Numba kernels judged by their compiled dispatcher and prange work",
    "tests/keras/test_differences.py": "no silent difference with Keras: optimizers, schedules, fit, weights",
    "tests/keras/test_options.py": "optimizer options, initializers, constraints, penalties, add_weight",
    "tests/keras/test_types.py": "what typing the door changed: names, metrics, keyword arguments",
    "tests/keras/programs/test_programs.py": "Keras programs run with only their imports changed",
    "tests/keras/programs/test_io_programs.py": "keras.io's functional and subclassing programs",
    "tests/keras/programs/test_io_sweep.py": "twelve more keras.io-style programs",
    "tests/keras/programs/test_io_sweep3.py": "four more keras.io-style programs",
    "tests/keras/programs/test_io_sweep4.py": "twelve keras.io-style programs on round 3's additions",
    "tests/keras/programs/test_io_sweep5.py": "twelve keras.io-style programs written fresh for issue #62",
    "tests/keras/programs/test_io_sweep6.py": "six more keras.io-style programs written fresh for issue #62",
    "tests/keras/programs/test_io_sweep7.py": "custom losses and metrics, lookups by name, refusals (issue #78)",
    "tests/keras/programs/test_io_sweep8.py": "configs by Keras's keys, callbacks' options, refusals (issue #78)",
    "tests/keras/test_keras_walk.py": "every exported class's names, signature, config and weights against real Keras",
}

SPECIAL_STEMS = {"__init__": "init", "__main__": "main"}

# the share of modules with a test file of their own that the tree must keep (issue #67)
MIN_OWN_TEST_FILE = 0.75


def modules(area: str) -> list[Path]:
    folder = AREAS[area]
    pattern = "*.py" if area == "tools" else "**/*.py"
    return sorted(p for p in folder.glob(pattern) if "__pycache__" not in p.parts)


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def mirror_name(module: Path) -> str:
    return "test_" + SPECIAL_STEMS.get(module.stem, module.stem)


def mirrored_folder(area: str, module: Path) -> Path:
    return TESTS / area / module.parent.relative_to(AREAS[area])


def files_under(area: str) -> list[Path]:
    return sorted(p for p in (TESTS / area).rglob("test_*.py") if "__pycache__" not in p.parts)


def module_of(area: str, test: Path) -> Path | None:
    """The module a test file mirrors: ``test_<name>.py`` or ``test_<name>_<words>.py`` in the
    mirrored folder, the longest such name (``test_conv_tiles.py`` is ``conv_tiles.py``'s)."""
    source = AREAS[area] / test.parent.relative_to(TESTS / area)
    candidates = [m for m in modules(area) if m.parent == source]
    matching = [
        m for m in candidates if test.stem == mirror_name(m) or test.stem.startswith(mirror_name(m) + "_")
    ]
    return max(matching, key=lambda m: len(mirror_name(m)), default=None)


def modules_with_tests() -> set[str]:
    return {rel(m) for area in AREAS for t in files_under(area) if (m := module_of(area, t)) is not None}


def all_modules() -> list[Path]:
    return [m for area in AREAS for m in modules(area)]


def test_every_module_has_its_test_file_or_a_reason():
    tested = modules_with_tests()
    missing = [
        f"{rel(m)}: no {rel(mirrored_folder(area, m) / (mirror_name(m) + '.py'))}"
        for area in AREAS
        for m in modules(area)
        if rel(m) not in tested and rel(m) not in UNTESTED
    ]
    assert not missing, (
        "a module without its test file: write the test at the mirrored path, or add the module to "
        "UNTESTED with the test files that exercise it:\n" + "\n".join(missing)
    )


def test_three_quarters_of_the_modules_have_a_test_file_of_their_own():
    """An excuse is for a module with nothing to test by itself (a package's names, a version, a
    table); the rest are tested at their own path. The share may only go up."""
    every = [rel(m) for m in all_modules()]
    own = modules_with_tests()
    share = sum(m in own for m in every) / len(every)
    assert share >= MIN_OWN_TEST_FILE, (
        f"{share:.1%} of the {len(every)} modules have their own test file, below "
        f"{MIN_OWN_TEST_FILE:.0%}: write the test at the mirrored path instead of an excuse in UNTESTED"
    )


def test_the_table_lists_only_modules_that_exist_and_have_no_test_file():
    existing = {rel(m) for m in all_modules()}
    gone = sorted(set(UNTESTED) - existing)
    assert not gone, f"UNTESTED lists modules that do not exist (moved or removed?): {gone}"
    tested = sorted(set(UNTESTED) & modules_with_tests())
    assert not tested, f"UNTESTED lists modules that have their test file: take them out: {tested}"


def test_every_reason_names_test_files_that_exist():
    for module, reason in UNTESTED.items():
        named = re.findall(r"tests/[\w/]+\.py", reason)
        assert named, f"{module}: the reason names no test file that exercises it: {reason!r}"
        absent = [path for path in named if not (ROOT / path).is_file()]
        assert not absent, f"{module}: the reason names test files that do not exist: {absent}"


def test_every_test_file_mirrors_a_module_or_is_listed():
    orphans = [
        rel(t)
        for area in AREAS
        for t in files_under(area)
        if module_of(area, t) is None and rel(t) not in CROSS_CUTTING
    ]
    assert not orphans, (
        "test files that mirror no module: move each to the path of the module it tests, or list "
        "it in CROSS_CUTTING with what it covers:\n" + "\n".join(orphans)
    )
    for path in CROSS_CUTTING:
        assert (ROOT / path).is_file(), f"CROSS_CUTTING lists a file that does not exist: {path}"
        area = Path(path).relative_to("tests").parts[0]
        module = module_of(area, ROOT / path)
        assert module is None, f"{path} mirrors {rel(module)}: take it out of CROSS_CUTTING"


def test_the_top_of_tests_holds_only_the_areas_and_the_shared_files():
    files = {p.name for p in TESTS.glob("*.py")}
    assert files <= TOP_LEVEL, (
        f"test files at the top of tests/: {sorted(files - TOP_LEVEL)}; put each in the folder of "
        f"what it tests ({', '.join(f'tests/{a}/' for a in AREAS)}, or tests/{COURSE}/)"
    )
    folders = {
        p.name for p in TESTS.iterdir() if p.is_dir() and p.name != "__pycache__" and any(p.rglob("*.py"))
    }
    assert folders <= {*AREAS, COURSE}, (
        f"folders of tests/ that mirror nothing: {sorted(folders - {*AREAS, COURSE})}"
    )


def test_every_folder_of_tests_is_a_package():
    """Two test files of one name (``tests/minidl/nn/layers/test_conv.py`` and
    ``tests/minidl/kernels/cpu/test_conv.py``) are two modules only inside packages."""
    folders = {p.parent for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts}
    missing = sorted(rel(f) for f in folders if not (f / "__init__.py").is_file())
    assert not missing, f"folders of tests/ without __init__.py: {missing}"


def test_no_module_is_named_like_a_special_test_file():
    """``test_init.py`` means a package's ``__init__.py``; a module ``init.py`` would be ambiguous."""
    clashes = [rel(m) for m in all_modules() if m.stem in SPECIAL_STEMS.values()]
    assert not clashes, f"modules whose test file would read as a package's: {clashes}"


def test_the_mirror_rule_finds_known_pairs():
    """The rule itself, on pairs that exist: a module, an extra file of one module, ``__init__``."""
    pairs = {
        "tests/minidl/nn/layers/test_conv.py": "minidl/nn/layers/conv.py",
        "tests/minidl/nn/layers/test_recurrent_mask.py": "minidl/nn/layers/recurrent.py",
        "tests/minidl/kernels/cpu/test_conv.py": "minidl/kernels/cpu/conv.py",
        "tests/minidl/zoo/test_init.py": "minidl/zoo/__init__.py",
        "tests/minidl/test_main.py": "minidl/__main__.py",
        "tests/tools/test_renumber_chapters.py": "tools/renumber_chapters.py",
    }
    for test, module in pairs.items():
        area = Path(test).relative_to("tests").parts[0]
        found = module_of(area, ROOT / test)
        assert found is not None and rel(found) == module, (test, found)
    assert module_of("minidl", TESTS / "minidl" / "tests/minidl/test_user_mistakes.py") is None
