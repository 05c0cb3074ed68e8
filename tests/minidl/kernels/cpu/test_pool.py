"""The Numba pooling: the 2x2 fast path and the general loop against the reference, views, dtypes."""

import numpy as np
import pytest

from minidl.kernels import reference
from minidl.kernels.cpu import pool as K


@pytest.mark.parametrize("k, s", [(2, 2), (3, 2), (2, 1)])  # (2, 2): the specialised kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_and_average_equal_the_reference(k, s, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 9)).astype(dtype)  # odd sizes: the last row and column dropped
    y, argmax = K.max_pool_forward(x, k, k, s, s)
    ry, rargmax = reference.max_pool_forward(x, k, k, s, s)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(argmax, rargmax)
    assert y.dtype == dtype and argmax.dtype == np.uint8  # offsets in a window of up to 256 cells
    dy = rng.standard_normal(y.shape).astype(dtype)
    np.testing.assert_array_equal(
        K.max_pool_backward(dy, argmax, x.shape, k, k, s, s),
        reference.max_pool_backward(dy, rargmax, x.shape, k, k, s, s),
    )
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(
        K.avg_pool_forward(x, k, k, s, s), reference.avg_pool_forward(x, k, k, s, s), rtol=rtol
    )
    np.testing.assert_allclose(
        K.avg_pool_backward(dy, x.shape, k, k, s, s),
        reference.avg_pool_backward(dy, x.shape, k, k, s, s),
        rtol=rtol,
    )


@pytest.mark.parametrize("k, dtype", [(16, np.uint8), (17, np.int64)])  # 256 cells: offsets to 255
def test_the_argmax_is_a_byte_while_a_windows_offsets_fit_one(k, dtype):
    x = np.random.default_rng(1).standard_normal((1, 2, k, k))
    x[0, 1, k - 1, k - 1] = 10.0  # the second plane's maximum at the last offset, k * k - 1
    y, argmax = K.max_pool_forward(x, k, k, 1, 1)
    ry, rargmax = reference.max_pool_forward(x, k, k, 1, 1)
    assert argmax.dtype == dtype and argmax[0, 1, 0, 0] == k * k - 1
    np.testing.assert_array_equal(argmax, rargmax)
    np.testing.assert_array_equal(
        K.max_pool_backward(y, argmax, x.shape, k, k, 1, 1),
        reference.max_pool_backward(y, rargmax, x.shape, k, k, 1, 1),
    )


def test_a_tie_sends_the_gradient_to_the_first_maximum_on_both_paths():
    x = np.zeros((1, 1, 4, 4))
    for k, s in [(2, 2), (4, 1)]:
        y, argmax = K.max_pool_forward(x, k, k, s, s)
        dx = K.max_pool_backward(np.ones_like(y), argmax, x.shape, k, k, s, s)
        np.testing.assert_array_equal(
            dx, reference.max_pool_backward(np.ones_like(y), argmax, x.shape, k, k, s, s)
        )
        expected = np.zeros_like(x)  # every window's first element: its top-left one
        expected[:, :, : s * y.shape[2] : s, : s * y.shape[3] : s] = 1.0
        np.testing.assert_array_equal(dx, expected)


@pytest.mark.parametrize("width", [10, 16, 17, 28, 29, 34, 48])  # rows of 5, 8, 8, 14, 14, 17, 24 windows
def test_the_2x2_forward_runs_a_rows_last_eight_windows_again_with_the_same_results(width):
    # the kernel runs a row's whole vectors of 8 windows, then its last 8 again (overlapping them);
    # ties and NaN where a window's first maximum depends on the order of the comparisons
    rng = np.random.default_rng(width)
    x = rng.integers(0, 3, size=(3, 5, 6, width)).astype(np.float32)
    x.reshape(-1)[::7], x.reshape(-1)[3::11] = np.nan, -np.inf
    y, argmax = K.max_pool_forward(x, 2, 2, 2, 2)
    ry, rargmax = reference.max_pool_forward(x, 2, 2, 2, 2)
    np.testing.assert_array_equal(y.view(np.uint32), ry.view(np.uint32))  # the bits: NaN and signs
    np.testing.assert_array_equal(argmax, rargmax)


