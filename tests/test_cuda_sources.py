"""The CUDA kernels, checked on a machine without a GPU.

* NVRTC (CUDA's runtime compiler, which needs no device) compiles every ``kernels/cuda/*.cu``
  for float32 and float64, to machine code for two current architectures, without a warning.
* The emulator (``minidl.kernels.emulate``) runs each launcher of ``minidl.kernels.gpu`` with
  NumPy arrays -- the same launch code and the same CUDA source a GPU would run -- and the
  results must equal ``minidl.kernels.reference``.
"""
import inspect

import numpy as np
import pytest

from minidl.kernels import emulate, gpu, reference

DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}

needs_compiler = pytest.mark.skipif(emulate.compiler() is None,
                                    reason="the CUDA emulator needs a C++ compiler (g++)")


def assert_close(actual, expected, dtype):
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype}, reference {expected.dtype}"
    assert actual.shape == expected.shape, f"shape {actual.shape}, reference {expected.shape}"
    np.testing.assert_allclose(actual, expected, **TOLERANCE[dtype])


# =========================================================================== the contract
def launcher_names():
    return [name for name in gpu.__all__ if callable(getattr(reference, name, None))]


def test_every_gpu_launcher_has_the_reference_signature():
    assert launcher_names(), "gpu.py exports no kernel launcher"
    for name in launcher_names():
        ours = list(inspect.signature(getattr(gpu, name)).parameters)
        theirs = list(inspect.signature(getattr(reference, name)).parameters)
        assert ours == theirs, f"gpu.{name}{ours} differs from reference.{name}{theirs}"


def test_every_cuda_kernel_is_listed_in_the_gpu_docstring():
    for filename in gpu.cuda_sources():
        assert filename in gpu.__doc__, f"{filename} is not described in gpu.py's docstring"
        for kernel in emulate.kernel_signatures((gpu.CUDA_DIR / filename).read_text()):
            assert kernel in gpu.__doc__, f"kernel {kernel} ({filename}) missing from gpu.__doc__"


# =========================================================================== NVRTC
# Machine code (cubin, through NVRTC's built-in ptxas, as CuPy compiles for the device it
# finds) for Turing (Colab's T4) and Hopper.
ARCHITECTURES = ["sm_75", "sm_90"]
CUPY_ADDS = ["-ftz=true"]  # what cupy.RawModule adds to our options (with -arch for the device)


def nvrtc_module():
    """CuPy's NVRTC binding, or a skip naming what is missing (NVRTC itself needs no GPU)."""
    try:
        from cupy_backends.cuda.libs import nvrtc
        nvrtc.getVersion()  # loads libnvrtc: fails here if the library is absent
    except Exception as err:  # ImportError, or CuPy's error for a missing libnvrtc
        pytest.skip(f"NVRTC unavailable ({type(err).__name__}: {str(err).splitlines()[0]}); "
                    "pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12")
    return nvrtc


def nvrtc_compile(source, name, options):
    """Compile with NVRTC; returns (ok, log, cubin)."""
    nvrtc = nvrtc_module()
    program = nvrtc.createProgram(source, name, [], [])
    try:
        nvrtc.compileProgram(program, list(options))
        ok = True
    except nvrtc.NVRTCError:
        ok = False
    log = nvrtc.getProgramLog(program)
    cubin = nvrtc.getCUBIN(program) if ok else b""
    nvrtc.destroyProgram(program)
    return ok, log, cubin


def test_cuda_sources_exist():
    assert len(gpu.cuda_sources()) >= 3, gpu.cuda_sources()


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("filename", gpu.cuda_sources())
def test_nvrtc_compiles_source(filename, dtype, arch):
    source = (gpu.CUDA_DIR / filename).read_text()
    options = [*gpu.compile_options(dtype), *CUPY_ADDS, f"--gpu-architecture={arch}"]
    ok, log, cubin = nvrtc_compile(source, filename, options)
    assert ok, f"NVRTC could not compile {filename} with {options}:\n{log}"
    assert "warning" not in log.lower(), f"NVRTC warned on {filename} with {options}:\n{log}"
    for kernel in emulate.kernel_signatures(source):
        assert kernel.encode() + b"\0" in cubin, f"{kernel} missing from the machine code of {filename}"


