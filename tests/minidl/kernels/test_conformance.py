"""Every kernel tier equals the NumPy reference, case for case: one table, every tier present.

The table (kernels, cases, tolerances) is ``tests/minidl/kernels/kernel_cases.py``. The tiers:

* ``numba``    -- ``minidl/kernels/cpu/``;
* ``emulator`` -- ``minidl/kernels/gpu/`` given NumPy arrays: the same launchers and the
  same ``kernels/cuda/*.cu`` sources a GPU runs, executed on the CPU by
  ``minidl.kernels.emulate`` (skipped only where there is no C++ compiler);
* ``cuda``     -- ``minidl/kernels/gpu/`` given CuPy arrays on a CUDA device (marked ``gpu``;
  skipped, with the reason in one line, where there is no usable device).

Before the tiers are compared with the reference, the reference itself is checked against
definitions (ties in max pooling, im2col by loops, col2im as im2col's adjoint). And the
``NUMBA_DISABLE_JIT=1`` debugging path (the Numba kernels as plain Python) runs the whole
table in a subprocess.

On a GPU machine, with nothing installed (see the Makefile's ``test-gpu``)::

    PYTHONPATH=. python -m pytest -o addopts="" -v -rs tests/minidl/kernels/test_conformance.py tests/minidl/kernels/gpu/test_device.py tests/minidl/kernels/test_cuda_sources.py tests/bench/test_gpu.py
"""

import inspect
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from minidl import backend
from minidl.kernels import cpu, gpu, reference
from tests.minidl.kernels import kernel_cases as kc
from tests.minidl.kernels.tiers import EMULATOR, GPU_STATUS, gpu_tier

TIERS = ["numba", EMULATOR, gpu_tier("cuda")]
MODULES = {"numba": cpu, "emulator": gpu, "cuda": gpu}


def _how(tier):
    """How ``compare`` names ``tier``, moves arrays to it and back, and recognises its arrays."""
    if tier != "cuda":
        return dict(label=f"{tier} ({MODULES[tier].__name__})")
    import cupy

    return dict(
        label=f"cuda ({GPU_STATUS})",
        place=lambda a: backend.to_device(a, "gpu"),
        to_numpy=backend.to_numpy,
        is_array=lambda a: isinstance(a, cupy.ndarray),
    )


def _public_functions(package):
    """The public functions defined in ``package``'s family modules (``reference/conv.py``, ...)."""
    return sorted(
        name
        for name, fn in inspect.getmembers(package, inspect.isfunction)
        if not name.startswith("_") and fn.__module__.startswith(package.__name__ + ".")
    )


REFERENCE_KERNELS = _public_functions(reference)


# =========================================================================== the table is complete
def test_kernels_are_discovered():
    """The discovery itself works (a broken filter would make every other test vacuous)."""
    assert {"im2col", "max_pool_forward", "batchnorm_backward", "adam_update", "lstm_cell_backward"} <= set(
        REFERENCE_KERNELS
    )


def test_every_reference_kernel_has_an_entry():
    missing = sorted(set(REFERENCE_KERNELS) - set(kc.TABLE))
    extra = sorted(set(kc.TABLE) - set(REFERENCE_KERNELS))
    assert not missing, (
        f"reference kernels without an entry in tests/minidl/kernels/kernel_cases.py TABLE: {missing}"
    )
    assert not extra, f"TABLE entries that are not public functions of reference/: {extra}"


@pytest.mark.parametrize("module", [cpu, gpu], ids=["numba", "cuda"])
@pytest.mark.parametrize("name", REFERENCE_KERNELS)
def test_every_tier_has_a_twin_with_the_reference_signature(module, name):
    twin = getattr(module, name, None)
    assert callable(twin), f"{module.__name__} has no twin of reference.{name}"
    ours = list(inspect.signature(twin).parameters)
    theirs = list(inspect.signature(getattr(reference, name)).parameters)
    assert ours == theirs, f"{module.__name__}.{name}{ours} != reference.{name}{theirs}"


# =========================================================================== the reference is right
def test_max_pool_ties_go_to_the_first_maximum():
    """A constant window: position 0 wins, and the whole gradient goes there."""
    x = np.ones((1, 1, 4, 4), np.float32)
    y, argmax = reference.max_pool_forward(x, 2, 2, 2, 2)
    assert (argmax == 0).all()
    dx = reference.max_pool_backward(np.ones_like(y), argmax, x.shape, 2, 2, 2, 2)
    np.testing.assert_array_equal(dx[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])


