"""Inverted dropout, forward and backward: the mask is drawn by the caller and kept for the backward.

The uniform numbers come in as an argument so that every tier computes the same mask.
"""


def dropout_forward(x, uniform, rate):
    """Inverted dropout: zero each element with probability ``rate``, scale the rest by 1/(1-rate).

    Scaling at training time keeps E[y] = x, so inference needs no change at all.

    Parameters: x (any shape), uniform (same shape, U[0, 1) draws), rate in [0, 1).
    Returns: y (like x) and mask (like x): 0 or 1/(1-rate), so that y = x * mask.
    """
    mask = (uniform >= rate).astype(x.dtype) / x.dtype.type(1.0 - rate)
    return x * mask, mask


def dropout_backward(dy, mask):
    """dL/dx = dL/dy * mask: dropped elements pass no gradient, kept ones are scaled alike."""
    return dy * mask