def test_nvrtc_reports_a_broken_source():
    ok, log, _ = nvrtc_compile('extern "C" __global__ void k(float* x) { x[0] = y; }',
                               "broken.cu", ["--gpu-architecture=sm_75"])
    assert not ok and "identifier \"y\" is undefined" in log


# =========================================================================== the emulator itself
BLOCK_SUM = r"""
typedef REAL_T real_t;
#define BLOCK 64
// Tree reduction in shared memory: one block sums BLOCK * blocks values, a barrier per level.
extern "C" __global__ void block_sums(const real_t* x, real_t* sums, real_t* total, int n) {
    __shared__ real_t partial[BLOCK];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    partial[threadIdx.x] = i < n ? x[i] : 0;
    __syncthreads();
    for (int stride = BLOCK / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        sums[blockIdx.x] = partial[0];
        atomicAdd(total, partial[0]);
    }
}
extern "C" __global__ void scale(real_t* x, real_t factor, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= factor;
}
"""


@needs_compiler
def test_emulator_runs_barriers_shared_memory_and_atomics():
    module = emulate.EmulatedModule(BLOCK_SUM, np.float64, "block_sum.cu")
    assert module.signatures["block_sums"][1] and not module.signatures["scale"][1]
    x = np.random.default_rng(0).standard_normal(200)
    sums, total = np.zeros(4), np.zeros(1)
    module.get_function("block_sums")((4,), (64,), (x, sums, total, np.int32(x.size)))
    expected = [x[i:i + 64].sum() for i in range(0, 200, 64)]
    np.testing.assert_allclose(sums, expected, rtol=1e-12)
    np.testing.assert_allclose(total[0], x.sum(), rtol=1e-12)


@needs_compiler
def test_emulator_rejects_what_cupy_would_misread():
    kernel = emulate.EmulatedModule(BLOCK_SUM, np.float32, "block_sum.cu").get_function("scale")
    x = np.ones(10, dtype=np.float32)
    with pytest.raises(TypeError, match="'factor'.*float32 scalar"):
        kernel((1,), (32,), (x, 2.0, np.int32(10)))        # a Python float is a C double in CuPy
    with pytest.raises(TypeError, match="'x'.*float32, got float64"):
        kernel((1,), (32,), (x.astype(np.float64), np.float32(2), np.int32(10)))
    with pytest.raises(ValueError, match="C-contiguous"):
        kernel((1,), (32,), (np.ones((10, 2), np.float32)[:, 0], np.float32(2), np.int32(10)))
    with pytest.raises(TypeError, match="takes 3 arguments"):
        kernel((1,), (32,), (x, np.float32(2)))
    kernel((1,), (32,), (x, np.float32(2), np.int32(10)))
    np.testing.assert_array_equal(x, 2)


@needs_compiler
def test_emulator_reports_compile_errors():
    with pytest.raises(RuntimeError, match="could not compile"):
        emulate.EmulatedModule('extern "C" __global__ void k(float* x) { x[0] = y; }',
                               np.float32, "broken.cu")


# =========================================================================== kernels vs reference
@pytest.fixture
def rng():
    return np.random.default_rng(42)


@needs_compiler
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy(rng, dtype):
    logits = (rng.standard_normal((37, 10)) * 5).astype(dtype)
    logits[3] += 100  # large logits: the max subtraction must keep exp finite
    labels = rng.integers(0, 10, 37)
    losses, probs = gpu.softmax_cross_entropy(logits, labels)
    ref_losses, ref_probs = reference.softmax_cross_entropy(logits, labels)
    assert_close(losses, ref_losses, dtype)
    assert_close(probs, ref_probs, dtype)

    dlogits = gpu.softmax_cross_entropy_backward(probs, labels, 1 / 37)
    assert_close(dlogits, reference.softmax_cross_entropy_backward(ref_probs, labels, 1 / 37), dtype)