def test_im2col_matches_the_definition():
    """cols[(c, i, j), (n, oh, ow)] = x_padded[n, c, sh*oh + i, sw*ow + j], checked by loops."""
    rng = np.random.default_rng(0)
    N, C, H, W, kh, kw, sh, sw, ph, pw = 2, 2, 5, 4, 3, 2, 2, 1, 1, 1
    x = rng.standard_normal((N, C, H, W))
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    OH, OW = kc.output_size(H, kh, sh, ph), kc.output_size(W, kw, sw, pw)
    cols = reference.im2col(x, kh, kw, sh, sw, ph, pw)
    assert cols.shape == (C * kh * kw, N * OH * OW)
    for c in range(C):
        for i in range(kh):
            for j in range(kw):
                for n in range(N):
                    for oh in range(OH):
                        for ow in range(OW):
                            assert (
                                cols[(c * kh + i) * kw + j, (n * OH + oh) * OW + ow]
                                == padded[n, c, sh * oh + i, sw * ow + j]
                            )


@pytest.mark.parametrize("geometry", kc.CONV_GEOMETRIES)
def test_col2im_is_the_adjoint_of_im2col(geometry):
    """<im2col(x), c> == <x, col2im(c)> for every x, c: col2im is im2col's transpose."""
    N, C, H, W, kh, kw, sh, sw, ph, pw = geometry
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, C, H, W))
    cols = reference.im2col(x, kh, kw, sh, sw, ph, pw)
    c = rng.standard_normal(cols.shape)
    assert np.isclose(np.sum(cols * c), np.sum(x * reference.col2im(c, x.shape, kh, kw, sh, sw, ph, pw)))


def test_reference_cells_allow_the_documented_aliasing():
    """lstm: dc_prev may be dc_next; gru: dh_prev may be dh (the layers rely on it). The table's
    aliased cases then hold every other tier to the same."""
    rng = np.random.default_rng(1)
    N, H = 3, 6
    gates = rng.uniform(0.05, 0.95, (N, 4 * H))
    c_prev, c, dh, dc = (rng.standard_normal((N, H)) for _ in range(4))
    da_sep, dc_sep = reference.lstm_cell_backward(
        dh, dc, gates, c_prev, c, np.empty((N, 4 * H)), np.empty_like(dc)
    )
    dc_in_place = dc.copy()
    da_in, dc_out = reference.lstm_cell_backward(
        dh, dc_in_place, gates, c_prev, c, np.empty((N, 4 * H)), dc_in_place
    )
    assert dc_out is dc_in_place
    np.testing.assert_array_equal(da_in, da_sep)
    np.testing.assert_array_equal(dc_in_place, dc_sep)

    g3, hn = gates[:, : 3 * H].copy(), c.copy()
    *_, dh_sep = reference.gru_cell_backward(
        dh, g3, hn, c_prev, np.empty((N, 3 * H)), np.empty((N, 3 * H)), np.empty_like(dh)
    )
    dh_in_place = dh.copy()
    reference.gru_cell_backward(
        dh_in_place, g3, hn, c_prev, np.empty((N, 3 * H)), np.empty((N, 3 * H)), dh_in_place
    )
    np.testing.assert_array_equal(dh_in_place, dh_sep)


# =========================================================================== every tier == reference
@pytest.mark.parametrize("dtype", kc.DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(kc.TABLE))
@pytest.mark.parametrize("tier", TIERS)
def test_tier_equals_reference(tier, name, dtype):
    assert kc.check_kernel(MODULES[tier], name, dtype, **_how(tier)) > 0


