"""Compiling and launching: precision options, grids, contiguity, and in-place checks."""

import numpy as np
import pytest

from minidl.kernels import emulate
from minidl.kernels.gpu import launch as K

pytestmark = pytest.mark.skipif(
    emulate.compiler() is None, reason="the CUDA emulator needs a C++ compiler (g++)"
)


def test_the_kernels_compile_for_float32_and_float64_only():
    assert K.compile_options(np.float32)[-1].endswith("float") and K.compile_options(np.float64)[-1].endswith(
        "double"
    )
    with pytest.raises(TypeError, match="float32 or float64, got int32"):
        K.compile_options(np.dtype(np.int32))


def test_the_grid_covers_every_item():
    assert K.blocks_for(1) == (1,)
    assert K.blocks_for(K.THREADS) == (1,) and K.blocks_for(K.THREADS + 1) == (2,)
    assert K.blocks_for(10, 4) == (3,)


def test_contiguous_copies_only_what_needs_it_and_the_sources_are_listed():
    a = np.zeros((3, 4))
    xp, same = K.contiguous(a)
    assert xp is np and same is a
    _, copied = K.contiguous(a.T)
    assert copied.flags.c_contiguous and np.array_equal(copied, a.T)
    assert "dropout.cu" in {p.rsplit("/", 1)[-1] for p in K.cuda_sources()}
