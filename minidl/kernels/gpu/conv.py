"""CUDA launchers of ``reference/conv.py``: im2col and col2im (``cuda/im2col.cu``), and a whole layer.

im2col is a gather (one thread per element of cols), col2im one thread per pixel gathering
the columns it went to (no atomics, deterministic sums); a layer is these two and cuBLAS
products (``common.conv2d_*_by_im2col``): a documented delegation. The Numba tier's blocked
route answers a CPU's small caches; no blocked CUDA kernel was written or measured, so this tier
keeps the one big product.
"""

from __future__ import annotations

from .. import common
from ..common import conv_output_length
from .launch import contiguous, int32s, launch


def _im2col_geometry(x_shape, kh, kw, sh, sw, ph, pw):
    """The ints ``im2col.cu``'s kernels take after their arrays (N, C, H, W, the window,
    strides, padding, OH, OW), and the shape of cols, (C*kh*kw, N*OH*OW)."""
    n, c, height, width = x_shape
    out_h, out_w = conv_output_length(height, kh, sh, ph), conv_output_length(width, kw, sw, pw)
    geometry = int32s(n, c, height, width, kh, kw, sh, sw, ph, pw, out_h, out_w)
    return geometry, (c * kh * kw, n * out_h * out_w)


def im2col(x, kh, kw, sh, sw, ph, pw):
    """Unfold the (kh, kw) windows of x (N, C, H, W) into cols (C*kh*kw, N*OH*OW); see ``reference.im2col``."""
    xp, x = contiguous(x)
    geometry, cols_shape = _im2col_geometry(x.shape, kh, kw, sh, sw, ph, pw)
    cols = xp.empty(cols_shape, dtype=x.dtype)
    launch("im2col.cu", "im2col", cols.size, (x, cols, *geometry))
    return cols


def col2im(cols, x_shape, kh, kw, sh, sw, ph, pw):
    """Add the columns back onto the pixels they came from: cols -> dx of shape x_shape (N, C, H, W)."""
    xp, cols = contiguous(cols)
    geometry, expected = _im2col_geometry(x_shape, kh, kw, sh, sw, ph, pw)
    if cols.shape != expected:
        raise ValueError(
            f"col2im expected cols of shape {expected} for x_shape {tuple(x_shape)}, got {cols.shape}"
        )
    dx = xp.empty(tuple(x_shape), dtype=cols.dtype)
    launch("im2col.cu", "col2im", dx.size, (cols, dx, *geometry))
    return dx


def conv2d_forward(x, weight, bias, sh, sw, ph, pw):
    """A whole convolution, forward: the ``im2col`` kernel above, then one cuBLAS product (through
    ``common.conv2d_forward_by_im2col``). Returns (y, None): the patch matrix (C*kh*kw times
    the images) is not kept for the backward, because device memory is scarcer than one more
    launch of a copy kernel. See ``reference.conv2d_forward``."""
    y, _ = common.conv2d_forward_by_im2col(im2col, x, weight, bias, sh, sw, ph, pw)
    return y, None


def conv2d_backward(dy, x, cols, weight, sh, sw, ph, pw, input_grad):
    """The backward: ``im2col`` again unless ``cols`` is given, two cuBLAS products and ``col2im``
    (``common.conv2d_backward_by_im2col``). See ``reference.conv2d_backward``."""
    return common.conv2d_backward_by_im2col(im2col, col2im, dy, x, cols, weight, sh, sw, ph, pw, input_grad)
