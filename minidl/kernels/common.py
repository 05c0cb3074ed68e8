"""What the kernel tiers and the layers above them share, written once.

* ``get_array_module(x)`` -- ``numpy`` or ``cupy`` for an array, without importing CuPy
  (``minidl.backend`` re-exports it; the GPU launchers use it to tell the emulator's NumPy
  arrays from device arrays);
* ``conv_output_length`` / ``pool_output_length`` -- how many windows fit along one axis;
* ``C_REAL_TYPES`` -- the C type a CUDA kernel's ``real_t`` becomes for each float dtype;
* ``sigmoid`` -- the logistic function for NumPy or CuPy arrays (layers and losses);
* ``conv2d_forward_by_im2col`` / ``conv2d_backward_by_im2col`` -- ``reference.conv2d_forward``
  and ``_backward`` with a tier's own ``im2col`` and ``col2im`` passed in (the reference's
  forward is this one with NumPy's ``im2col``; the CUDA tier passes its own; the Numba
  tier's "whole" route uses the forward and the backward's two halves,
  ``conv2d_weight_gradient_by_cols`` and ``conv2d_input_gradient_by_col2im``);
* ``lstm_steps`` / ``gru_steps`` (and their ``_backward``) -- the loop over time of the
  ``*_sequence`` kernels for a tier that has fused cells but no one-launch sequence kernel:
  one product ``h_{t-1} Wh`` into a buffer allocated once, and the tier's cell kernel, per step.

This module imports nothing from minidl, so any module of the package may use it.
"""

from __future__ import annotations

import sys
from types import MappingProxyType

import numpy as np

__all__ = ["get_array_module", "conv_output_length", "pool_output_length", "C_REAL_TYPES", "sigmoid"]
__all__ += ["conv2d_forward_by_im2col", "conv2d_backward_by_im2col", "conv2d_weight_gradient_by_cols"]
__all__ += ["conv2d_input_gradient_by_col2im", "lstm_steps", "lstm_steps_backward", "gru_steps"]
__all__ += ["gru_steps_backward"]

#: NumPy dtype -> the C type the CUDA sources are compiled with (``-DREAL_T=...``)
C_REAL_TYPES = MappingProxyType({np.dtype(np.float32): "float", np.dtype(np.float64): "double"})


def get_array_module(x):
    """``numpy`` for a NumPy array (or anything else), ``cupy`` for a CuPy array.

    CuPy is looked up, never imported: if it was not imported, ``x`` cannot be a CuPy array.
    """
    cp = sys.modules.get("cupy")
    if cp is not None and isinstance(x, cp.ndarray):
        return cp
    return np


def conv_output_length(size: int, kernel: int, stride: int, pad: int = 0) -> int:
    """Window positions along one axis: ``floor((size + 2 pad - kernel) / stride) + 1``."""
    return (size + 2 * pad - kernel) // stride + 1


def pool_output_length(size: int, kernel: int, stride: int) -> int:
    """Pooling windows along one axis, those that do not fit dropped: ``(size - kernel) // stride + 1``."""
    return conv_output_length(size, kernel, stride, 0)


def sigmoid(x):
    """``1 / (1 + e^-x)`` written as ``(1 + tanh(x/2)) / 2``: same value, never overflows."""
    xp = get_array_module(x)
    return 0.5 * (1.0 + xp.tanh(0.5 * x))


def conv2d_forward_by_im2col(im2col, x, weight, bias, sh, sw, ph, pw):
    """A convolution as one product ``W2 @ cols`` with a tier's ``im2col``: the body of
    ``reference.conv2d_forward`` (whose docstring has the math); returns (y, cols)."""
    xp = get_array_module(x)
    N, (F, C, kh, kw) = x.shape[0], weight.shape
    OH, OW = conv_output_length(x.shape[2], kh, sh, ph), conv_output_length(x.shape[3], kw, sw, pw)
    cols = im2col(x, kh, kw, sh, sw, ph, pw)  # (C*kh*kw, N*OH*OW)
    y2d = weight.reshape(F, C * kh * kw) @ cols  # (F, N*OH*OW)
    if bias is not None:
        y2d += bias[:, None]
    return xp.ascontiguousarray(y2d.reshape(F, N, OH, OW).transpose(1, 0, 2, 3)), cols


