"""The backend: the CPU tier switch, devices and their names, the random stream."""

import subprocess
import sys

import numpy as np
import pytest

import minidl as mdl
from minidl import backend
from minidl.kernels import cpu, reference


@pytest.fixture
def tier_left_as_found():
    before = backend.current()
    yield
    backend.use(before)


def test_use_switches_the_kernel_module_and_refuses_unknown_tiers(tier_left_as_found):
    backend.use("numpy")
    assert backend.current() == "numpy" and backend.kernels() is reference
    assert backend.kernels_for(np.zeros(2)) is reference
    if backend.numba_available():
        backend.use("numba")
        assert backend.kernels() is cpu
    with pytest.raises(ValueError, match=r"backend must be one of \('numpy', 'numba'\), got 'cuda'"):
        backend.use("cuda")


def test_a_wrong_minidl_backend_is_an_error_at_import():
    code = "from minidl import backend"
    bad = subprocess.run(
        [sys.executable, "-c", code], env={"MINIDL_BACKEND": "fast"}, capture_output=True, text=True
    )
    assert (
        bad.returncode != 0 and "MINIDL_BACKEND must be one of ('numpy', 'numba'), got 'fast'" in bad.stderr
    )


def test_minidl_backend_picks_the_default_tier(monkeypatch):
    monkeypatch.setenv("MINIDL_BACKEND", "numpy")
    assert backend._default_backend() == "numpy"
    monkeypatch.delenv("MINIDL_BACKEND")
    assert backend._default_backend() == ("numba" if backend.numba_available() else "numpy")


@pytest.mark.parametrize(
    "name, canonical", [("cpu", "cpu"), ("CPU", "cpu"), ("gpu", "gpu"), ("cuda", "gpu"), ("cuda:0", "gpu")]
)
def test_device_names_accept_pytorchs_spellings(name, canonical):
    assert backend.device_name(name) == canonical


def test_an_unknown_device_says_what_minidl_takes():
    with pytest.raises(ValueError, match=r"got 'cuda:1' \(minidl uses one GPU, the first"):
        backend.device_name("cuda:1")
    with pytest.raises(ValueError, match=r"got 'tpu' \(PyTorch's 'cuda' and 'cuda:0' mean 'gpu'\)"):
        backend.device_name("tpu")


def test_numpy_arrays_live_on_the_cpu_and_stay_as_they_are():
    x = np.arange(3.0)
    assert backend.device_of(x) == "cpu" and backend.get_array_module(x) is np
    assert backend.to_device(x, "cpu") is x and backend.to_numpy(x) is x
    assert backend.to_numpy([1, 2]).tolist() == [1, 2]
    assert backend.check_device("cpu") == "cpu"


def test_without_a_gpu_the_gpu_is_refused_with_the_reason():
    available, why = backend.gpu_status()
    if available:
        pytest.skip(f"a GPU is present: {why}")
    assert backend.gpu_available() is False and why
    with pytest.raises(RuntimeError, match="cannot use the GPU: "):
        backend.check_device("gpu")
    with pytest.raises(RuntimeError, match="cannot use the GPU: "):
        backend.to_device(np.zeros(2), "gpu")


def test_seed_repeats_every_draw_and_refuses_negative_or_non_integer_seeds():
    mdl.seed(3)
    a, legacy = backend.rng().random(4), np.random.rand(2)
    mdl.seed(3)
    np.testing.assert_array_equal(backend.rng().random(4), a)
    np.testing.assert_array_equal(np.random.rand(2), legacy)  # the reader's own np.random too
    for bad in (-1, 1.5, "0"):
        with pytest.raises(ValueError, match="seed expects a non-negative integer"):
            backend.seed(bad)


def test_wait_passively_keeps_a_policy_already_set(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert backend.wait_passively() == "ACTIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    assert backend.wait_passively() == "PASSIVE"


def test_set_threads_gives_numba_and_blas_the_same_count_and_says_so():
    numba = pytest.importorskip("numba")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = backend.threads()
    try:
        in_force = backend.set_threads(1)
        assert in_force == backend.threads()
        assert in_force["numba"] == numba.get_num_threads() == 1
        blas = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
        assert blas and all(n == 1 for n in blas) and in_force["blas"] == 1
        # more than Numba's pool was started with: Numba capped at its pool; BLAS gets the count
        # asked, or the pool's size where its products run on the pool (kernels.blas_pool)
        from minidl.kernels import blas_pool

        pool = numba.config.NUMBA_NUM_THREADS
        in_force = backend.set_threads(pool + 1)
        assert in_force["numba"] == pool
        assert in_force["blas"] == (pool if blas_pool.shared() else pool + 1)
    finally:
        numba.set_num_threads(before["numba"])
        threadpoolctl.threadpool_limits(limits=before["blas"], user_api="blas")
    for bad in (0, -2, 1.5, "2", True):
        with pytest.raises(ValueError, match="positive number of threads"):
            backend.set_threads(bad)
