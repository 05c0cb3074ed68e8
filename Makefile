# Each target creates .venv (python3 -m venv) and installs minidl with its dev tools into it
# when the venv is missing or pyproject.toml is newer than the last install.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8888
# Fixed thread counts make runs repeat to the last digit (nbval compares printed numbers).
export OMP_NUM_THREADS ?= 2
export OPENBLAS_NUM_THREADS ?= 2
export MKL_NUM_THREADS ?= 2
export NUMBA_NUM_THREADS ?= 2
# No OMP_WAIT_POLICY: NumPy's OpenBLAS runs its products on Numba's OpenMP threads (one pool,
# minidl.kernels.blas_pool), whose short spin after each parallel region (GNU OpenMP's default)
# keeps them awake between kernels and products; PASSIVE would make every product and kernel wake
# them (docs/performance.md, section 15). Where the pools cannot be shared, python -m minidl and
# python -m bench ask for passive waiting themselves (backend.wait_passively).
# glibc keeps freed arrays up to 32 MB for reuse instead of faulting fresh pages in on every
# step (minidl.backend.keep_freed_memory, which python -m minidl calls, explains the numbers)
export MALLOC_MMAP_THRESHOLD_ ?= 33554432
export MALLOC_TRIM_THRESHOLD_ ?= 67108864

.PHONY: lab test test-unit test-portable test-e2e test-gpu certify lint demo bench book html release clean

$(STAMP): pyproject.toml grader/pyproject.toml keras_door/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet -e ./grader
	$(PY) -m pip install --quiet -e ./keras_door
	touch $(STAMP)

# Chapter 11 compiles its CUDA kernels with NVRTC (CuPy's, no GPU needed): the targets that run
# the chapters add the [gpu-dev] extra (about 450 MB) to the venv once.
GPU_STAMP := $(VENV)/.installed-gpu-dev
$(GPU_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[gpu-dev]"
	touch $(GPU_STAMP)

# JupyterLab settings kept in the repository (jupyter/settings/overrides.json): no "Jupyter news?"
# pop-up, no update check, a notebook's kernel shut down when its tab closes (two cores do not
# keep five kernels). Nothing in the user's home folder is touched.
LAB_SETTINGS := --LabApp.app_settings_dir=$(CURDIR)/jupyter/settings

# Your answers go into workspace/ (git ignores it): make lab copies each exercise notebook there
# the first time, never over your work; `python -m minidl exercises reset NN` starts one again.
lab: $(GPU_STAMP)  ## open the course in JupyterLab at the repository's root, on chapter 0 (prints the URL; works headless); copies the exercises into workspace/ (yours, git-ignored) on first use; minidl, its grader (minidl-grade) and the Keras door (minidl_keras) are installed
	$(PY) -m minidl exercises copy
	$(PY) -m jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) --notebook-dir=. \
		--LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb \
		$(LAB_SETTINGS) $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

# Two pytest-xdist workers. --dist loadfile keeps every file in one worker: a notebook's cells run
# in order in one kernel (nbval), a test module's fixtures are built once. XDIST= runs serially.
XDIST ?= -n 2 --dist loadfile
# ... and each worker computes with one thread (BLAS, OpenMP, Numba): two workers on two cores,
# nothing oversubscribed. Measured on a 2-core machine: the notebooks in 109 s with one thread
# per worker against 444 s with two; the stored outputs are the same either way (nbval passes
# both). Serial runs (XDIST=) may set TEST_THREADS= to keep the two threads exported above.
TEST_THREADS ?= OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
# pytest rewrites every test module's asserts on import and keeps the result as a .pyc beside it;
# where the environment sets PYTHONDONTWRITEBYTECODE it redoes that in every worker on every run.
KEEP_BYTECODE := PYTHONDONTWRITEBYTECODE=

