"""The CUDA emulator (minidl/kernels/emulate.py): barriers, shared memory and atomics, stack
limits, the arguments CuPy would misread, compile errors, and reads and writes outside an array
stopped and located."""

import signal
import subprocess
import sys

import numpy as np
import pytest

from minidl.kernels import emulate
from tests.minidl.kernels.test_cuda_sources import needs_compiler

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
// Threads past `live` return before the first barrier; the others still meet at every one,
// and each reads what the others wrote before it.
extern "C" __global__ void prefix_sums_of_live(const real_t* x, real_t* out, int live) {
    __shared__ real_t values[BLOCK];
    if ((int)threadIdx.x >= live) return;
    values[threadIdx.x] = x[threadIdx.x];
    __syncthreads();
    real_t total = 0;
    for (int i = 0; i <= (int)threadIdx.x; ++i) total += values[i];
    __syncthreads();
    out[threadIdx.x] = total;
}
extern "C" __global__ void scale(real_t* x, real_t factor, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= factor;
}
"""


# A thread whose locals do not fit in its fiber's 256 KiB stack: it must stop at the guard page,
# not write over the stack of another thread.
TOO_DEEP = """
import sys
import numpy as np
from minidl.kernels import emulate
source = (
    'extern "C" __global__ void deep(float* out) {'
    ' volatile float big[FLOATS]; for (int i = 0; i < FLOATS; ++i) big[i] = i;'
    ' __syncthreads(); out[threadIdx.x] = big[FLOATS - 1]; }'
).replace("FLOATS", sys.argv[1])
out = np.zeros(4, np.float32)
emulate.EmulatedModule(source, np.float32, "deep.cu").get_function("deep")((1,), (4,), (out,))
print(out[0])
"""


# Indices the emulator checks (issue 55): every array parameter knows its size, through
# pointer arithmetic too; a thread's access outside stops the launch with the array, the index,
# the shape and the thread, and touches no memory that is not the array's.
BOUNDS = r"""
extern "C" __global__ void read_first(const float* x, float* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const float v = x[i];  // read before the test
    if (i < n) out[i] = 2 * v;
}
extern "C" __global__ void shifted(const float* x, float* out, int n, int shift) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = (x + shift)[i] + *(shift + x + i);
}
extern "C" __global__ void write_all(float* out, int n) {
    out[blockIdx.x * blockDim.x + threadIdx.x] = 1;
}
extern "C" __global__ void stride(float* out, int n, int step) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) out[i] += 1;
}
"""


@needs_compiler
def test_emulator_runs_barriers_shared_memory_and_atomics():
    module = emulate.EmulatedModule(BLOCK_SUM, np.float64, "block_sum.cu")
    assert module.signatures["block_sums"][1] and not module.signatures["scale"][1]
    x = np.random.default_rng(0).standard_normal(200)
    sums, total = np.zeros(4), np.zeros(1)
    module.get_function("block_sums")((4,), (64,), (x, sums, total, np.int32(x.size)))
    expected = [x[i : i + 64].sum() for i in range(0, 200, 64)]
    np.testing.assert_allclose(sums, expected, rtol=1e-12)
    np.testing.assert_allclose(total[0], x.sum(), rtol=1e-12)


@needs_compiler
def test_emulator_lets_threads_leave_before_a_barrier_the_others_meet_at():
    module = emulate.EmulatedModule(BLOCK_SUM, np.float64, "block_sum.cu")
    x = np.arange(1.0, 65.0)
    out = np.zeros(64)
    module.get_function("prefix_sums_of_live")((1,), (64,), (x, out, np.int32(37)))
    np.testing.assert_array_equal(out[:37], np.cumsum(x[:37]))
    np.testing.assert_array_equal(out[37:], 0)  # the threads that left wrote nothing


@pytest.mark.slow
@needs_compiler
@pytest.mark.parametrize("floats, fits", [(1000, True), (200_000, False)])
def test_emulator_stops_a_thread_whose_locals_overflow_its_stack(floats, fits):
    command = [sys.executable, "-c", TOO_DEEP, str(floats)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if fits:
        assert result.returncode == 0, result.stderr
        assert float(result.stdout) == floats - 1
    else:
        assert result.returncode == -signal.SIGSEGV, (result.returncode, result.stderr[-500:])


@pytest.mark.slow
@needs_compiler
def test_emulator_rejects_what_cupy_would_misread():
    kernel = emulate.EmulatedModule(BLOCK_SUM, np.float32, "block_sum.cu").get_function("scale")
    x = np.ones(10, dtype=np.float32)
    with pytest.raises(TypeError, match="'factor'.*float32 scalar"):
        kernel((1,), (32,), (x, 2.0, np.int32(10)))  # a Python float is a C double in CuPy
    with pytest.raises(TypeError, match="'x'.*float32, got float64"):
        kernel((1,), (32,), (x.astype(np.float64), np.float32(2), np.int32(10)))
    with pytest.raises(ValueError, match="C-contiguous"):
        kernel((1,), (32,), (np.ones((10, 2), np.float32)[:, 0], np.float32(2), np.int32(10)))
    with pytest.raises(TypeError, match="takes 3 arguments"):
        kernel((1,), (32,), (x, np.float32(2)))
    kernel((1,), (32,), (x, np.float32(2), np.int32(10)))
    np.testing.assert_array_equal(x, 2)


@pytest.mark.slow
@needs_compiler
def test_emulator_reports_compile_errors():
    with pytest.raises(RuntimeError, match="could not compile"):
        emulate.EmulatedModule(
            'extern "C" __global__ void k(float* x) { x[0] = y; }', np.float32, "broken.cu"
        )


@needs_compiler
def test_emulator_stops_a_read_outside_an_array():
    module = emulate.EmulatedModule(BOUNDS, np.float32, "bounds.cu")
    x, out = np.arange(100, dtype=np.float32).reshape(10, 10), np.zeros(100, np.float32)
    with pytest.raises(emulate.OutOfBounds) as caught:
        module.get_function("read_first")((4,), (32,), (x, out, np.int32(100)))
    assert str(caught.value) == (
        "kernel read_first: thread 4 of block 3 read x[100], but x has 100 elements (shape (10, 10))"
    )
    assert (caught.value.array, caught.value.index, caught.value.block, caught.value.thread) == (
        "x",
        100,
        (3, 0, 0),
        (4, 0, 0),
    )
    module.get_function("read_first")((4,), (25,), (x, out, np.int32(100)))  # no thread past the end
    np.testing.assert_array_equal(out, 2 * x.ravel())
    shifted = module.get_function("shifted")
    with pytest.raises(emulate.OutOfBounds, match=r"thread 0 of block 0 read x\[-1\]"):
        shifted((1,), (8,), (x, out, np.int32(8), np.int32(-1)))
    with pytest.raises(emulate.OutOfBounds, match=r"thread 31 of block 2 read x\[100\]"):
        shifted((4,), (32,), (x, out, np.int32(96), np.int32(5)))  # (x + 5)[95] is x[100]
    shifted((4,), (32,), (x, out, np.int32(95), np.int32(5)))
    np.testing.assert_array_equal(out[:95], 2 * x.ravel()[5:])


@needs_compiler
def test_emulator_checked_parameters_keep_the_line_numbers_of_errors():
    source = 'extern "C" __global__ void k(const float* x,\n    float* out\n) {\n    out[0] = y;\n}\n'
    with pytest.raises(RuntimeError, match=r"lines\.cu:4:\d+: error"):
        emulate.EmulatedModule(source, np.float32, "lines.cu")


@needs_compiler
def test_emulator_stops_a_write_outside_an_array_before_it_lands():
    kernel = emulate.EmulatedModule(BOUNDS, np.float32, "bounds.cu").get_function("write_all")
    buffer = np.zeros(40, np.float32)
    with pytest.raises(
        emulate.OutOfBounds, match=r"thread 0 of block 1 read or wrote out\[32\], but out has 32"
    ):
        kernel((2,), (32,), (buffer[:32], np.int32(32)))
    np.testing.assert_array_equal(buffer[32:], 0)  # the write past the view went nowhere


@needs_compiler
def test_emulator_says_which_thread_touched_each_element():
    kernel = emulate.EmulatedModule(BOUNDS, np.float32, "bounds.cu").get_function("stride")
    out = np.zeros(100, np.float32)
    owners = kernel.owners((2,), (16,), (out, np.int32(100), np.int32(32)))  # a grid-stride loop
    np.testing.assert_array_equal(owners["out"], np.arange(100) % 32)
    out[:] = 0
    owners = kernel.owners((2,), (16,), (out, np.int32(100), np.int32(16)))  # steps by blockDim.x
    np.testing.assert_array_equal(owners["out"][:16], np.arange(16))  # block 0's first elements
    assert np.all(owners["out"][16:] == -2)  # the rest: block 0 and block 1 both
    np.testing.assert_array_equal(out, np.r_[np.ones(16), 2 * np.ones(84)])  # and twice the work
    assert kernel.owners((1,), (4,), (out, np.int32(2), np.int32(4)))["out"].tolist() == [0, 1] + [-1] * 98


def test_emulator_reads_kernels_with_launch_bounds():
    source = (
        'extern "C" __global__ void __launch_bounds__(128) k(float* x, int n) {\n    __syncthreads();\n}\n'
    )
    ((params, threaded),) = emulate.kernel_signatures(source).values()
    assert [p.name for p in params] == ["x", "n"] and threaded