@needs_compiler
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout(rng, dtype):
    x = rng.standard_normal((5, 3, 7, 11)).astype(dtype)
    uniform = rng.random(x.shape).astype(dtype)
    y, mask = gpu.dropout_forward(x, uniform, 0.3)
    ref_y, ref_mask = reference.dropout_forward(x, uniform, 0.3)
    assert_close(y, ref_y, dtype)
    np.testing.assert_array_equal(mask, ref_mask)
    dy = rng.standard_normal(x.shape).astype(dtype)
    assert_close(gpu.dropout_backward(dy, mask), reference.dropout_backward(dy, ref_mask), dtype)


def _twin_states(rng, dtype, shape, count):
    """``count`` random arrays, and an independent copy of them for the reference."""
    arrays = [rng.standard_normal(shape).astype(dtype) for _ in range(count)]
    return arrays, [a.copy() for a in arrays]


@needs_compiler
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum, nesterov, weight_decay",
                         [(0.0, False, 0.0), (0.9, False, 0.0), (0.9, True, 1e-2), (0.0, False, 1e-2)])
def test_sgd_update(rng, dtype, momentum, nesterov, weight_decay):
    (param, grad, velocity), (ref_param, ref_grad, ref_velocity) = _twin_states(rng, dtype, (33, 17), 3)
    for _ in range(3):
        gpu.sgd_update(param, grad, velocity, 0.1, momentum, nesterov, weight_decay)
        reference.sgd_update(ref_param, ref_grad, ref_velocity, 0.1, momentum, nesterov, weight_decay)
    assert_close(param, ref_param, dtype)
    assert_close(velocity, ref_velocity, dtype)


@needs_compiler
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay, decoupled", [(0.0, False), (1e-2, False), (1e-2, True)])
def test_adam_update(rng, dtype, weight_decay, decoupled):
    (param, grad, m, v), (ref_param, ref_grad, ref_m, ref_v) = _twin_states(rng, dtype, (300,), 4)
    v[:] = np.abs(v)
    ref_v[:] = np.abs(ref_v)
    for step in (1, 2, 3):
        gpu.adam_update(param, grad, m, v, 1e-2, 0.9, 0.999, 1e-8, step, weight_decay, decoupled)
        reference.adam_update(ref_param, ref_grad, ref_m, ref_v, 1e-2, 0.9, 0.999, 1e-8, step,
                              weight_decay, decoupled)
    for ours, theirs in [(param, ref_param), (m, ref_m), (v, ref_v)]:
        assert_close(ours, theirs, dtype)