def conv2d_backward_by_im2col(im2col, col2im, dy, x, cols, weight, sh, sw, ph, pw, input_grad):
    """``reference.conv2d_backward`` with the tier's ``im2col`` (when ``cols`` is None) and ``col2im``."""
    F, C, kh, kw = weight.shape
    if cols is None:
        cols = im2col(x, kh, kw, sh, sw, ph, pw)
    dy2d = dy.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N*OH*OW), one copy
    dweight, dbias = conv2d_weight_gradient_by_cols(cols, dy2d, weight.shape)
    del cols  # dcols below may take its memory
    if not input_grad:
        return None, dweight, dbias
    return conv2d_input_gradient_by_col2im(col2im, dy2d, weight, x.shape, sh, sw, ph, pw), dweight, dbias


def conv2d_weight_gradient_by_cols(cols, dy2d, weight_shape):
    """(dweight, dbias) from the patch matrix cols (C*kh*kw, N*OH*OW) and dY2 (F, N*OH*OW):
    dW2 = dY2 @ cols.T and db = dY2 summed over its columns.

    dW2 is computed as (cols @ dY2.T).T: the same sums, in the orientation of the long
    reduction that OpenBLAS runs faster (measured: see docs/performance.md).
    """
    return (cols @ dy2d.T).T.reshape(weight_shape), dy2d.sum(axis=1)


def conv2d_input_gradient_by_col2im(col2im, dy2d, weight, x_shape, sh, sw, ph, pw):
    """dx (N, C, H, W) = col2im(W2.T @ dY2) with the tier's ``col2im``."""
    F, C, kh, kw = weight.shape
    return col2im(weight.reshape(F, C * kh * kw).T @ dy2d, x_shape, kh, kw, sh, sw, ph, pw)


# The loops below are ``reference.lstm_forward_sequence`` & co. with the per-step temporaries
# hoisted out (one buffer for h_{t-1} Wh, written by ``matmul(out=)``) and the cell kernel
# passed in, so that the Numba tier (and the CUDA tier for H > 256) share one loop.
def lstm_steps(cell, xw, Wh, b, gates, cells, hs):
    """``reference.lstm_forward_sequence`` with the cell kernel ``cell``."""
    xp = get_array_module(xw)
    hw = xp.empty(xw.shape[1:], dtype=xw.dtype)
    for t in range(xw.shape[0]):
        xp.matmul(hs[t], Wh, out=hw)
        cell(xw[t], hw, b, cells[t], gates[t], cells[t + 1], hs[t + 1])
    return gates, cells, hs


def lstm_steps_backward(cell, dy, Wh_T, gates, cells, da, dh0, dc0):
    """``reference.lstm_backward_sequence`` with the cell kernel ``cell``.

    dL/dc_t and dL/dc_{t-1} live in two buffers that swap roles every step: a cell kernel
    whose input and output are one array cannot vectorise (measured: docs/performance.md).
    """
    xp = get_array_module(dy)
    dh = dy[-1].copy()
    dc, dc_prev = xp.zeros_like(dh), xp.empty_like(dh)
    for t in reversed(range(dy.shape[0])):
        cell(dh, dc, gates[t], cells[t], cells[t + 1], da[t], dc_prev)
        dc, dc_prev = dc_prev, dc
        xp.matmul(da[t], Wh_T, out=dh)
        if t > 0:
            dh += dy[t - 1]
    dh0[...], dc0[...] = dh, dc
    return da, dh0, dc0


def gru_steps(cell, xw, Wh, bx, bh, gates, hn, hs):
    """``reference.gru_forward_sequence`` with the cell kernel ``cell``."""
    xp = get_array_module(xw)
    hw = xp.empty(xw.shape[1:], dtype=xw.dtype)
    for t in range(xw.shape[0]):
        xp.matmul(hs[t], Wh, out=hw)
        cell(xw[t], hw, bx, bh, hs[t], gates[t], hn[t], hs[t + 1])
    return gates, hn, hs


def gru_steps_backward(cell, dy, Wh_T, gates, hn, hs, dxw, dhw, dh0):
    """``reference.gru_backward_sequence`` with the cell kernel ``cell``."""
    xp = get_array_module(dy)
    dh = dy[-1].copy()
    direct = xp.empty_like(dh)
    for t in reversed(range(dy.shape[0])):
        cell(dh, gates[t], hn[t], hs[t], dxw[t], dhw[t], direct)
        xp.matmul(dhw[t], Wh_T, out=dh)
        dh += direct
        if t > 0:
            dh += dy[t - 1]
    dh0[...] = dh
    return dxw, dhw, dh0
