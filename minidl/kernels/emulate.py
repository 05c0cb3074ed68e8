"""Run the CUDA kernels of ``kernels/cuda/*.cu`` on the CPU, so GPU code is tested without a GPU.

A CUDA kernel is a C++ function that every thread of a grid runs once, telling itself
apart by the built-in variables ``blockIdx``, ``blockDim``, ``threadIdx`` and ``gridDim``.
Nothing else about it needs a GPU. So the emulator

1. puts a short *prelude* (``emulate_prelude.h``) in front of the ``.cu`` source that defines those
   built-ins as ordinary C++ variables (``threadIdx`` is set for each thread as it runs or
   resumes), erases ``__global__`` / ``__device__``, turns ``__shared__`` into
   ``static`` (one copy, shared by the threads of the block being run) and provides
   ``atomicAdd`` and ``__syncthreads``;
2. declares each kernel's pointer parameters as ``emu_array`` (below) and appends, for every
   ``extern "C" __global__`` kernel, a launcher ``emu_launch_<name>`` that loops over the
   grid and, inside each block, over its threads;
3. compiles the result with the system C++ compiler (``g++``, C++20) into a shared
   library, cached on disk by a hash of its text, and loads it with ``ctypes``.

Blocks always run one after another. The threads of a block run one after another too,
unless the kernel calls ``__syncthreads()``: then each thread of the block becomes a
*fiber* (a ``ucontext`` with its own stack of 256 KiB, switched to and from on the one OS
thread of the launch) and ``__syncthreads()`` hands control back to the block's scheduler. The
scheduler resumes every live thread in turn, each running until its next barrier, so
every phase between two barriers finishes in all threads before the next starts, exactly
as on the device; a thread that returns early simply is not resumed again. Fibers rather
than OS threads meeting at a ``std::barrier``: no thread is created, and a barrier is one
context switch per thread instead of waking a block's 256 threads on a machine's few cores
(measured: docs/performance.md).

Every array reaches the kernel as an ``emu_array`` of the prelude: its pointer with the
array's size, so that ``x[i]`` (``*(x + i)``, ``x += k`` ...) checks that the element exists.
The first read or write outside an array is not made; the launch stops after that block and
the call raises :class:`OutOfBounds`, naming the kernel, the thread, the array, the index and
the array's shape -- the kernel that reads ``x[i]`` before its ``i < n`` test is caught, as
the one that writes past its output. (A pointer the kernel copies into a plain ``float*``, to
hand it to a device function, is no longer checked.) ``kernel.owners(grid, block, args)``
launches and says which thread touched each element of each array: one thread for each, in
a grid-stride loop.

Names beginning with ``emu_`` are the emulator's own: kernels must not use them.

The Python side imitates CuPy's ``RawModule`` / ``RawKernel``::

    module = emulate.load_module("softmax_cross_entropy.cu", np.float32)
    kernel = module.get_function("softmax_cross_entropy_forward")
    kernel((blocks,), (threads,), (logits, labels, losses, probs, np.int32(n), np.int32(k)))

with NumPy arrays in place of CuPy arrays. It is *stricter* than CuPy, on purpose: every
array must be C-contiguous with the element type the kernel signature names, and every
scalar must be a NumPy scalar of exactly the C type of its parameter (CuPy would pass a
Python ``float`` as a ``double`` to a ``float`` parameter without complaint, and the
kernel would read garbage). Launch mistakes in ``gpu/`` therefore fail here, on a
machine without a GPU, with a message naming the kernel and the argument.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .common import C_REAL_TYPES

__all__ = ["CUDA_DIR", "compiler", "load_module", "kernel_signatures", "EmulatedModule", "EmulatedKernel"]
__all__ += ["OutOfBounds"]

CUDA_DIR = Path(__file__).resolve().parent / "cuda"

# CUDA's built-ins as plain C++, put in front of every source: a file of its own, to read as C++
PRELUDE = (Path(__file__).resolve().parent / "emulate_prelude.h").read_text()

LAUNCHER = r"""
extern "C" void emu_launch_{name}(unsigned int emu_gx, unsigned int emu_gy, unsigned int emu_gz,
                                  unsigned int emu_bx, unsigned int emu_by, unsigned int emu_bz,
                                  long long* emu_fault_record{params}) {{
    gridDim = dim3{{emu_gx, emu_gy, emu_gz}};
    blockDim = dim3{{emu_bx, emu_by, emu_bz}};
    emu_fault = emu_fault_record;
    for (unsigned int emu_z = 0; emu_z < emu_gz; ++emu_z)
    for (unsigned int emu_y = 0; emu_y < emu_gy; ++emu_y)
    for (unsigned int emu_x = 0; emu_x < emu_gx; ++emu_x) {{
        blockIdx = dim3{{emu_x, emu_y, emu_z}};
        if ({threaded})
            emu_run_fibers(emu_bx * emu_by * emu_bz, [&] {{ {name}({args}); }});
        else
            for (unsigned int emu_tz = 0; emu_tz < emu_bz; ++emu_tz)
            for (unsigned int emu_ty = 0; emu_ty < emu_by; ++emu_ty)
            for (unsigned int emu_tx = 0; emu_tx < emu_bx; ++emu_tx) {{
                threadIdx = dim3{{emu_tx, emu_ty, emu_tz}};
                {name}({args});
            }}
        if (emu_fault[0] >= 0) return;  // an access outside an array: the launch stops here
    }}
}}
"""

# C type of a kernel parameter -> (ctypes type, NumPy dtype); "real_t" follows the module's dtype.
_C_TYPES = MappingProxyType(
    {
        "float": (ctypes.c_float, np.float32),
        "double": (ctypes.c_double, np.float64),
        "int": (ctypes.c_int, np.int32),
        "int32_t": (ctypes.c_int32, np.int32),
        "unsigned int": (ctypes.c_uint, np.uint32),
        "unsigned": (ctypes.c_uint, np.uint32),
        "uint32_t": (ctypes.c_uint32, np.uint32),
        "long long": (ctypes.c_longlong, np.int64),
        "int64_t": (ctypes.c_int64, np.int64),
        "size_t": (ctypes.c_size_t, np.uint64),
        "unsigned char": (ctypes.c_ubyte, np.uint8),
    }
)

# ``__launch_bounds__(...)`` may stand between ``void`` and a kernel's name, as CUDA allows.
_BOUNDS = r"(?:__launch_bounds__\s*\([^)]*\)\s*)?"
_KERNEL_RE = re.compile(r'extern\s+"C"\s+__global__\s+void\s+' + _BOUNDS + r"(\w+)\s*\(([^)]*)\)\s*\{")
_FUNCTION_RE = re.compile(r"(?:__device__|__global__)[^;{}()]*?" + _BOUNDS + r"\b(\w+)\s*\([^)]*\)\s*\{")


@dataclass(frozen=True)
class Param:
    """One kernel parameter: ``name``, its C base type (``"real_t"``, ``"int"``...), pointer or
    not, and ``const``: for a pointer, whether what it points to is (the kernel only reads it)."""

    name: str
    c_type: str
    pointer: bool
    const: bool


def _parse_param(text: str, kernel: str) -> Param:
    words = text.replace("*", " * ").split()
    pointer = "*" in words
    const = "const" in (words[: words.index("*")] if pointer else words)
    words = [w for w in words if w not in ("*", "const", "__restrict__")]
    name, c_type = words[-1], " ".join(words[:-1])
    if c_type != "real_t" and c_type not in _C_TYPES:
        raise ValueError(
            f"kernel {kernel}: the emulator does not know the parameter type "
            f"{c_type!r} of {name!r}; expected real_t or one of {sorted(_C_TYPES)}"
        )
    return Param(name, c_type, pointer, const)


def _function_bodies(source: str) -> dict[str, str]:
    """``{name: body}`` of every ``__device__`` and ``__global__`` function (braces matched)."""
    bodies = {}
    for match in _FUNCTION_RE.finditer(source):
        depth, end = 1, match.end()
        while depth and end < len(source):
            depth += {"{": 1, "}": -1}.get(source[end], 0)
            end += 1
        bodies[match.group(1)] = source[match.end() : end]
    return bodies


def _uses_barrier(name: str, bodies: dict[str, str], seen=frozenset()) -> bool:
    """Whether function ``name`` calls ``__syncthreads``, itself or through a device function."""
    body = bodies[name]
    if "__syncthreads" in body:
        return True
    return any(
        re.search(rf"\b{callee}\s*\(", body) and _uses_barrier(callee, bodies, seen | {name})
        for callee in bodies
        if callee not in seen and callee != name
    )


def kernel_signatures(source: str) -> dict[str, tuple[list[Param], bool]]:
    """``{kernel name: (parameters, uses __syncthreads)}`` for every ``extern "C" __global__`` kernel."""
    bodies = _function_bodies(source)
    kernels = {}
    for match in _KERNEL_RE.finditer(source):
        name, param_text = match.group(1), match.group(2)
        params = [_parse_param(p, name) for p in param_text.split(",") if p.strip()]
        kernels[name] = (params, _uses_barrier(name, bodies))
    return kernels


def _element(param: Param) -> str:
    return f"{'const ' if param.const else ''}{param.c_type}"


def _checked(source: str) -> str:
    """``source`` with every kernel's pointer parameters declared as ``emu_array`` (the
    prelude's array that checks its indices), on the same lines: ``const float* x`` becomes
    ``emu_array<const float> x``. The rest of the source is unchanged."""

    def declare(match: re.Match) -> str:
        pieces = match.group(2).split(",")
        for i, piece in enumerate(pieces):
            if piece.strip():
                param = _parse_param(piece, match.group(1))
                if param.pointer:  # the white space around it kept: line numbers do not move
                    before, after = piece[: len(piece) - len(piece.lstrip())], piece[len(piece.rstrip()) :]
                    pieces[i] = f"{before}emu_array<{_element(param)}> {param.name}{after}"
        start, end = match.span(2)
        return (
            match.group(0)[: start - match.start()] + ",".join(pieces) + match.group(0)[end - match.start() :]
        )

    return _KERNEL_RE.sub(declare, source)


def _launcher(name: str, params: list[Param], threaded: bool) -> str:
    """``emu_launch_<name>``: takes each array as its pointer, its size and its owner table
    (or null) and hands it to the kernel as an ``emu_array``."""
    declared = "".join(
        f", {_element(p)}* {p.name}, long long emu_size_{p.name}, long long* emu_owner_{p.name}"
        if p.pointer
        else f", {p.c_type} {p.name}"
        for p in params
    )
    args = ", ".join(
        f"emu_array<{_element(p)}>{{{p.name}, emu_size_{p.name}, 0, {i}, emu_owner_{p.name}}}"
        if p.pointer
        else p.name
        for i, p in enumerate(params)
    )
    return LAUNCHER.format(name=name, params=declared, threaded=int(threaded), args=args)


# --------------------------------------------------------------------------- compiling
def compiler() -> str | None:
    """The C++ compiler the emulator uses (``$CXX``, else ``g++``, else ``c++``), or None."""
    for candidate in (os.environ.get("CXX"), "g++", "c++"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


def _cache_dir() -> Path:
    root = os.environ.get("MINIDL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "minidl"
    )
    path = Path(root) / "cuda-emulator"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:  # read-only home (some CI sandboxes): fall back to the temp dir
        path = Path(tempfile.gettempdir()) / f"minidl-cuda-emulator-{os.getuid()}"
        path.mkdir(parents=True, exist_ok=True)
    return path


def _build(text: str, flags: list[str]) -> Path:
    """Compile ``text`` into a shared library (or reuse the cached one) and return its path."""
    cxx = compiler()
    if cxx is None:
        raise RuntimeError("the CUDA emulator needs a C++ compiler (g++); none was found on PATH")
    # -fstack-clash-protection: a frame larger than a page touches its pages one by one, so a
    # fiber whose locals overflow its stack reaches the guard page below it, not the next stack
    command = [cxx, "-std=c++20", "-O1", "-shared", "-fPIC", "-fstack-clash-protection", *flags]
    key = hashlib.sha256("\0".join([*command, text]).encode()).hexdigest()[:24]
    library = _cache_dir() / f"kernels-{key}.so"
    if library.exists():
        return library
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "emulated.cpp"
        source.write_text(text)
        built = Path(work) / "emulated.so"
        result = subprocess.run([*command, str(source), "-o", str(built)], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(
                f"the emulator could not compile the CUDA source ({' '.join(command)}):\n{result.stderr}"
            )
        partial = library.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(built, partial)
        os.replace(partial, library)  # atomic: parallel test workers never load half a file
    return library


# --------------------------------------------------------------------------- calling
class EmulatedKernel:
    """One kernel of an :class:`EmulatedModule`, called like ``cupy.RawKernel``:
    ``kernel(grid, block, args)``, with NumPy arrays and NumPy scalars in ``args``."""

    def __init__(self, module: EmulatedModule, name: str, params: list[Param], threaded: bool):
        self.module, self.name, self.params, self.threaded = module, name, params, threaded
        self._function = getattr(module.library, f"emu_launch_{name}")
        self._function.restype = None
        arguments: list = [ctypes.c_uint] * 6 + [ctypes.c_void_p]  # the grid, the block, the fault record
        for p in params:
            arguments += (
                [ctypes.c_void_p, ctypes.c_longlong, ctypes.c_void_p] if p.pointer else [self._c_type(p)[0]]
            )
        self._function.argtypes = arguments

    def _c_type(self, param: Param):
        if param.c_type == "real_t":
            return _C_TYPES[C_REAL_TYPES[self.module.dtype]]
        return _C_TYPES[param.c_type]

    def _convert(self, param: Param, value):
        where = f"kernel {self.name}, argument {param.name!r}"
        _, dtype = self._c_type(param)
        if param.pointer:
            if not isinstance(value, np.ndarray):
                raise TypeError(
                    f"{where}: expected a NumPy array of {np.dtype(dtype)}, got {type(value).__name__}"
                )
            if value.dtype != dtype:
                raise TypeError(f"{where}: expected an array of {np.dtype(dtype)}, got {value.dtype}")
            if not value.flags.c_contiguous:
                raise ValueError(f"{where}: the array must be C-contiguous")
            if not param.const and not value.flags.writeable:
                raise ValueError(f"{where}: the kernel writes this array, but it is read-only")
            return value.ctypes.data
        if not isinstance(value, np.generic) or value.dtype != dtype:
            raise TypeError(
                f"{where}: expected a NumPy {np.dtype(dtype)} scalar (a CUDA {param.c_type} with dtype "
                f"{self.module.dtype}), got {type(value).__name__} {value!r}; CuPy would pass it as "
                "the wrong C type"
            )
        return value.item()

    def __call__(self, grid, block, args):
        """Launch ``grid`` blocks of ``block`` threads on ``args``; raises :class:`OutOfBounds`
        at the first access outside an array."""
        self._launch(grid, block, args, owned=False)

    def owners(self, grid, block, args) -> dict[str, np.ndarray]:
        """Launch as a call does, and say which thread touched (read or wrote) each element of
        each array: ``{parameter: owner}``, ``owner[e]`` = -1 if no thread did, the linear
        index of the one thread that did (``block * threads per block + thread``), or -2 if
        several did. A grid-stride loop gives every element one owner."""
        return self._launch(grid, block, args, owned=True)

    def _launch(self, grid, block, args, owned: bool) -> dict[str, np.ndarray]:
        grid, block = _dim3(grid, "grid"), _dim3(block, "block")
        if len(args) != len(self.params):
            raise TypeError(
                f"kernel {self.name} takes {len(self.params)} arguments "
                f"({', '.join(p.name for p in self.params)}), got {len(args)}"
            )
        if self.threaded and block[0] * block[1] * block[2] > 1024:
            raise ValueError(f"kernel {self.name}: a block has at most 1024 threads, got {block}")
        owners = {
            p.name: np.full(a.size, -1, np.int64) for p, a in zip(self.params, args) if p.pointer and owned
        }
        converted = []
        for p, a in zip(self.params, args):
            value = self._convert(p, a)
            converted += (
                [value, a.size, owners[p.name].ctypes.data if owned else None] if p.pointer else [value]
            )
        fault = np.full(8, -1, np.int64)  # the prelude's emu_fault
        self._function(*grid, *block, fault.ctypes.data, *converted)
        if fault[0] >= 0:
            param = self.params[fault[0]]
            raise _out_of_bounds(self.name, param, args[fault[0]], int(fault[1]), fault[2:5], fault[5:])
        return owners


class OutOfBounds(IndexError):
    """A thread of a kernel read or wrote outside an array (the first such access of a launch)."""

    kernel: str  # the kernel's name
    array: str  # the parameter's name
    index: int  # from the array's first element
    shape: tuple  # the NumPy array's
    block: tuple  # blockIdx (x, y, z) of the thread
    thread: tuple  # its threadIdx


def _out_of_bounds(kernel: str, param: Param, array: np.ndarray, index: int, block, thread) -> OutOfBounds:
    def where(dims) -> str:
        x, y, z = (int(d) for d in dims)
        return str(x) if y == z == 0 else f"({x}, {y}, {z})"

    verb = "read" if param.const else "read or wrote"
    error = OutOfBounds(
        f"kernel {kernel}: thread {where(thread)} of block {where(block)} {verb} "
        f"{param.name}[{index}], but {param.name} has {array.size} elements (shape {array.shape})"
    )
    error.kernel, error.array, error.index, error.shape = kernel, param.name, index, array.shape
    error.block, error.thread = tuple(int(d) for d in block), tuple(int(d) for d in thread)
    return error


def _dim3(value, what: str) -> tuple[int, int, int]:
    dims = tuple(int(v) for v in (value if isinstance(value, tuple) else (value,)))
    if not 1 <= len(dims) <= 3 or min(dims) < 1:
        raise ValueError(f"{what} must be 1 to 3 positive sizes, got {value!r}")
    x, y, z = dims + (1,) * (3 - len(dims))
    return x, y, z


class EmulatedModule:
    """The kernels of one ``.cu`` source compiled for the CPU, like ``cupy.RawModule``."""

    def __init__(self, source: str, dtype, name: str = "<source>", inspect=None):
        """``inspect(path)``, if given, reads the compiled library before it is loaded (and
        may refuse it by raising): the grader's check of what a submitted kernel imports."""
        self.name, self.dtype = name, np.dtype(dtype)
        if self.dtype not in C_REAL_TYPES:
            raise TypeError(f"CUDA kernels run in float32 or float64, got {self.dtype}")
        self.signatures = kernel_signatures(source)
        launchers = "".join(_launcher(n, p, t) for n, (p, t) in self.signatures.items())
        text = f'{PRELUDE}\n#line 1 "{name}"\n{_checked(source)}\n#line 1 "<emulator launchers>"\n{launchers}'
        library = _build(text, [f"-DREAL_T={C_REAL_TYPES[self.dtype]}"])
        if inspect is not None:
            inspect(library)
        self.library = ctypes.CDLL(str(library))
        self._kernels: dict[str, EmulatedKernel] = {}

    def get_function(self, name: str) -> EmulatedKernel:
        if name not in self.signatures:
            raise KeyError(f"{self.name} has no kernel {name!r}; it has {sorted(self.signatures)}")
        if name not in self._kernels:
            params, threaded = self.signatures[name]
            self._kernels[name] = EmulatedKernel(self, name, params, threaded)
        return self._kernels[name]


@functools.cache
def load_module(filename: str, dtype) -> EmulatedModule:
    """The emulated module of ``kernels/cuda/<filename>`` for ``dtype``, built once per process."""
    return EmulatedModule((CUDA_DIR / filename).read_text(), np.dtype(dtype), filename)