@needs_compiler
def test_in_place_updates_refuse_arrays_they_cannot_write_through():
    param = np.ones((4, 4), np.float32)
    with pytest.raises(ValueError, match="velocity must have param's shape"):
        gpu.sgd_update(param, param, np.zeros((4, 4), np.float64), 0.1, 0.9, False, 0.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        gpu.sgd_update(param.T, param, np.zeros((4, 4), np.float32).T, 0.1, 0.9, False, 0.0)


# --------------------------------------------------------------------------- convolution
CONV_CASES = [  # (N, C, H, W), kh, kw, sh, sw, ph, pw
    ((2, 3, 7, 6), 3, 3, 1, 1, 1, 1),
    ((2, 2, 9, 8), 5, 3, 2, 1, 2, 0),
    ((1, 1, 5, 5), 2, 2, 3, 2, 0, 1),
]


@needs_compiler
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kh, kw, sh, sw, ph, pw", CONV_CASES)
def test_im2col_and_col2im(rng, dtype, shape, kh, kw, sh, sw, ph, pw):
    x = rng.standard_normal(shape).astype(dtype)
    cols = gpu.im2col(x, kh, kw, sh, sw, ph, pw)
    np.testing.assert_array_equal(cols, reference.im2col(x, kh, kw, sh, sw, ph, pw))
    dcols = rng.standard_normal(cols.shape).astype(dtype)
    assert_close(gpu.col2im(dcols, shape, kh, kw, sh, sw, ph, pw),
                 reference.col2im(dcols, shape, kh, kw, sh, sw, ph, pw), dtype)


# --------------------------------------------------------------------------- pooling
POOL_CASES = [  # (N, C, H, W), kh, kw, sh, sw: non-overlapping, overlapping, edge dropped
    ((2, 3, 8, 6), 2, 2, 2, 2),
    ((2, 2, 7, 7), 3, 3, 2, 2),
    ((1, 2, 5, 7), 2, 3, 3, 1),
]


@needs_compiler
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kh, kw, sh, sw", POOL_CASES)
def test_max_pool(rng, dtype, shape, kh, kw, sh, sw):
    x = rng.standard_normal(shape).astype(dtype)
    x[0, 0, :3, :3] = 1.0  # ties: the first maximum in row-major order must win
    y, argmax = gpu.max_pool_forward(x, kh, kw, sh, sw)
    ref_y, ref_argmax = reference.max_pool_forward(x, kh, kw, sh, sw)
    np.testing.assert_array_equal(y, ref_y)
    np.testing.assert_array_equal(argmax, ref_argmax)
    assert argmax.dtype == np.int64
    dy = rng.standard_normal(y.shape).astype(dtype)
    assert_close(gpu.max_pool_backward(dy, argmax, shape, kh, kw, sh, sw),
                 reference.max_pool_backward(dy, ref_argmax, shape, kh, kw, sh, sw), dtype)


@needs_compiler
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kh, kw, sh, sw", POOL_CASES)
def test_avg_pool(rng, dtype, shape, kh, kw, sh, sw):
    x = rng.standard_normal(shape).astype(dtype)
    y = gpu.avg_pool_forward(x, kh, kw, sh, sw)
    assert_close(y, reference.avg_pool_forward(x, kh, kw, sh, sw), dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    assert_close(gpu.avg_pool_backward(dy, shape, kh, kw, sh, sw),
                 reference.avg_pool_backward(dy, shape, kh, kw, sh, sw), dtype)


# --------------------------------------------------------------------------- batch normalization
@needs_compiler
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 3, 50), (600, 2, 1)], ids=["images", "dense-more-than-a-block"])
def test_batchnorm(rng, dtype, shape):
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    gamma = rng.standard_normal(shape[1]).astype(dtype)
    beta = rng.standard_normal(shape[1]).astype(dtype)
    y, mean, var = gpu.batchnorm_forward(x, gamma, beta, 1e-5)
    ref_y, ref_mean, ref_var = reference.batchnorm_forward(x, gamma, beta, 1e-5)
    for ours, theirs in [(y, ref_y), (mean, ref_mean), (var, ref_var)]:
        assert_close(ours, theirs, dtype)

    dy = rng.standard_normal(shape).astype(dtype)
    ours = gpu.batchnorm_backward(dy, x, gamma, mean, var, 1e-5)
    theirs = reference.batchnorm_backward(dy, x, gamma, ref_mean, ref_var, 1e-5)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=TOLERANCE[dtype]["rtol"] * 10,
                                   atol=TOLERANCE[dtype]["atol"] * 100)  # sums of M products
        assert a.dtype == b.dtype


# --------------------------------------------------------------------------- recurrent cells
def _cell_inputs(rng, dtype, n, hidden, blocks):
    wide = lambda: (rng.standard_normal((n, blocks * hidden)) * 2).astype(dtype)  # noqa: E731
    narrow = lambda: rng.standard_normal((n, hidden)).astype(dtype)  # noqa: E731
    bias = lambda: rng.standard_normal(blocks * hidden).astype(dtype)  # noqa: E731
    return wide, narrow, bias


