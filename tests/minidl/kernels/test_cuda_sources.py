"""The CUDA sources, checked on a machine without a GPU.

* NVRTC (CUDA's runtime compiler, which needs no device) compiles every ``kernels/cuda/*.cu``
  for float32 and float64, to machine code for two current architectures, without a warning.
* The launchers' own checks (arrays they cannot write through, batch-norm chunks of any size).

The emulator (``minidl.kernels.emulate``) is tested in tests/minidl/kernels/test_emulate.py.

That each launcher of ``minidl.kernels.gpu`` -- through the emulator, and on a device --
equals ``minidl.kernels.reference`` is the conformance table's job
(``tests/minidl/kernels/kernel_cases.py``, run by ``tests/minidl/kernels/test_conformance.py``).
"""

import struct

import numpy as np
import pytest

from minidl.kernels import emulate, gpu, reference

DTYPES = [np.float32, np.float64]

needs_compiler = pytest.mark.skipif(
    emulate.compiler() is None, reason="the CUDA emulator needs a C++ compiler (g++)"
)


# =========================================================================== the contract
def test_every_cuda_source_is_described_and_launched_by_its_family_module():
    """Each ``cuda/<file>.cu`` is named in the docstring of one launcher module of the CUDA tier
    (``gpu/<family>.py``), and every kernel in it is launched by name from that module."""
    import importlib
    import inspect

    from minidl.kernels import contract

    modules = [importlib.import_module(f"{gpu.__name__}.{family}") for family in contract.FAMILIES]
    assert gpu.cuda_sources()
    for filename in gpu.cuda_sources():
        owners = [m for m in modules if f"cuda/{filename}" in (m.__doc__ or "")]
        assert len(owners) == 1, (
            f"cuda/{filename} is described by {[m.__name__ for m in owners]}, not by one module"
        )
        source = inspect.getsource(owners[0])
        for kernel in emulate.kernel_signatures((gpu.CUDA_DIR / filename).read_text()):
            assert f'"{kernel}"' in source, (
                f"kernel {kernel} ({filename}) is not launched by {owners[0].__name__}"
            )


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
        pytest.skip(
            f"NVRTC unavailable ({type(err).__name__}: {str(err).splitlines()[0]}); "
            'pip install -e ".[gpu-dev]" (CuPy and NVRTC)'
        )
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


@pytest.mark.slow
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
    ok, log, _ = nvrtc_compile(
        'extern "C" __global__ void k(float* x) { x[0] = y; }', "broken.cu", ["--gpu-architecture=sm_75"]
    )
    assert not ok and 'identifier "y" is undefined' in log


# =========================================================================== launcher checks
@needs_compiler
def test_in_place_updates_refuse_arrays_they_cannot_write_through():
    param = np.ones((4, 4), np.float32)
    with pytest.raises(ValueError, match="velocity must have param's shape"):
        gpu.sgd_update(param, param, np.zeros((4, 4), np.float64), 0.1, 0.9, False, 0.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        gpu.sgd_update(param.T, param, np.zeros((4, 4), np.float32).T, 0.1, 0.9, False, 0.0)


@needs_compiler
@pytest.mark.parametrize("chunk, shape", [(1, (2, 2, 3)), (100, (3, 2, 150)), (7000, (3, 2, 150))])
def test_batchnorm_chunks_of_any_size_give_the_reference(chunk, shape, monkeypatch):
    """The GPU batch norm splits each channel into chunks of ``BATCHNORM_CHUNK`` values (a block
    each) and combines them: chunks of one value, chunks shorter than a block's 256 threads
    with a short last one, one chunk larger than the channel -- all equal the reference."""
    from tests.minidl.kernels import kernel_cases as kc

    monkeypatch.setattr(gpu.batchnorm, "BATCHNORM_CHUNK", chunk)
    rng = np.random.default_rng(chunk)
    x = rng.standard_normal(shape) * 2 + 3
    gamma, beta, dy = rng.standard_normal(shape[1]), rng.standard_normal(shape[1]), rng.standard_normal(shape)
    _, mean, var = reference.batchnorm_forward(x, gamma, beta, 1e-5)
    how = dict(label=f"emulator, chunk {chunk}")
    kc.compare(gpu, "batchnorm_forward", np.float64, (x, gamma, beta, 1e-5), **how)
    kc.compare(gpu, "batchnorm_backward", np.float64, (dy, x, gamma, mean, var, 1e-5), **how)


# =========================================================================== resources per block
def _elf_sections(cubin: bytes) -> dict:
    """``{name: (offset, size)}`` of the sections of an ELF64 file (a cubin)."""
    (shoff,) = struct.unpack_from("<Q", cubin, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", cubin, 0x3A)
    heads = [struct.unpack_from("<IIQQQQIIQQ", cubin, shoff + i * shentsize) for i in range(shnum)]
    names_at = heads[shstrndx][4]
    return {_c_string(cubin, names_at + h[0]): (h[4], h[5]) for h in heads}


def _c_string(data: bytes, start: int) -> str:
    return data[start : data.index(b"\0", start)].decode()


def register_counts(cubin: bytes) -> dict:
    """Registers per thread of each kernel, from the cubin's ``.nv.info`` attributes
    (EIATTR_REGCOUNT = 0x2f: symbol index, count), as ``cuobjdump --dump-resource-usage`` shows."""
    sections = _elf_sections(cubin)
    symtab, strtab = sections[".symtab"], sections[".strtab"]
    symbols = [
        _c_string(cubin, strtab[0] + struct.unpack_from("<I", cubin, symtab[0] + 24 * i)[0])
        for i in range(symtab[1] // 24)
    ]
    offset, size = sections[".nv.info"]
    info, at, counts = cubin[offset : offset + size], 0, {}
    while at < len(info):
        fmt, attribute = info[at], info[at + 1]
        if fmt == 0x04:  # EIFMT_SVAL: a 16-bit size, then that many bytes
            (length,) = struct.unpack_from("<H", info, at + 2)
            if attribute == 0x2F:
                index, count = struct.unpack_from("<II", info, at + 4)
                counts[symbols[index]] = count
            at += 4 + length
        else:  # the other formats take 4 bytes in all
            at += 4
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_sequence_kernels_fit_a_block_of_1024_threads(dtype, arch):
    """A block of 4 H = 1024 threads (an LSTM of 256 units) has 65536 registers to share: at
    most 64 a thread, or the launch fails on the device ("too many resources requested").
    ``__launch_bounds__`` makes the compiler fit; this checks the machine code it produced."""
    source = (gpu.CUDA_DIR / "recurrent.cu").read_text()
    options = [*gpu.compile_options(dtype), *CUPY_ADDS, f"--gpu-architecture={arch}"]
    ok, log, cubin = nvrtc_compile(source, "recurrent.cu", options)
    assert ok, log
    counts = register_counts(cubin)
    assert set(counts) == set(emulate.kernel_signatures(source)), counts
    assert gpu.SEQUENCE_MAX_HIDDEN * 4 == 1024
    for name in (
        "lstm_forward_sequence",
        "lstm_backward_sequence",
        "gru_forward_sequence",
        "gru_backward_sequence",
    ):
        assert 0 < counts[name] <= 64, f"{name}: {counts[name]} registers a thread ({arch}, {dtype.__name__})"
    assert all(count <= 255 for count in counts.values()), counts
