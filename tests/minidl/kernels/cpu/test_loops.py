"""The Numba tier's loops: threaded versions equal their serial twins bit for bit on the
conformance table's cases; small work runs serially and large work in parallel."""

import copy

import numpy as np
import pytest

from minidl.kernels import cpu
from tests.minidl.kernels import kernel_cases as kc


@pytest.mark.parametrize("name", sorted(kc.TABLE))
def test_parallel_versions_equal_the_serial_ones(name, monkeypatch):
    """The table's cases are small, so they run the serial versions; force the threaded
    ones (``PARALLEL_MIN_ELEMENTS = 0``) and require the same results, bit for bit."""
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
            np.testing.assert_array_equal(
                threaded, serial, err_msg=f"{name}({kc.describe(args)}): threaded != serial"
            )


def test_small_work_runs_serially_and_large_work_in_parallel(monkeypatch):
    monkeypatch.setattr(cpu.loops.numba, "get_num_threads", lambda: 2)
    assert not cpu.threads_pay(cpu.loops.PARALLEL_MIN_ELEMENTS - 1)
    assert cpu.threads_pay(cpu.loops.PARALLEL_MIN_ELEMENTS)
    monkeypatch.setattr(cpu.loops.numba, "get_num_threads", lambda: 1)
    assert not cpu.threads_pay(10 * cpu.loops.PARALLEL_MIN_ELEMENTS)