@pytest.mark.parametrize("tier", TIERS)
def test_cell_outputs_may_be_time_slices_of_a_larger_buffer(tier):
    """A layer may hand a cell kernel ``h_all[:, t]`` (not contiguous): it must be written
    where it lies, and nothing else of the buffer touched."""
    how = _how(tier)
    place, to_numpy = how.get("place", np.asarray), how.get("to_numpy", np.asarray)
    rng = np.random.default_rng(5)
    n, steps, hidden = 3, 4, 5
    xw, hw = rng.standard_normal((n, 4 * hidden)), rng.standard_normal((n, 4 * hidden))
    b, c_prev = rng.standard_normal(4 * hidden), rng.standard_normal((n, hidden))
    expected = reference.lstm_cell_forward(
        xw, hw, b, c_prev, np.empty((n, 4 * hidden)), np.empty((n, hidden)), np.empty((n, hidden))
    )
    buffers = [place(np.zeros((n, steps, w))) for w in (4 * hidden, hidden, hidden)]
    MODULES[tier].lstm_cell_forward(*map(place, (xw, hw, b, c_prev)), *(buf[:, 2] for buf in buffers))
    for buffer, r in zip(map(to_numpy, buffers), expected):
        np.testing.assert_allclose(buffer[:, 2], r, **kc.TOLERANCE[np.float64])
        assert not buffer[:, [0, 1, 3]].any(), "the kernel wrote outside its time slice"


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("shape", [(1, 50, 32), (64, 1, 32), (64, 50, 32), (3, 4), (1, 1, 40)])
def test_swap_batch_time_returns_a_new_c_contiguous_array(tier, shape):
    """The layers cache what it returns and hand it out as their output: never a view of the input,
    even where the swap of a (1, T, D) array would be C-contiguous without a copy; its own inverse."""
    how = _how(tier)
    place, to_numpy = how.get("place", np.asarray), how.get("to_numpy", np.asarray)
    x0 = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    x = place(x0.copy())
    y = MODULES[tier].swap_batch_time(x)
    assert y.shape == (shape[1], shape[0]) + shape[2:] and y.flags.c_contiguous
    x[...] = 0  # the input written after the swap: the output keeps its values
    np.testing.assert_array_equal(to_numpy(y), np.swapaxes(x0, 0, 1))
    np.testing.assert_array_equal(to_numpy(MODULES[tier].swap_batch_time(y)), x0)


# =========================================================================== the table can fail
@pytest.mark.parametrize(
    "name, wrong",
    [
        ("max_pool_forward", lambda out: out[1].__setitem__((0, 0, 0, 0), out[1][0, 0, 0, 0] + 1)),
        ("batchnorm_backward", lambda out: out[0].__imul__(1 + 1e-3)),
        ("sgd_update", None),
    ],
)
def test_a_wrong_kernel_fails_the_table(name, wrong, monkeypatch):
    """A twin off by one argmax, by 1e-3 relative, or that forgets an in-place update, is caught."""

    def broken(*args):
        if wrong is None:  # in-place kernel: leave the arguments untouched
            return None
        out = getattr(reference, name)(*args)
        wrong(out)
        return out

    tier = types.SimpleNamespace(**{name: broken})
    with pytest.raises(AssertionError, match="differs from the reference"):
        kc.check_kernel(tier, name, np.float32, label="broken")


@pytest.mark.parametrize(
    "argmax_as, message",
    [
        (lambda a: a.astype(np.uint8), None),  # the same offsets in bytes: accepted
        (lambda a: a.astype(np.float32), "dtype float32, reference int64"),
        (lambda a: a.astype(np.int16) + 256, "differs"),  # offsets moved by 256 (a byte would wrap)
    ],
)
def test_the_argmax_may_be_any_integer_type_with_the_same_values(argmax_as, message):
    """Max-pool's argmax (``any_integer``): the Numba tier keeps it in bytes; floats, or other values
    in an integer type, still fail."""

    def forward(*args):
        y, argmax = reference.max_pool_forward(*args)
        return y, argmax_as(argmax)

    tier = types.SimpleNamespace(max_pool_forward=forward)
    if message is None:
        assert kc.check_kernel(tier, "max_pool_forward", np.float32, label="bytes") > 0
    else:
        with pytest.raises(AssertionError, match=message):
            kc.check_kernel(tier, "max_pool_forward", np.float32, label="broken")


# =========================================================================== NUMBA_DISABLE_JIT=1
DISABLE_JIT_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
import numba
from tests.minidl.kernels import kernel_cases as kc
from minidl.kernels import cpu
assert numba.config.DISABLE_JIT, "NUMBA_DISABLE_JIT=1 was not seen by numba"
assert not hasattr(cpu.conv._im2col, "py_func"), "cpu.conv._im2col is still a compiled dispatcher"
count = sum(kc.check_kernel(cpu, name, dtype) for name in kc.TABLE for dtype in kc.DTYPES)
print(count, "cases")
"""


@pytest.mark.slow
def test_numba_kernels_as_plain_python_equal_the_reference():
    """``NUMBA_DISABLE_JIT=1`` (the debugging path the docs promise) turns every Numba kernel
    into plain Python; the whole table (a few seconds as plain Python) must still pass."""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    script = DISABLE_JIT_SCRIPT.format(root=str(Path(__file__).resolve().parents[3]))
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"NUMBA_DISABLE_JIT=1 run failed:\n{result.stdout}\n{result.stderr}"
    expected = sum(len(kernel.make_cases(dtype)) for kernel in kc.TABLE.values() for dtype in kc.DTYPES)
    assert result.stdout.strip() == f"{expected} cases", result.stdout
