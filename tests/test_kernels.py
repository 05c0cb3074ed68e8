"""Every Numba kernel (``minidl/kernels/cpu.py``) equals its NumPy reference (``reference.py``).

The kernels under test are discovered, not listed: every public function of
``reference.py`` must have a twin of the same name and parameters in ``cpu.py``, and an
entry in ``CASES`` below that generates its inputs. A kernel added later without a twin
or without cases makes these tests fail, so no kernel goes untested.

Both tiers get identical copies of the inputs; the test compares the return values
(arrays or tuples of arrays) and every array argument afterwards (in-place kernels).
Pooling and im2col must agree bit for bit (ties included), the rest within float32
rounding (or float64 rounding for float64 inputs).
"""
import copy
import inspect
import zlib

import numpy as np
import pytest

from minidl.kernels import reference

cpu = pytest.importorskip("minidl.kernels.cpu", reason="the Numba tier needs numba")

F32, F64 = np.float32, np.float64


def _public_functions(module):
    return sorted(name for name, fn in inspect.getmembers(module, inspect.isfunction)
                  if not name.startswith("_") and fn.__module__ == module.__name__)


REFERENCE_KERNELS = _public_functions(reference)

# Kernels whose tiers must agree exactly: they copy, compare or add in a fixed order.
EXACT = {"im2col", "max_pool_forward", "max_pool_backward", "avg_pool_forward", "avg_pool_backward"}

TOLERANCE = {F32: dict(rtol=2e-5, atol=2e-6), F64: dict(rtol=1e-10, atol=1e-12)}


