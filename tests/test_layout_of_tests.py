"""The tests mirror the source tree: the test of a file is found by its path.

``minidl/nn/layers/conv.py`` is tested in ``tests/minidl/nn/layers/test_conv.py``,
``grader/minidl_grader/judge/feedback.py`` in ``tests/grader/judge/test_feedback.py``, the Keras
door's ``keras_door/minidl_keras/text.py`` in ``tests/keras/test_text.py`` and
``tools/figures.py`` in ``tests/tools/test_figures.py``. A package's ``__init__.py`` is tested in
``test_init.py`` of its folder, a ``__main__.py`` in ``test_main.py``. A second file for one
module adds a word after the module's name (``tests/minidl/nn/layers/test_recurrent_mask.py`` tests ``recurrent.py``).

A module with no test file of its own is listed in ``UNTESTED`` with the test files that
exercise it; a test file that mirrors no module is listed in ``CROSS_CUTTING`` with what it
covers. Tests of the course as a whole (notebooks, examples, the book in a browser) live in
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
    "tools": ROOT / "tools",
}
COURSE = "course"  # tests of the course as a whole: they mirror no module
TOP_LEVEL = {"__init__.py", "conftest.py", "test_architecture.py", "test_layout_of_tests.py"}

SPEC = (
    "the chapter's exercises are graded for every chapter by tests/grader/test_runner.py "
    "(solutions full marks, exercises 0) and probed by tests/grader/judge/test_feedback_verdict.py"
)
PACKAGE_NAMES = "names only (its package's public names); imported by the tests of its modules"
VERSION = (
    "the version string that pip reads (pyproject's dynamic version); no test needs more than "
    "tests/test_architecture.py, which parses every module of the package"
)
BENCH_ROWS = (
    "benchmark rows: built by the runner that tests/minidl/bench/test_runner.py drives, which times "
    "one row (--only); `make bench` times them all"
)
GPU_FAMILY = (
    "the CUDA tier of one kernel family: held to the reference by tests/minidl/kernels/test_conformance.py "
    "(emulator and device), its source compiled by tests/minidl/kernels/test_cuda_sources.py"
)
CPU_FAMILY = (
    "the Numba tier of one kernel family: held to the reference case by case by "
    "tests/minidl/kernels/test_conformance.py, declared as tests/minidl/kernels/test_contract.py checks"
)


def reference(layer_test: str) -> str:
    return (
        f"the NumPy reference of one kernel family: gradient-checked through its layers in {layer_test}; "
        "the table of tests/minidl/kernels/kernel_cases.py holds the other tiers to it"
    )


# module (repository path) -> where it is exercised, naming the test files
UNTESTED = {
    # ------------------------------------------------------------------ minidl/
    "minidl/__init__.py": PACKAGE_NAMES + "; tests/test_architecture.py keeps `import minidl` light",
    "minidl/_version.py": "the version: tests/minidl/test_main.py (info prints it)",
    "minidl/backend.py": "the tier switch: tests/conftest.py's tier fixture runs tests/minidl/nn/layers/ "
    "on each tier; devices in tests/minidl/nn/layers/test_base_device.py and tests/minidl/kernels/gpu/test_device.py",
    "minidl/models.py": "load_model and the zoo's builders: tests/minidl/training/test_model.py, "
    "tests/minidl/zoo/test_init.py (vgg_style, LeNet-5)",
    "minidl/bench/__init__.py": PACKAGE_NAMES + " (tests/minidl/bench/test_runner.py)",
    "minidl/bench/attention.py": BENCH_ROWS,
    "minidl/bench/conv.py": BENCH_ROWS + " (the batch norm row timed there is this file's)",
    "minidl/bench/conv_tiles.py": "tests/minidl/bench/test_runner.py "
    "(test_conv_tiles_times_the_im2col_route_and_each_tile_budget)",
    "minidl/bench/gpu.py": "the device benchmark: tests/minidl/kernels/gpu/test_device.py runs it on a GPU",
    "minidl/bench/peer.py": "PyTorch's side of the benchmark: tests/minidl/bench/test_runner.py (test_peer_*)",
    "minidl/bench/recurrent.py": BENCH_ROWS,
    "minidl/datasets/__init__.py": PACKAGE_NAMES + " (tests/minidl/datasets/test_datasets.py)",
    "minidl/datasets/audio.py": "the speech features: tests/minidl/datasets/test_speech.py",
    "minidl/datasets/data/make_mnist_5k.py": "a script run once by hand to rebuild mnist_5k.npz; "
    "its output is checked by tests/minidl/datasets/test_datasets.py (test_bundled_mnist_*)",
    "minidl/datasets/download.py": "offline downloads and checksums: tests/minidl/datasets/test_datasets.py",
    "minidl/datasets/formats.py": "IDX and CIFAR parsing: tests/minidl/datasets/test_datasets.py (test_parse_*)",
    "minidl/datasets/images.py": "MNIST and CIFAR loaders: tests/minidl/datasets/test_datasets.py",
    "minidl/datasets/pets.py": "the Pet loader on archives in its layout: tests/minidl/datasets/test_scenes_and_pets.py",
    "minidl/datasets/sequences.py": "tests/minidl/datasets/test_datasets.py (adding problem, sine sequences)",
    "minidl/datasets/synthetic.py": "tests/minidl/datasets/test_datasets.py (test_synthetic_*, spirals, moons)",
    "minidl/datasets/text.py": "tests/minidl/datasets/test_datasets.py (text corpus, char encoder, sample)",
    "minidl/exercises/compare.py": "the explanations of a wrong answer: tests/grader/judge/test_feedback.py, "
    "tests/grader/judge/test_feedback_verdict.py",
    "minidl/exercises/data.py": "the shipped public cases: tests/grader/test_public.py",
    "minidl/exercises/probes.py": "check() on the kernels, models and inputs after the call: "
    "tests/grader/test_public.py",
    "minidl/gallery/__init__.py": PACKAGE_NAMES + " (tests/minidl/gallery/test_gallery.py)",
    "minidl/gallery/autoencoders.py": "tests/minidl/gallery/test_gallery.py (autoencoder, corrupt, anomalies)",
    "minidl/gallery/gan.py": "tests/minidl/gallery/test_gallery.py (generator and discriminator steps)",
    "minidl/gallery/transfer.py": "tests/minidl/gallery/test_gallery.py (freeze, replace_head)",
    "minidl/kernels/__init__.py": PACKAGE_NAMES + " (tests/minidl/kernels/test_contract.py)",
    "minidl/kernels/boxes.py": "box IoU, NMS and mAP against brute force: tests/minidl/nn/test_segmentation_detection.py",
    "minidl/kernels/common.py": "shared by the tiers: tests/minidl/kernels/cpu/test_conv.py, "
    "tests/minidl/kernels/test_conformance.py",
    "minidl/kernels/emulate.py": "the CUDA emulator: tests/minidl/kernels/test_cuda_sources.py (test_emulator_*), "
    "and every GPU kernel through it in tests/minidl/kernels/test_conformance.py",
    "minidl/kernels/cpu/__init__.py": PACKAGE_NAMES + " (tests/minidl/kernels/test_contract.py)",
    "minidl/kernels/cpu/attention.py": CPU_FAMILY,
    "minidl/kernels/cpu/batchnorm.py": CPU_FAMILY,
    "minidl/kernels/cpu/dropout.py": CPU_FAMILY,
    "minidl/kernels/cpu/loops.py": "serial and parallel loop nests: tests/minidl/kernels/cpu/test_conv.py "
    "(test_parallel_versions_equal_the_serial_ones, test_small_work_runs_serially_*)",
    "minidl/kernels/cpu/loss.py": CPU_FAMILY,
    "minidl/kernels/cpu/optim.py": CPU_FAMILY,
    "minidl/kernels/cpu/pool.py": CPU_FAMILY,
    "minidl/kernels/cpu/recurrent.py": CPU_FAMILY + "; gates in tests/minidl/kernels/cpu/test_conv.py "
    "(test_float32_gate_functions_are_accurate)",
    "minidl/kernels/gpu/__init__.py": PACKAGE_NAMES + " (tests/minidl/kernels/gpu/test_device.py)",
    "minidl/kernels/gpu/attention.py": GPU_FAMILY,
    "minidl/kernels/gpu/batchnorm.py": GPU_FAMILY,
    "minidl/kernels/gpu/conv.py": GPU_FAMILY,
    "minidl/kernels/gpu/dropout.py": GPU_FAMILY,
    "minidl/kernels/gpu/launch.py": "compiling and launching: tests/minidl/kernels/test_cuda_sources.py, "
    "tests/minidl/kernels/test_contract.py",
    "minidl/kernels/gpu/loss.py": GPU_FAMILY,
    "minidl/kernels/gpu/optim.py": GPU_FAMILY,
    "minidl/kernels/gpu/pool.py": GPU_FAMILY,
    "minidl/kernels/gpu/recurrent.py": GPU_FAMILY
    + "; one-launch loops in tests/minidl/kernels/gpu/test_device.py",
    "minidl/kernels/reference/__init__.py": PACKAGE_NAMES + " (tests/minidl/kernels/test_conformance.py)",
    "minidl/kernels/reference/attention.py": reference("tests/minidl/nn/layers/test_attention.py"),
    "minidl/kernels/reference/batchnorm.py": reference("tests/minidl/nn/layers/test_normalization.py"),
    "minidl/kernels/reference/conv.py": reference("tests/minidl/nn/layers/test_conv.py"),
    "minidl/kernels/reference/dropout.py": reference("tests/minidl/nn/layers/test_core.py"),
    "minidl/kernels/reference/loss.py": reference("tests/minidl/nn/test_losses.py"),
    "minidl/kernels/reference/optim.py": reference("tests/minidl/nn/test_optim.py"),
    "minidl/kernels/reference/pool.py": reference("tests/minidl/nn/layers/test_conv.py"),
    "minidl/kernels/reference/recurrent.py": reference("tests/minidl/nn/layers/test_recurrent_step.py"),
    "minidl/nn/__init__.py": PACKAGE_NAMES + " (tests/minidl/nn/test_gradcheck.py)",
    "minidl/nn/configurable.py": "the base of initializer and constraint objects: tests/keras/test_options.py "
    "(test_initializer_objects_in_layers_draw_and_save, test_constraints_hold_after_every_step_and_save)",
    "minidl/nn/constraints.py": "tests/keras/test_options.py (test_constraints_*)",
    "minidl/nn/detection.py": "the grid detector's targets and loss: tests/minidl/nn/test_segmentation_detection.py",
    "minidl/nn/initializers.py": "tests/minidl/nn/layers/test_residual.py (the initializers), "
    "tests/keras/test_options.py (with arguments)",
    "minidl/nn/regularizers.py": "tests/minidl/nn/layers/test_core.py (weight penalties), "
    "tests/keras/test_options.py (bias and activity penalties)",
    "minidl/nn/layers/__init__.py": PACKAGE_NAMES
    + "; tests/minidl/nn/test_gradcheck.py checks every name it exports",
    "minidl/nn/layers/activations.py": "tests/minidl/nn/layers/test_core.py (the activations), "
    "tests/minidl/nn/test_gradcheck.py (each one's gradient)",
    "minidl/nn/layers/affine.py": "Dense: tests/minidl/nn/layers/test_core.py",
    "minidl/nn/layers/embedding.py": "tests/minidl/nn/layers/test_recurrent.py (Embedding), "
    "tests/minidl/nn/layers/test_attention.py",
    "minidl/nn/layers/merge.py": "Concatenate: tests/minidl/nn/test_segmentation_detection.py",
    "minidl/nn/layers/separable.py": "tests/minidl/nn/test_gradcheck.py (every exported layer), "
    "tests/keras/test_layers_conv_pool.py (depthwise and separable convolutions)",
    "minidl/nn/layers/unet.py": "tests/minidl/nn/test_segmentation_detection.py (test_unet_*)",
    "minidl/nn/layers/upsampling.py": "tests/minidl/gallery/test_gallery.py (UpSampling2D, Conv2DTranspose)",
    "minidl/training/__init__.py": PACKAGE_NAMES + " (tests/minidl/training/test_model.py)",
    "minidl/training/decoding.py": "beam and greedy decoding: tests/minidl/datasets/test_language.py",
    "minidl/training/rouge.py": "ROUGE against the rouge_score package: tests/minidl/datasets/test_language.py",
    "minidl/training/summary.py": "model.summary(): tests/minidl/training/test_model.py, "
    "tests/minidl/nn/layers/test_base_sublayers.py",
    "minidl/training/trainer.py": "fit, evaluate, predict: tests/minidl/training/test_model.py, "
    "tests/minidl/training/test_saving.py",
    "minidl/training/vision_metrics.py": "IoU, Dice and mAP: tests/minidl/nn/test_segmentation_detection.py",
    "minidl/zoo/train.py": "the zoo's recipe: tests/minidl/zoo/test_init.py (test_train_script_*, "
    "test_the_shared_recipe_*)",
    # ------------------------------------------------------------------ grader/minidl_grader/
    "grader/minidl_grader/__init__.py": PACKAGE_NAMES + " (tests/grader/test_layout.py)",
    "grader/minidl_grader/__main__.py": "minidl-grade's entry: tests/grader/test_catalogue.py, tests/minidl/test_main.py",
    "grader/minidl_grader/_version.py": VERSION,
    "grader/minidl_grader/cli.py": "the commands: tests/grader/test_runner.py, tests/grader/reports/test_gradescope.py, "
    "tests/grader/test_similarity.py",
    "grader/minidl_grader/notebook.py": "reading submissions: tests/grader/test_runner_honest.py, "
    "tests/grader/judge/test_feedback.py",
    "grader/minidl_grader/release.py": "solutions -> exercises: tests/grader/judge/test_feedback.py "
    "(test_release_*, test_committed_exercises_are_exactly_what_release_generates)",
    "grader/minidl_grader/confinement/__init__.py": PACKAGE_NAMES
    + " (tests/grader/confinement/test_isolation.py)",
    "grader/minidl_grader/confinement/process.py": "the submission's process, started by every graded run: "
    "tests/grader/test_runner.py, tests/grader/confinement/test_limits.py",
    "grader/minidl_grader/judge/__init__.py": PACKAGE_NAMES + " (tests/grader/judge/test_feedback.py)",
    "grader/minidl_grader/judge/private_checks.py": "tests/grader/judge/test_questions.py, "
    "tests/grader/judge/test_judging_partial.py (a private check with hidden cases)",
    "grader/minidl_grader/judge/registry.py": "tests/grader/judge/test_feedback.py (test_every_chapter_has_*, "
    "test_unknown_exercise_*), tests/grader/judge/test_judging_partial.py",
    "grader/minidl_grader/reports/__init__.py": PACKAGE_NAMES + " (tests/grader/reports/test_text.py)",
    "grader/minidl_grader/reports/report.py": "tests/grader/judge/test_judging_partial.py "
    "(gradescope JSON, CSV and table per case), tests/grader/reports/test_text.py",
    "grader/minidl_grader/runtime/__init__.py": PACKAGE_NAMES
    + " (tests/grader/judge/test_feedback_verdict.py)",
    "grader/minidl_grader/runtime/codec.py": "tests/grader/judge/test_feedback.py (test_codec_*)",
    "grader/minidl_grader/runtime/probes.py": "tests/grader/judge/test_feedback_verdict.py (every chapter probed)",
    "grader/minidl_grader/runtime/sandbox.py": "the code inside the sandbox: tests/grader/test_runner.py, "
    "tests/grader/test_runner_attacks.py",
    "grader/minidl_grader/specs/__init__.py": PACKAGE_NAMES + " (tests/grader/specs/test_quiz.py)",
    "grader/minidl_grader/specs/_kernels.py": "the Numba and CUDA exercises' scaffolding: "
    "tests/grader/judge/test_feedback.py (test_numba_and_cuda_exercises_explain_their_own_mistakes)",
    **{f"grader/minidl_grader/specs/ch{n:02d}.py": SPEC for n in (*range(1, 13), *range(14, 21))},
    # ------------------------------------------------------------------ keras_door/minidl_keras/
    "keras_door/minidl_keras/affine.py": "Keras's options of Dense and the convolutions (bias_initializer, "
    "regularizers, constraints): tests/keras/test_options.py",
    "keras_door/minidl_keras/__init__.py": PACKAGE_NAMES + " (tests/keras/programs/test_programs.py)",
    "keras_door/minidl_keras/_version.py": VERSION,
    "keras_door/minidl_keras/activations.py": "tests/keras/test_layers_more.py (activations as strings, layers "
    "and keras.activations)",
    "keras_door/minidl_keras/backend.py": "clear_session: tests/keras/test_functional.py, tests/keras/test_reshaping.py",
    "keras_door/minidl_keras/callbacks.py": "tests/keras/test_differences.py (every callback hook), "
    "tests/keras/test_layers_more.py (ReduceLROnPlateau)",
    "keras_door/minidl_keras/config.py": "tests/keras/programs/test_programs.py",
    "keras_door/minidl_keras/constraints.py": "tests/keras/test_options.py (test_constraints_*)",
    "keras_door/minidl_keras/custom.py": "custom layers and models: tests/keras/test_functional.py, "
    "tests/keras/programs/test_io_programs.py",
    "keras_door/minidl_keras/datasets.py": "mnist.load_data(): tests/keras/programs/test_programs.py",
    "keras_door/minidl_keras/elementwise.py": "Activation and Rescaling: tests/keras/test_layers_more.py, "
    "tests/keras/programs/test_programs.py",
    "keras_door/minidl_keras/graph.py": "the layer-level tape: tests/keras/test_functional.py",
    "keras_door/minidl_keras/initializers.py": "tests/keras/test_options.py (test_initializers_*)",
    "keras_door/minidl_keras/losses.py": "tests/keras/test_layers_more.py (Huber, mae), "
    "tests/keras/programs/test_programs.py",
    "keras_door/minidl_keras/merging.py": "the merge layers, gradient-checked: tests/keras/test_functional.py",
    "keras_door/minidl_keras/missing.py": "tests/keras/test_attention.py, tests/keras/test_text_and_normalization.py",
    "keras_door/minidl_keras/model_file.py": "the .keras file (save, load_model): tests/keras/test_saving.py, "
    "tests/keras/programs/test_programs.py",
    "keras_door/minidl_keras/naming.py": "Keras's automatic names (dense, dense_1): tests/keras/test_functional.py",
    "keras_door/minidl_keras/normalization.py": "tests/keras/test_text_and_normalization.py "
    "(Normalization), tests/keras/test_differences.py (BatchNormalization)",
    "keras_door/minidl_keras/ops.py": "keras.ops, each gradient-checked: tests/keras/test_functional.py",
    "keras_door/minidl_keras/pooling.py": "tests/keras/test_layers_conv_pool.py (same pooling), "
    "tests/keras/test_layers_more.py (global max pooling)",
    "keras_door/minidl_keras/regularizers.py": "tests/keras/test_options.py (penalties)",
    "keras_door/minidl_keras/utils.py": "tests/keras/programs/test_programs.py",
    "keras_door/minidl_keras/weights.py": "Keras's weight order: tests/keras/test_differences.py "
    "(test_weights_are_laid_out_*), tests/keras/test_masking.py",
    "keras_door/minidl_keras/wrappers.py": "Bidirectional: tests/keras/test_masking.py, "
    "tests/keras/test_options.py (test_bidirectional_*)",
    "keras_door/minidl_keras/optimizers/__init__.py": "tests/keras/test_options.py (optimizer options), "
    "tests/keras/test_differences.py (update rules)",
    "keras_door/minidl_keras/optimizers/schedules.py": "tests/keras/test_differences.py (a schedule's learning rate)",
    # ------------------------------------------------------------------ tools/
    "tools/execute_notebooks.py": "runs the chapters to store their outputs; tests/course/test_notebooks.py "
    "checks what it stored",
    "tools/make_spoken_digits.py": "tests/minidl/datasets/test_speech.py regenerates a stored clip with it",
}

# test file -> what it covers (it mirrors no one module)
CROSS_CUTTING = {
    "tests/minidl/test_user_mistakes.py": "the mistakes users make, across layers, losses, training and saving",
    "tests/minidl/datasets/test_datasets.py": "the loaders: images, formats, download, synthetic, sequences, text",
    "tests/minidl/gallery/test_gallery.py": "autoencoders, gan, transfer and the upsampling layers they use",
    "tests/minidl/kernels/test_conformance.py": "every tier against the reference, case by case (tests/minidl/kernels/kernel_cases.py)",
    "tests/minidl/kernels/test_cuda_sources.py": "every CUDA source compiled by NVRTC, and the emulator",
    "tests/minidl/kernels/gpu/test_device.py": "the GPU tier on a device, device placement everywhere",
    "tests/grader/test_layout.py": "the grader's folders and its own distribution",
    "tests/grader/specs/test_wrong_answers.py": "the usual wrong answers of every chapter's exercises",
    "tests/grader/specs/test_contracts.py": "every spec's contract (dtypes, inputs) against its reference and task",
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
}

SPECIAL_STEMS = {"__init__": "init", "__main__": "main"}


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
        "tests/minidl/nn/layers/test_conv1d.py": "minidl/nn/layers/conv1d.py",
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
