"""The Numba tier's loops: threaded versions equal their serial twins bit for bit on the
conformance table's cases; small work runs serially and large work in parallel."""

import copy

import numpy as np
import pytest

from minidl.kernels import cpu, reference
from tests.minidl.kernels import kernel_cases as kc

# Kernels that sum by blocks of rows, a block per thread: the thread count sets the order of the
# sums (as it does in OpenBLAS's own products for some shapes), so threaded and serial results
# agree to the conformance table's tolerance, not bit for bit.
BLOCK_SUMS = {"weight_gradient"}


@pytest.mark.parametrize("name", sorted(kc.TABLE))
def test_parallel_versions_equal_the_serial_ones(name, monkeypatch):
    """The table's cases are small, so they run the serial versions; force the threaded
    ones (``PARALLEL_MIN_ELEMENTS = 0``, and more than one thread as the choice sees it: the
    tests run with one) and require the same results, bit for bit (``BLOCK_SUMS``: as close as
    the conformance table asks)."""
    monkeypatch.setattr(cpu.loops.numba, "get_num_threads", lambda: 2)
    monkeypatch.setattr(cpu.attention, "get_num_threads", lambda: 2)  # blocks of rows: 2 per product
    for args in kc.TABLE[name].make_cases(np.float32):
        results = []
        for threshold in (0, 2**62):
            monkeypatch.setattr(cpu.loops, "PARALLEL_MIN_ELEMENTS", threshold)
            call_args = copy.deepcopy(args)
            results.append(
                kc.arrays_in(getattr(cpu, name)(*call_args))
                + [a for a in call_args if isinstance(a, np.ndarray)]
            )
        for threaded, serial in zip(*results):
            message = f"{name}({kc.describe(args)}): threaded != serial"
            if name in BLOCK_SUMS:
                np.testing.assert_allclose(
                    threaded, serial, err_msg=message, **kc.TABLE[name].tolerance(np.float32)
                )
            else:
                np.testing.assert_array_equal(threaded, serial, err_msg=message)


def test_small_work_runs_serially_and_large_work_in_parallel(monkeypatch):
    monkeypatch.setattr(cpu.loops.numba, "get_num_threads", lambda: 2)
    assert not cpu.threads_pay(cpu.loops.PARALLEL_MIN_ELEMENTS - 1)
    assert cpu.threads_pay(cpu.loops.PARALLEL_MIN_ELEMENTS)
    monkeypatch.setattr(cpu.loops.numba, "get_num_threads", lambda: 1)
    assert not cpu.threads_pay(10 * cpu.loops.PARALLEL_MIN_ELEMENTS)


def test_threaded_kernels_carry_a_serial_twin_with_the_same_math():
    kernel = cpu.conv._conv2d_weight_gradient_shifted  # @threaded(fastmath=set(SUM_MATH))
    serial = kernel.serial
    assert kernel.targetoptions["parallel"] and "parallel" not in serial.targetoptions
    assert serial.targetoptions["fastmath"] == kernel.targetoptions["fastmath"] == set(cpu.loops.SUM_MATH)
    assert serial.py_func.__name__ == "_conv2d_weight_gradient_shifted_serial"  # its own cache name


@pytest.mark.parametrize("threshold", [0, 2**62])
def test_a_division_by_zero_gives_what_numpy_gives(threshold, monkeypatch):
    """``threaded`` compiles with NumPy's error model: 0 / 0 in Adam's update (eps = 0, a
    gradient and state of 0) is a NaN, as in the reference, not a ZeroDivisionError (Numba's
    default, whose test at every division kept the loops from vectorising)."""
    monkeypatch.setattr(cpu.loops.numba, "get_num_threads", lambda: 2)
    monkeypatch.setattr(cpu.loops, "PARALLEL_MIN_ELEMENTS", threshold)
    results = []
    for tier in (cpu, reference):
        param, (grad, m, v) = np.ones(64, np.float32), (np.zeros(64, np.float32) for _ in range(3))
        with np.errstate(invalid="ignore"):
            tier.adam_update(param, grad, m, v, 1e-3, 0.9, 0.999, 0.0, 1, 0.0, False)
        results.append(param)
    assert np.isnan(results[0]).all() and np.isnan(results[1]).all()
    for kernel in (cpu.optim._adam_update, cpu.pool._avg_pool_forward, cpu.loss._softmax_cross_entropy):
        assert kernel.targetoptions["error_model"] == kernel.serial.targetoptions["error_model"] == "numpy"
