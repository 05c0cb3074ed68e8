"""Convolution by im2col: the patch matrix, its adjoint col2im, and a whole layer's forward and backward.

A convolution becomes one matrix product with the patch matrix (CS231n's im2col); the
backward is two more products and col2im, which sums the patches back where they overlap.
"""

import numpy as np

from ..common import conv2d_forward_by_im2col, conv_output_length


def im2col(x, kh, kw, sh, sw, ph, pw):
    """Unfold every (kh, kw) window of the zero-padded images into one column.

    A convolution then becomes one matrix product, ``W.reshape(F, -1) @ cols``.

    Parameters: x (N, C, H, W); kernel kh x kw; strides sh, sw; zero padding ph, pw
    on each side. With OH = (H + 2 ph - kh) // sh + 1 (likewise OW):
    Returns cols (C*kh*kw, N*OH*OW), row (c, i, j) and column (n, oh, ow) holding
    x_padded[n, c, sh*oh + i, sw*ow + j].

    The row-per-weight layout keeps all three products of a convolution single GEMMs:
    y = W2 @ cols, dW2 = dY @ cols.T, dcols = W2.T @ dY (dY of shape (F, N*OH*OW)).
    """
    N, C, H, W = x.shape
    OH, OW = conv_output_length(H, kh, sh, ph), conv_output_length(W, kw, sw, pw)
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((C, kh, kw, N, OH, OW), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            # the pixel at offset (i, j) of every window, for all images and channels at once
            window_pixels = x_padded[:, :, i : i + sh * OH : sh, j : j + sw * OW : sw]  # (N, C, OH, OW)
            cols[:, i, j] = window_pixels.transpose(1, 0, 2, 3)
    return cols.reshape(C * kh * kw, N * OH * OW)


def col2im(cols, x_shape, kh, kw, sh, sw, ph, pw):
    """The adjoint of ``im2col``: add every column back onto the pixels it was copied from.

    A pixel that sits in several windows receives the sum of their gradients, which is
    exactly the chain rule for a value that was used several times.

    Parameters: cols (C*kh*kw, N*OH*OW) as produced by ``im2col``; x_shape (N, C, H, W);
    kh, kw, sh, sw, ph, pw as in ``im2col``.
    Returns dx (N, C, H, W); the parts that fell on the padding are dropped.
    """
    N, C, H, W = x_shape
    OH, OW = conv_output_length(H, kh, sh, ph), conv_output_length(W, kw, sw, pw)
    cols = cols.reshape(C, kh, kw, N, OH, OW)
    dx_padded = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dx_padded[:, :, i : i + sh * OH : sh, j : j + sw * OW : sw] += cols[:, i, j].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dx_padded[:, :, ph : ph + H, pw : pw + W])


def conv2d_forward(x, weight, bias, sh, sw, ph, pw):
    """A whole 2-D convolution (cross-correlation), forward: im2col, then one matrix product.

        y[n, f, oh, ow] = bias[f] + sum_{c, i, j} weight[f, c, i, j] * x_pad[n, c, sh oh + i, sw ow + j]

    With ``cols = im2col(x)`` (C*kh*kw, N*OH*OW) and ``W2 = weight.reshape(F, -1)`` the sum
    is the product ``W2 @ cols`` (F, N*OH*OW), one column per output pixel.

    Parameters: x (N, C, H, W); weight (F, C, kh, kw); bias (F,) or None; strides sh, sw;
    zeros ph, pw added on each side.
    Returns (y (N, F, OH, OW), cols): the patch matrix is what the backward's dW product
    reads again, so it is returned for the layer's cache (CS231n's ``(out, cache)``). A tier
    that never builds the whole patch matrix returns None in its place.
    """
    # the five lines of that product live in common.py, shared with the tiers that bring
    # their own im2col (Numba, CUDA); this tier brings the NumPy one below
    return conv2d_forward_by_im2col(im2col, x, weight, bias, sh, sw, ph, pw)


def conv2d_backward(dy, x, cols, weight, sh, sw, ph, pw, input_grad):
    """The backward of ``conv2d_forward``: the backward of a Dense layer applied to windows.

    With dY2 = dy as (F, N*OH*OW), cols = im2col(x) and W2 = weight as (F, C*kh*kw):

        dweight = dY2 @ cols.T        dbias = dY2 summed over its columns
        dx      = col2im(W2.T @ dY2)  (the adjoint of the copy adds overlapping windows)

    Parameters: dy (N, F, OH, OW); x as in the forward; cols, the patch matrix the forward
    returned, or None to build it again from x; weight, sh, sw, ph, pw as in the forward;
    input_grad: whether dx is wanted (a network's first layer skips it).
    Returns (dx (N, C, H, W) or None, dweight (F, C, kh, kw), dbias (F,)).
    """
    F, C, kh, kw = weight.shape
    if cols is None:
        cols = im2col(x, kh, kw, sh, sw, ph, pw)
    dy2d = dy.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N*OH*OW)
    dweight = (dy2d @ cols.T).reshape(weight.shape)
    dbias = dy2d.sum(axis=1)
    if not input_grad:
        return None, dweight, dbias
    dx = col2im(weight.reshape(F, C * kh * kw).T @ dy2d, x.shape, kh, kw, sh, sw, ph, pw)
    return dx, dweight, dbias