def test_a_non_contiguous_view_is_pooled_as_its_values():
    x = np.random.default_rng(1).standard_normal((4, 4, 3, 2)).transpose(3, 2, 0, 1)  # (2, 3, 4, 4), a view
    assert not x.flags.c_contiguous
    np.testing.assert_array_equal(
        K.max_pool_forward(x, 2, 2, 2, 2)[0], reference.max_pool_forward(x, 2, 2, 2, 2)[0]
    )


@pytest.mark.parametrize("shape", [(2, 3, 7, 9), (4, 3, 20, 18)])  # below and above ONE_THREAD_KERNEL_MIN
def test_the_2x2_kernels_on_one_thread_run_threaded_from_their_threshold(shape):
    numba = pytest.importorskip("numba")
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape).astype(np.float32)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        large = x.size >= K.ONE_THREAD_KERNEL_MIN
        for kernel in (K._max_pool_forward_2x2, K._max_pool_backward_2x2):
            assert (K.one_thread_too(kernel, x.size) is kernel) == large
            assert (K.one_thread_too(kernel, x.size) is kernel.serial) != large
        y, argmax = K.max_pool_forward(x, 2, 2, 2, 2)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        dx = K.max_pool_backward(dy, argmax, x.shape, 2, 2, 2, 2)
    finally:
        numba.set_num_threads(before)
    ry, rargmax = reference.max_pool_forward(x, 2, 2, 2, 2)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(argmax, rargmax)
    np.testing.assert_array_equal(dx, reference.max_pool_backward(dy, rargmax, x.shape, 2, 2, 2, 2))


def test_a_forked_child_runs_the_2x2_twins_on_one_thread(monkeypatch):
    numba = pytest.importorskip("numba")
    from minidl.kernels import blas_pool

    monkeypatch.setitem(blas_pool._state, "forked", True)  # as _unshare leaves it in a forked child
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        kernel = K._max_pool_forward_2x2
        assert K.one_thread_too(kernel, 1 << 20) is kernel.serial  # a region would end the child
    finally:
        numba.set_num_threads(before)


@pytest.mark.parametrize("shape", [(3, 4, 9, 8), (4, 3, 20, 18)])  # an odd height: its last row gets zeros
def test_the_2x2_backward_in_words_has_the_references_bits(shape):
    # float32 of an even width: dx written as 64-bit words of two pixels. Compared bit for bit
    # (assert_array_equal takes -0.0 for +0.0 and any NaN for another): a zero of either sign
    # becomes +0.0 as in the reference's 0 + dy, a NaN and an inf keep their bits, ties go first.
    numba = pytest.importorskip("numba")
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, size=shape).astype(np.float32)
    y, argmax = K.max_pool_forward(x, 2, 2, 2, 2)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dy.reshape(-1)[::7], dy.reshape(-1)[1::11] = -0.0, np.nan
    dy.reshape(-1)[2::13], dy.reshape(-1)[3::17] = -np.inf, 0.0
    expected = reference.max_pool_backward(dy, argmax, x.shape, 2, 2, 2, 2).view(np.uint32)
    assert (expected == 0).any() and np.isnan(expected.view(np.float32)).any()
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, before}):
            numba.set_num_threads(threads)
            dx = K.max_pool_backward(dy, argmax, x.shape, 2, 2, 2, 2)
            assert dx.dtype == np.float32 and dx.shape == x.shape
            np.testing.assert_array_equal(dx.view(np.uint32), expected)
    finally:
        numba.set_num_threads(before)


def test_the_2x2_backward_of_float64_or_an_odd_width_has_the_references_bits():
    rng = np.random.default_rng(4)
    for shape, dtype in [((2, 3, 8, 9), np.float32), ((2, 3, 8, 8), np.float64)]:
        x = rng.standard_normal(shape).astype(dtype)
        y, argmax = K.max_pool_forward(x, 2, 2, 2, 2)
        dy = rng.standard_normal(y.shape).astype(dtype)
        dy.reshape(-1)[::5] = -0.0
        dx = K.max_pool_backward(dy, argmax, x.shape, 2, 2, 2, 2)
        expected = reference.max_pool_backward(dy, argmax, x.shape, 2, 2, 2, 2)
        assert dx.dtype == dtype
        np.testing.assert_array_equal(dx.view(np.uint8), expected.view(np.uint8))