@needs_compiler
@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_cell(rng, dtype):
    n, hidden = 5, 7
    wide, narrow, bias = _cell_inputs(rng, dtype, n, hidden, 4)
    xw, hw, b, c_prev = wide(), wide(), bias(), narrow()
    xw[0, 0] = -200  # sigmoid of a very negative number: exp overflows, the gate must be 0
    ours = gpu.lstm_cell_forward(xw, hw, b, c_prev, *[np.empty(s, dtype) for s in
                                                     [(n, 4 * hidden), (n, hidden), (n, hidden)]])
    theirs = reference.lstm_cell_forward(xw, hw, b, c_prev, *[np.empty(s, dtype) for s in
                                                              [(n, 4 * hidden), (n, hidden), (n, hidden)]])
    for a, r in zip(ours, theirs):
        assert_close(a, r, dtype)
    gates, c, _ = theirs

    dh, dc_next = narrow(), narrow()
    ours = gpu.lstm_cell_backward(dh, dc_next, gates, c_prev, c, np.empty((n, 4 * hidden), dtype),
                                  np.empty((n, hidden), dtype))
    theirs = reference.lstm_cell_backward(dh, dc_next, gates, c_prev, c,
                                          np.empty((n, 4 * hidden), dtype), np.empty((n, hidden), dtype))
    for a, r in zip(ours, theirs):
        assert_close(a, r, dtype)

    # dc_prev may be the very array dc_next, as the reference allows
    shared = dc_next.copy()
    _, dc_prev = gpu.lstm_cell_backward(dh, shared, gates, c_prev, c, np.empty((n, 4 * hidden), dtype), shared)
    assert dc_prev is shared
    assert_close(shared, theirs[1], dtype)


@needs_compiler
@pytest.mark.parametrize("dtype", DTYPES)
def test_gru_cell(rng, dtype):
    n, hidden = 4, 6
    wide, narrow, bias = _cell_inputs(rng, dtype, n, hidden, 3)
    xw, hw, bx, bh, h_prev = wide(), wide(), bias(), bias(), narrow()
    shapes = [(n, 3 * hidden), (n, hidden), (n, hidden)]
    ours = gpu.gru_cell_forward(xw, hw, bx, bh, h_prev, *[np.empty(s, dtype) for s in shapes])
    theirs = reference.gru_cell_forward(xw, hw, bx, bh, h_prev, *[np.empty(s, dtype) for s in shapes])
    for a, r in zip(ours, theirs):
        assert_close(a, r, dtype)
    gates, hn, _ = theirs

    dh = narrow()
    shapes = [(n, 3 * hidden), (n, 3 * hidden), (n, hidden)]
    ours = gpu.gru_cell_backward(dh, gates, hn, h_prev, *[np.empty(s, dtype) for s in shapes])
    theirs = reference.gru_cell_backward(dh, gates, hn, h_prev, *[np.empty(s, dtype) for s in shapes])
    for a, r in zip(ours, theirs):
        assert_close(a, r, dtype)


@needs_compiler
def test_cell_outputs_may_be_time_slices_of_a_larger_buffer(rng):
    """A layer may hand the kernel ``h_all[:, t]`` (not contiguous): it must still be written."""
    n, steps, hidden = 3, 4, 5
    wide, narrow, bias = _cell_inputs(rng, np.float64, n, hidden, 4)
    xw, hw, b, c_prev = wide(), wide(), bias(), narrow()
    gates_all, c_all, h_all = (np.zeros((n, steps, w)) for w in (4 * hidden, hidden, hidden))
    gpu.lstm_cell_forward(xw, hw, b, c_prev, gates_all[:, 2], c_all[:, 2], h_all[:, 2])
    expected = reference.lstm_cell_forward(xw, hw, b, c_prev, np.empty((n, 4 * hidden)),
                                           np.empty((n, hidden)), np.empty((n, hidden)))
    for buffer, r in zip((gates_all, c_all, h_all), expected):
        assert_close(buffer[:, 2], r, np.float64)
        assert not buffer[:, [0, 1, 3]].any()
