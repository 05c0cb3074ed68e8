"""The benchmark's CPU workloads (``bench/conv.py``): the memory control row copies on every side."""

import numpy as np
import pytest

from bench import conv, runner, verdict


def _copied(step):
    # the step's arrays, from its closure: x and y (the NumPy tier's, the Numba tier's, PyTorch's)
    cells = {name: cell.cell_contents for name, cell in zip(step.__code__.co_freevars, step.__closure__)}
    return cells["x"], cells["y"]


def test_the_copy_row_is_found_by_name_and_copies_on_both_tiers():
    (workload,) = runner.collect_workloads("memory peak", log=lambda *_: None)
    assert workload.name == "copy (64, 32, 14, 14) float32 (memory peak)"
    assert verdict.MEMORY_CONTROL in workload.name  # the mark the verdict finds the row by
    for tier in ("numpy", "numba"):
        step = workload.setup(tier)
        x, y = _copied(step)
        y[:] = np.nan
        step()
        np.testing.assert_array_equal(y, x)
        assert x.size == 64 * 32 * 14 * 14 and x.dtype == np.float32


def test_the_threaded_copy_copies_every_element_of_any_length():
    copy = conv._threaded_copy()
    for n in (0, 1, 7, 100_003):
        x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
        y = np.full(n, np.nan, np.float32)
        copy(x, y)
        np.testing.assert_array_equal(y, x)


def test_pytorchs_side_of_the_copy_row_copies():
    pytest.importorskip("torch")
    step = conv.copy_workload((3, 4, 5)).torch_setup()
    step()
    x, y = _copied(step)
    assert bool((y == x).all())