# ------------------------------------------------------------------ input generators
# Each entry maps a kernel name to a function (rng, dtype) -> list of argument tuples.
def _normal(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _ties(rng, shape, dtype):
    """Small integers: most pooling windows hold several equal maxima."""
    return rng.integers(0, 3, size=shape).astype(dtype)


# (N, C, H, W, kh, kw, sh, sw, ph, pw): stride 2 with padding, 1x1 kernels, non-square
# inputs and kernels, a batch of one, a kernel as large as the padded input.
CONV_GEOMETRIES = [
    (2, 3, 7, 5, 3, 3, 1, 1, 1, 1),
    (3, 2, 9, 8, 3, 2, 2, 2, 1, 1),
    (1, 4, 5, 6, 1, 1, 1, 1, 0, 0),
    (2, 1, 6, 11, 5, 3, 2, 3, 2, 0),
    (1, 2, 3, 3, 5, 5, 1, 1, 1, 1),
    (8, 6, 12, 12, 5, 5, 1, 1, 2, 2),
]

# (N, C, H, W, kh, kw, sh, sw): non-overlapping, overlapping, floor at the edges, non-square.
POOL_GEOMETRIES = [
    (2, 3, 8, 8, 2, 2, 2, 2),
    (2, 2, 7, 9, 3, 3, 1, 1),
    (1, 3, 7, 5, 2, 2, 2, 2),
    (3, 2, 6, 7, 3, 2, 2, 1),
    (4, 5, 13, 11, 3, 3, 2, 2),
]


def _output_size(size, kernel, stride, pad=0):
    return (size + 2 * pad - kernel) // stride + 1


def _im2col_cases(rng, dtype):
    return [(_normal(rng, (N, C, H, W), dtype), kh, kw, sh, sw, ph, pw)
            for N, C, H, W, kh, kw, sh, sw, ph, pw in CONV_GEOMETRIES]


def _col2im_cases(rng, dtype):
    cases = []
    for N, C, H, W, kh, kw, sh, sw, ph, pw in CONV_GEOMETRIES:
        columns = N * _output_size(H, kh, sh, ph) * _output_size(W, kw, sw, pw)
        cases.append((_normal(rng, (C * kh * kw, columns), dtype), (N, C, H, W), kh, kw, sh, sw, ph, pw))
    return cases


def _pool_inputs(rng, dtype):
    """For each geometry: a tie-heavy input, and a continuous one."""
    for N, C, H, W, kh, kw, sh, sw in POOL_GEOMETRIES:
        for make in (_ties, _normal):
            yield make(rng, (N, C, H, W), dtype), (kh, kw, sh, sw)


def _max_pool_forward_cases(rng, dtype):
    return [(x, *window) for x, window in _pool_inputs(rng, dtype)]


def _max_pool_backward_cases(rng, dtype):
    cases = []
    for x, window in _pool_inputs(rng, dtype):
        y, argmax = reference.max_pool_forward(x, *window)
        cases.append((_normal(rng, y.shape, dtype), argmax, x.shape, *window))
    return cases


def _avg_pool_forward_cases(rng, dtype):
    return [(_normal(rng, x.shape, dtype), *window) for x, window in _pool_inputs(rng, dtype)]


def _avg_pool_backward_cases(rng, dtype):
    cases = []
    for x, (kh, kw, sh, sw) in _pool_inputs(rng, dtype):
        N, C, H, W = x.shape
        dy = _normal(rng, (N, C, _output_size(H, kh, sh), _output_size(W, kw, sw)), dtype)
        cases.append((dy, x.shape, kh, kw, sh, sw))
    return cases


BATCHNORM_SHAPES = [(8, 5, 1), (2, 3, 10), (256, 64, 1), (16, 8, 49), (2, 1, 1)]


def _batchnorm_forward_cases(rng, dtype):
    return [(_normal(rng, shape, dtype, 2.0) + dtype(3.0), _normal(rng, shape[1], dtype),
             _normal(rng, shape[1], dtype), 1e-5) for shape in BATCHNORM_SHAPES]


def _batchnorm_backward_cases(rng, dtype):
    cases = []
    for x, gamma, beta, eps in _batchnorm_forward_cases(rng, dtype):
        _, mean, var = reference.batchnorm_forward(x, gamma, beta, eps)
        cases.append((_normal(rng, x.shape, dtype), x, gamma, mean, var, eps))
    return cases


def _softmax_cases(rng, dtype):
    return [(_normal(rng, (N, K), dtype, scale), rng.integers(0, K, size=N))
            for N, K, scale in [(1, 2, 1.0), (7, 10, 3.0), (64, 10, 30.0), (5, 1000, 1.0)]]


def _softmax_backward_cases(rng, dtype):
    cases = []
    for logits, labels in _softmax_cases(rng, dtype):
        _, probs = reference.softmax_cross_entropy(logits, labels)
        cases.append((probs, labels, 1.0 / len(labels)))
    return cases


def _dropout_forward_cases(rng, dtype):
    return [(_normal(rng, shape, dtype), rng.random(shape, dtype=F32), rate)
            for shape, rate in [((3, 4), 0.5), ((2, 3, 5, 7), 0.1), ((1000,), 0.9), ((4, 4), 0.0)]]


def _dropout_backward_cases(rng, dtype):
    return [(_normal(rng, x.shape, dtype), reference.dropout_forward(x, u, rate)[1])
            for x, u, rate in _dropout_forward_cases(rng, dtype)]


def _sgd_cases(rng, dtype):
    cases = []
    for shape, momentum, nesterov, weight_decay in [((5, 3), 0.0, False, 0.0), ((7,), 0.9, False, 0.0),
                                                    ((2, 3, 4), 0.9, True, 1e-2), ((50, 20), 0.5, False, 1e-3)]:
        velocity = _normal(rng, shape, dtype) if momentum else np.zeros(shape, dtype)
        cases.append((_normal(rng, shape, dtype), _normal(rng, shape, dtype), velocity,
                      0.1, momentum, nesterov, weight_decay))
    return cases


def _adam_cases(rng, dtype):
    cases = []
    for shape, step, weight_decay, decoupled in [((5, 3), 1, 0.0, False), ((7,), 10, 1e-2, False),
                                                 ((2, 3, 4), 3, 1e-2, True), ((60, 20), 1000, 0.0, True)]:
        m = _normal(rng, shape, dtype, 0.1)
        v = np.abs(_normal(rng, shape, dtype, 0.1))
        cases.append((_normal(rng, shape, dtype), _normal(rng, shape, dtype), m, v,
                      1e-3, 0.9, 0.999, 1e-8, step, weight_decay, decoupled))
    return cases


# (N, H) for the recurrent cells: one row, a few, and enough to split across threads.
CELL_SHAPES = [(1, 1), (3, 5), (64, 32)]


def _lstm_forward_cases(rng, dtype):
    return [(_normal(rng, (N, 4 * H), dtype, 2.0), _normal(rng, (N, 4 * H), dtype, 2.0),
             _normal(rng, 4 * H, dtype), _normal(rng, (N, H), dtype),
             np.zeros((N, 4 * H), dtype), np.zeros((N, H), dtype), np.zeros((N, H), dtype))
            for N, H in CELL_SHAPES]


def _lstm_backward_cases(rng, dtype):
    cases = []
    for xw, hw, b, c_prev, gates, c, h in _lstm_forward_cases(rng, dtype):
        reference.lstm_cell_forward(xw, hw, b, c_prev, gates, c, h)
        N, H = c.shape
        dh, dc_next = _normal(rng, (N, H), dtype), _normal(rng, (N, H), dtype)
        cases.append((dh, dc_next, gates, c_prev, c, np.zeros((N, 4 * H), dtype), np.zeros((N, H), dtype)))
        dc_next = dc_next.copy()
        cases.append((dh, dc_next, gates, c_prev, c, np.zeros((N, 4 * H), dtype), dc_next))  # in place
    return cases


def _gru_forward_cases(rng, dtype):
    return [(_normal(rng, (N, 3 * H), dtype, 2.0), _normal(rng, (N, 3 * H), dtype, 2.0),
             _normal(rng, 3 * H, dtype), _normal(rng, 3 * H, dtype), _normal(rng, (N, H), dtype),
             np.zeros((N, 3 * H), dtype), np.zeros((N, H), dtype), np.zeros((N, H), dtype))
            for N, H in CELL_SHAPES]


def _gru_backward_cases(rng, dtype):
    cases = []
    for xw, hw, bx, bh, h_prev, gates, hn, h in _gru_forward_cases(rng, dtype):
        reference.gru_cell_forward(xw, hw, bx, bh, h_prev, gates, hn, h)
        N, H = h.shape
        outputs = lambda: (np.zeros((N, 3 * H), dtype), np.zeros((N, 3 * H), dtype))  # noqa: E731
        dh = _normal(rng, (N, H), dtype)
        cases.append((dh, gates, hn, h_prev, *outputs(), np.zeros((N, H), dtype)))
        dh = dh.copy()
        cases.append((dh, gates, hn, h_prev, *outputs(), dh))   # dh_prev written over dh
    return cases


CASES = {
    "softmax_cross_entropy": _softmax_cases,
    "softmax_cross_entropy_backward": _softmax_backward_cases,
    "dropout_forward": _dropout_forward_cases,
    "dropout_backward": _dropout_backward_cases,
    "sgd_update": _sgd_cases,
    "adam_update": _adam_cases,
    "im2col": _im2col_cases,
    "col2im": _col2im_cases,
    "max_pool_forward": _max_pool_forward_cases,
    "max_pool_backward": _max_pool_backward_cases,
    "avg_pool_forward": _avg_pool_forward_cases,
    "avg_pool_backward": _avg_pool_backward_cases,
    "batchnorm_forward": _batchnorm_forward_cases,
    "batchnorm_backward": _batchnorm_backward_cases,
    "lstm_cell_forward": _lstm_forward_cases,
    "lstm_cell_backward": _lstm_backward_cases,
    "gru_cell_forward": _gru_forward_cases,
    "gru_cell_backward": _gru_backward_cases,
}


# ------------------------------------------------------------------ comparing
def _arrays_in(value):
    """The arrays in a kernel's result: one array, a tuple of them, or None."""
    if value is None:
        return []
    if isinstance(value, tuple):
        return [a for item in value for a in _arrays_in(item)]
    return [value]


def _assert_same(name, what, ref, fast, dtype):
    assert isinstance(fast, np.ndarray), f"{name}: {what} is {type(fast).__name__}, not an array"
    assert fast.shape == ref.shape, f"{name}: {what} has shape {fast.shape}, reference {ref.shape}"
    assert fast.dtype == ref.dtype, f"{name}: {what} has dtype {fast.dtype}, reference {ref.dtype}"
    if name in EXACT:
        np.testing.assert_array_equal(fast, ref, err_msg=f"{name}: {what} differs from the reference")
    else:
        np.testing.assert_allclose(fast, ref, err_msg=f"{name}: {what} differs from the reference",
                                   **TOLERANCE[dtype])


# ------------------------------------------------------------------ tests
def test_kernels_are_discovered():
    """The discovery itself works (a broken filter would make every other test vacuous)."""
    assert {"im2col", "max_pool_forward", "batchnorm_backward", "adam_update"} <= set(REFERENCE_KERNELS)


@pytest.mark.parametrize("name", REFERENCE_KERNELS)
def test_numba_twin_exists_with_the_same_signature(name):
    assert hasattr(cpu, name), f"minidl/kernels/cpu.py has no Numba twin of reference.{name}"
    ref_params = list(inspect.signature(getattr(reference, name)).parameters)
    cpu_params = list(inspect.signature(getattr(cpu, name)).parameters)
    assert cpu_params == ref_params, f"cpu.{name}{cpu_params} != reference.{name}{ref_params}"


@pytest.mark.parametrize("name", REFERENCE_KERNELS)
def test_kernel_has_input_cases(name):
    assert name in CASES, (f"reference.{name} has no input generator: add one to CASES in "
                           "tests/test_kernels.py so its Numba twin is compared with it")


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", REFERENCE_KERNELS)
def test_numba_kernel_equals_reference(name, dtype):
    if name not in CASES or not hasattr(cpu, name):
        pytest.fail(f"{name}: no cases or no twin (see the two tests above)")
    cases = CASES[name](np.random.default_rng(zlib.crc32(name.encode())), dtype)
    assert cases, f"{name}: the generator produced no cases"
    for args in cases:
        ref_args, cpu_args = copy.deepcopy(args), copy.deepcopy(args)
        ref_out = _arrays_in(getattr(reference, name)(*ref_args))
        cpu_out = _arrays_in(getattr(cpu, name)(*cpu_args))
        assert len(cpu_out) == len(ref_out), f"{name}: {len(cpu_out)} results, reference {len(ref_out)}"
        for i, (r, c) in enumerate(zip(ref_out, cpu_out)):
            _assert_same(name, f"result {i}", r, c, dtype)
        for i, (r, c) in enumerate(zip(ref_args, cpu_args)):   # in-place updates
            if isinstance(r, np.ndarray):
                _assert_same(name, f"argument {i} after the call", r, c, dtype)


@pytest.mark.parametrize("name", REFERENCE_KERNELS)
def test_parallel_versions_equal_the_serial_ones(name, monkeypatch):
    """The test cases above are small, so they run the serial versions; force the threaded
    ones (``PARALLEL_MIN_ELEMENTS = 0``) and require the same results, bit for bit."""
    cases = CASES[name](np.random.default_rng(zlib.crc32(name.encode())), F32)
    for args in cases:
        results = []
        for threshold in (0, 2**62):
            monkeypatch.setattr(cpu, "PARALLEL_MIN_ELEMENTS", threshold)
            call_args = copy.deepcopy(args)
            results.append(_arrays_in(getattr(cpu, name)(*call_args))
                           + [a for a in call_args if isinstance(a, np.ndarray)])
        for threaded, serial in zip(*results):
            np.testing.assert_array_equal(threaded, serial, err_msg=f"{name}: threaded != serial")


def test_small_work_runs_serially_and_large_work_in_parallel(monkeypatch):
    monkeypatch.setattr(cpu.numba, "get_num_threads", lambda: 2)
    assert not cpu.threads_pay(cpu.PARALLEL_MIN_ELEMENTS - 1)
    assert cpu.threads_pay(cpu.PARALLEL_MIN_ELEMENTS)
    monkeypatch.setattr(cpu.numba, "get_num_threads", lambda: 1)
    assert not cpu.threads_pay(10 * cpu.PARALLEL_MIN_ELEMENTS)


def test_max_pool_ties_go_to_the_first_maximum():
    """A constant window: both tiers pick position 0 and route the whole gradient there."""
    x = np.ones((1, 1, 4, 4), F32)
    for tier in (reference, cpu):
        y, argmax = tier.max_pool_forward(x, 2, 2, 2, 2)
        assert (argmax == 0).all()
        dx = tier.max_pool_backward(np.ones_like(y), argmax, x.shape, 2, 2, 2, 2)
        np.testing.assert_array_equal(dx[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])


def test_im2col_matches_the_definition():
    """cols[(c, i, j), (n, oh, ow)] = x_padded[n, c, sh*oh + i, sw*ow + j], checked by loops."""
    rng = np.random.default_rng(0)
    N, C, H, W, kh, kw, sh, sw, ph, pw = 2, 2, 5, 4, 3, 2, 2, 1, 1, 1
    x = _normal(rng, (N, C, H, W), F64)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    OH, OW = _output_size(H, kh, sh, ph), _output_size(W, kw, sw, pw)
    for tier in (reference, cpu):
        cols = tier.im2col(x, kh, kw, sh, sw, ph, pw)
        assert cols.shape == (C * kh * kw, N * OH * OW)
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    for n in range(N):
                        for oh in range(OH):
                            for ow in range(OW):
                                assert cols[(c * kh + i) * kw + j, (n * OH + oh) * OW + ow] == \
                                    padded[n, c, sh * oh + i, sw * ow + j]


def test_col2im_is_the_adjoint_of_im2col():
    """<im2col(x), c> == <x, col2im(c)> for every x, c: col2im is im2col's transpose."""
    rng = np.random.default_rng(1)
    for N, C, H, W, kh, kw, sh, sw, ph, pw in CONV_GEOMETRIES:
        x = _normal(rng, (N, C, H, W), F64)
        for tier in (reference, cpu):
            cols = tier.im2col(x, kh, kw, sh, sw, ph, pw)
            c = _normal(rng, cols.shape, F64)
            assert np.isclose(np.sum(cols * c), np.sum(x * tier.col2im(c, x.shape, kh, kw, sh, sw, ph, pw)))
