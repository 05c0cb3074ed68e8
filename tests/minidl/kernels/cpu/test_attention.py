"""The Numba masked softmax: the reference's probabilities and gradient, bool or uint8 masks;
attention's small products, a thread each."""

import numpy as np
import pytest

from minidl.kernels import cpu, reference
from minidl.kernels.cpu import attention as K
from tests.minidl.kernels import kernel_cases as kc


@pytest.mark.parametrize("mask_dtype", [bool, np.uint8])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_probabilities_and_gradient_equal_the_reference(mask_dtype, dtype, rtol):
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((4, 3, 5)).astype(dtype)
    keep = (rng.random((2, 3, 5)) < 0.6).astype(mask_dtype)  # a mask per pair of groups
    keep[1, 2] = 0  # a row with nothing to see
    probs = K.masked_softmax(scores, keep, 0.5)
    np.testing.assert_allclose(probs, reference.masked_softmax(scores, keep, 0.5), rtol=rtol, atol=rtol)
    assert probs.dtype == dtype and np.all(probs[2:, 2] == 0.0)
    dprobs = rng.standard_normal(scores.shape).astype(dtype)
    np.testing.assert_allclose(
        K.masked_softmax_backward(probs, dprobs, 0.5),
        reference.masked_softmax_backward(probs, dprobs, 0.5),
        rtol=rtol,
        atol=rtol,
    )


def test_small_products_on_threads_equal_numpys(monkeypatch):
    """The Numba tier gives each small product a task of its own (on any number of threads);
    every case of the conformance table, float32 and float64, must equal NumPy's ``a @ b``, and
    the heads (strided views, an operand transposed: K^T copied into rows by its task) must take
    the kernel, not NumPy's loop."""
    if not cpu.blas_pool.gemm_address(np.float32):
        pytest.skip("no OpenBLAS to call from the kernels here")
    calls = []
    threaded = cpu.attention._each_product
    monkeypatch.setattr(cpu.attention, "_each_product", lambda *args: calls.append(1) or threaded(*args))
    for dtype, rtol in [(np.float32, 1e-6), (np.float64, 1e-14)]:
        for a, b, *out in kc.TABLE["batched_matmul"].make_cases(dtype):
            got = cpu.batched_matmul(a, b, *out)
            assert got.shape == np.matmul(a, b).shape and got.dtype == dtype
            assert not out or got is out[0]
            np.testing.assert_allclose(got, np.matmul(a, b), rtol=rtol, atol=rtol)
    assert len(calls) == 2 * 7  # per dtype: Q K^T, two P^T V, the copied operand, the 3-D batch, two outs


def test_products_go_into_merged_heads_in_place():
    """``out`` a view of heads merged side by side in a wider array (rows strided, as attention's
    backward writes dQ, dK, dV into [dQ | dK | dV]): the products land there, nothing else moves."""
    rng = np.random.default_rng(1)
    N, H, T, d = 3, 4, 6, 5
    p, v = rng.standard_normal((N, H, T, T)), rng.standard_normal((N, H, T, d))
    merged = np.full((N, T, 3 * H * d), np.nan)
    view = merged[..., H * d : 2 * H * d].reshape(N, T, H, d).transpose(0, 2, 1, 3)
    assert cpu.batched_matmul(p, v, view) is view
    want = np.matmul(p, v).transpose(0, 2, 1, 3).reshape(N, T, H * d)
    np.testing.assert_allclose(merged[..., H * d : 2 * H * d], want, rtol=1e-13, atol=1e-13)
    assert np.isnan(merged[..., : H * d]).all() and np.isnan(merged[..., 2 * H * d :]).all()


def test_projection_blocks_of_rows_equal_numpys(monkeypatch):
    """With threads, y = x W + b is a block of rows per thread, each its product and its bias: the
    conformance cases equal NumPy's, the large ones through the kernel; blocks that do not divide the
    rows (3 blocks of 1001) and more blocks than rows leave no row out."""
    if not cpu.blas_pool.gemm_address(np.float32):
        pytest.skip("no OpenBLAS to call from the kernels here")
    calls = []
    blocks = cpu.attention._blocks_of_rows
    monkeypatch.setattr(cpu.attention, "_blocks_of_rows", lambda *args: calls.append(1) or blocks(*args))
    monkeypatch.setattr(cpu.attention, "threads_pay", lambda elements: elements >= 1 << 16)
    for dtype, rtol in [(np.float32, 1e-5), (np.float64, 1e-13)]:
        for x, W, b in kc.TABLE["linear_forward"].make_cases(dtype):
            want = x @ W if b is None else x @ W + b
            np.testing.assert_allclose(cpu.linear_forward(x, W, b), want, rtol=rtol, atol=rtol)
        x, W, b = kc.TABLE["linear_forward"].make_cases(dtype)[2]
        for count in (3, 1500):
            y = np.full((len(x), len(b)), np.nan, dtype)
            with cpu.blas_pool.one_thread():
                blocks(cpu.blas_pool.gemm_address(dtype), x, W, b, y, count)
            np.testing.assert_allclose(y, x @ W + b, rtol=rtol, atol=rtol)
    assert len(calls) == 2 * 2  # per dtype: the two cases of 1001 rows


def test_weight_gradients_summed_by_blocks_of_rows_equal_numpys(monkeypatch):
    """With threads and rows enough, dW = x^T dy is a block of rows per thread summed into a dW of
    its own, then added up: the conformance cases equal NumPy's, the long ones through the kernel, in
    both orders (dy wider than x: dy^T x); blocks that do not divide the rows leave no row out."""
    if not cpu.blas_pool.gemm_address(np.float32):
        pytest.skip("no OpenBLAS to call from the kernels here")
    calls = []
    blocks = cpu.attention._sum_over_blocks
    monkeypatch.setattr(
        cpu.attention, "_sum_over_blocks", lambda *args: calls.append(args[-1]) or blocks(*args)
    )
    monkeypatch.setattr(cpu.attention, "threads_pay", lambda elements: elements >= 1 << 16)
    monkeypatch.setattr(cpu.attention, "get_num_threads", lambda: 3)  # 1001 rows: blocks of 333, 334
    for dtype, rtol in [(np.float32, 1e-4), (np.float64, 1e-12)]:
        for x, dy in kc.TABLE["weight_gradient"].make_cases(dtype):
            np.testing.assert_allclose(cpu.weight_gradient(x, dy), x.T @ dy, rtol=rtol, atol=rtol)
    assert calls == [True, False, True] * 2  # per dtype: the three cases of 1001 rows, wide or not