test: $(GPU_STAMP)  ## the whole suite: unit tests, kernels, the grader (grader/, installed as minidl-grade), notebooks (nbval); installs bubblewrap (the grader's isolation) and espeak-ng (the spoken-digits generator)
	command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; } || \
		echo "bubblewrap is not installed: the grader's isolation tests are skipped (non-isolated mode only)"
	command -v espeak-ng >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null; } || \
		echo "espeak-ng is not installed: the test of the spoken-digits generator is skipped"
	$(TEST_THREADS) $(KEEP_BYTECODE) MPLBACKEND=Agg $(PY) -m pytest -q -m "not e2e" $(XDIST)

# What a contributor runs after each change: tests/ without the notebooks (nbval, whose plugin
# is not even loaded), the grader's runs in confined processes (marker sandbox) and the longer
# runs (marker slow). Under a minute on two cores (docs/performance.md); `make test` runs all.
# test-unit has no notebook and builds no module-wide fixture worth keeping on one worker: work
# stealing balances its many short tests better than whole files (56 s against 59 s, 2 cores).
UNIT_XDIST ?= -n 2 --dist worksteal

test-unit: $(STAMP)  ## the fast tests: tests/ without notebooks, grader sandbox runs and slow runs (under a minute)
	$(TEST_THREADS) $(KEEP_BYTECODE) MINIDL_KERAS_ORACLE=0 MPLBACKEND=Agg $(PY) -m pytest -q -o addopts="" -p no:nbval -m "not e2e and not slow and not sandbox" $(UNIT_XDIST) tests

# The wrong-answer catalogue at twelve grading seeds (make test judges it at two): a wrong
# answer whose verdict depends on the seed shows here. About 6 CPU-minutes. CI, right after
# make test, judges the ten seeds make test did not: make certify CATALOGUE_SEEDS=2:12.
CATALOGUE_SEEDS ?= 12
certify: $(STAMP)  ## every wrong answer of the catalogue below full marks, every right one full, at 12 seeds
	$(TEST_THREADS) MINIDL_CATALOGUE_SEEDS=$(CATALOGUE_SEEDS) MPLBACKEND=Agg $(PY) -m pytest -q -o addopts="" -p no:nbval $(UNIT_XDIST) tests/grader/specs/test_wrong_answers.py -k "full_marks and not sandbox"

lint: $(STAMP)  ## ruff (lint and format check, notebooks and solutions included) and mypy on minidl/, grader/, keras_door/ and bench/; settings in pyproject.toml
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# Other floating-point paths than the machine's default: an AVX2 machine's (OpenBLAS's Haswell
# kernels, Numba compiling for Haswell: NUMBA_CPU_NAME alone keeps the host's instruction set,
# AVX-512 included, and an empty NUMBA_CPU_FEATURES takes the named CPU's), OpenBLAS's SSE3
# kernels with Numba compiling for a generic x86-64, and the NumPy reference tier instead of
# Numba. A path that is the machine's own (OpenBLAS picks its Haswell kernels on an AVX2 CPU,
# where Numba compiles for AVX2 too) repeats what `make test` ran: it is skipped, and says so.
PORTABLE_PATHS := "OPENBLAS_CORETYPE=Haswell NUMBA_CPU_NAME=haswell NUMBA_CPU_FEATURES=" \
                  "OPENBLAS_CORETYPE=Prescott NUMBA_CPU_NAME=generic" \
                  "MINIDL_BACKEND=numpy"
BLAS_CORE = $(PY) -c "import numpy, threadpoolctl; print(next((i.get('architecture') \
	for i in threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas'), ''))"

test-portable: $(GPU_STAMP)  ## the notebooks again (nbval) under other BLAS kernels, Numba target and kernel tier
	@core=$$($(BLAS_CORE)); for setting in $(PORTABLE_PATHS); do \
		case "$$setting " in "OPENBLAS_CORETYPE=$$core "*) \
			echo "== skipped: $$setting is this machine's default path (make test ran it)"; continue;; esac; \
		echo "== notebooks with $$setting"; \
		env $$setting $(TEST_THREADS) MPLBACKEND=Agg $(PY) -m pytest -q $(XDIST) notebooks/ || exit 1; \
	done

test-e2e: $(STAMP)  ## headless Chromium: JupyterLab runs the welcome chapter; a learner's walk (chapter, exercises, wrong answer, hint, right answer, reset; screenshots in build/e2e/); the progress bar moves; the book's pages load (installs what it needs)
	command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || true
	$(PY) -m pip install --quiet -e ".[e2e,book]"
	$(PY) -m pytest -q -m e2e tests/course/test_lab_e2e.py tests/course/test_learner_e2e.py tests/course/test_book_e2e.py

# test-gpu installs nothing where it needs nothing: a GPU machine that reaches no package
# registry but has NumPy, Numba, CuPy and pytest runs the repository from its root. That run
# by hand, with no venv and no install:
#   PYTHONPATH=. python -m pytest -o addopts="" -v -rs tests/minidl/kernels/test_conformance.py tests/minidl/kernels/gpu/test_device.py tests/minidl/kernels/test_cuda_sources.py tests/bench/test_gpu.py
# (-o addopts="" drops pyproject.toml's --nbval options, which fail without the nbval plugin:
# "unrecognized arguments: --nbval ..."). Elsewhere it uses .venv and adds only what is
# missing (CuPy: pip install ".[gpu]").
GPU_TESTS := tests/minidl/kernels/test_conformance.py tests/minidl/kernels/gpu/test_device.py tests/minidl/kernels/test_cuda_sources.py tests/bench/test_gpu.py

# $(PYTHON) itself when there is no .venv and it has all the GPU tests need; empty otherwise.
# (Expanded only when test-gpu runs.)
GPU_READY_NOTE = $(PYTHON) has NumPy, Numba, CuPy and pytest: running from the repository, installing nothing
GPU_READY_PYTHON = $(shell [ -x $(PY) ] || ! $(PYTHON) -c "import numpy, numba, cupy, pytest" 2>/dev/null || echo $(PYTHON))

test-gpu:  ## kernel conformance (emulator and device), NVRTC, training on a CUDA device
	$(eval GPU_PY := $(or $(GPU_READY_PYTHON),$(PY)))
	@$(if $(GPU_READY_PYTHON),echo "$(GPU_READY_NOTE)",$(MAKE) --no-print-directory $(STAMP))
	@$(GPU_PY) -c "import cupy" 2>/dev/null || $(GPU_PY) -m pip install --quiet -e ".[gpu]"
	@PYTHONPATH=. $(GPU_PY) -c "from minidl.backend import gpu_status; ok, why = gpu_status(); \
		print('GPU: ' + why if ok else 'NO GPU (' + why + '): the device tests are skipped; the emulator and NVRTC tests run')"
	PYTHONPATH=. $(GPU_PY) -m pytest -o addopts="" -v -rs $(GPU_TESTS)

demo: $(STAMP)  ## train an MLP on the bundled MNIST subset
	$(PY) -m minidl demo

bench: $(STAMP)  ## speed of the NumPy reference vs Numba (vs PyTorch when installed): bench/, a tool of the repository (not installed with minidl)
	$(PY) -m bench

book: $(GPU_STAMP)  ## re-execute every chapter in notebooks/ in place (outputs that nbval compares)
	$(PY) -m pip install --quiet -e ".[compare]" || \
		echo "Keras 3 not installed: chapter 25's Keras cells will say they were skipped"
	$(TEST_THREADS) MPLBACKEND=Agg $(PY) tools/execute_notebooks.py notebooks/*.ipynb

html: $(STAMP)  ## the chapters with their stored outputs as a static site, build/html/index.html (offline, nothing re-executed)
	$(PY) -m pip install --quiet -e ".[book]" || \
		echo "jupyter-server-mathjax not installed: formulas will be shown as TeX source"
	$(PY) tools/build_book.py build/html

release: $(STAMP)  ## links between chapters and exercises and Lab's metadata (tools/navigation.py), then regenerate exercises/ from solutions/ and check()'s public cases (never edit either by hand)
	$(PY) tools/navigation.py
	$(VENV)/bin/minidl-grade release
	$(VENV)/bin/minidl-grade public-data

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
