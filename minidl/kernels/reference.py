"""NumPy reference kernels: the ground truth, written to be read.

Every function here has a twin with the same name and signature in ``cpu.py`` (Numba)
and ``gpu.py`` (CUDA). The tests feed all tiers the same random inputs and require the
same outputs, so this file is the specification of what the fast tiers compute.

Conventions: images are NCHW, sequences (N, T, D); "in place" arguments are updated and
also documented as such; no function here allocates more than its outputs need.
"""

import numpy as np

from .common import conv2d_forward_by_im2col, conv_output_length, pool_output_length, sigmoid


# ============================================================ softmax cross-entropy
def softmax_cross_entropy(logits, labels):
    """Per-sample cross-entropy of softmax(logits) against integer labels, fused and stable.

    loss_i = -log softmax(z_i)[y_i] = log sum_k exp(z_ik - m_i) - (z_iy - m_i),  m_i = max_k z_ik

    Subtracting the row maximum keeps ``exp`` from overflowing; taking the log of the
    sum directly (log-sum-exp) avoids ``log(0)`` when a probability underflows.

    Parameters: logits (N, K) float, labels (N,) int in [0, K).
    Returns: losses (N,) and probs (N, K) = softmax(logits), kept for the backward.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    probs = exp / sum_exp
    rows = np.arange(logits.shape[0])
    losses = np.log(sum_exp[:, 0]) - shifted[rows, labels]
    return losses, probs


def softmax_cross_entropy_backward(probs, labels, scale):
    """Gradient of ``scale * sum_i loss_i`` with respect to the logits.

    d loss_i / d z_ik = softmax(z_i)_k - [k == y_i]

    Parameters: probs (N, K) from the forward, labels (N,) int, scale float
    (``1 / N`` for a mean over the batch). Returns dlogits (N, K).
    """
    dlogits = probs * scale
    dlogits[np.arange(probs.shape[0]), labels] -= scale
    return dlogits


# ============================================================ dropout
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


# ============================================================ optimizer updates
def sgd_update(param, grad, velocity, lr, momentum, nesterov, weight_decay):
    """One SGD step, in place on ``param`` and ``velocity`` (PyTorch's rule, dampening 0).

    g = grad + weight_decay * param
    v = momentum * v + g                  (v starts at 0, so the first v is g)
    step = g + momentum * v if nesterov else v
    param -= lr * step
    """
    g = grad + weight_decay * param if weight_decay else grad
    if momentum:
        velocity *= momentum
        velocity += g
        g = g + momentum * velocity if nesterov else velocity
    param -= lr * g


def adam_update(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    """One Adam (or AdamW) step, in place on ``param``, ``m`` and ``v`` (PyTorch's rule).

    decoupled (AdamW): param *= 1 - lr * weight_decay;  otherwise g = grad + weight_decay * param
    m = beta1 m + (1 - beta1) g          v = beta2 v + (1 - beta2) g^2
    m_hat = m / (1 - beta1^step)         v_hat = v / (1 - beta2^step)      (step counts from 1)
    param -= lr * m_hat / (sqrt(v_hat) + eps)
    """
    g = grad
    if weight_decay and decoupled:
        param *= 1.0 - lr * weight_decay
    elif weight_decay:
        g = grad + weight_decay * param
    m *= beta1
    m += (1.0 - beta1) * g
    v *= beta2
    v += (1.0 - beta2) * g * g
    m_hat = m / (1.0 - beta1**step)
    v_hat = v / (1.0 - beta2**step)
    param -= lr * m_hat / (np.sqrt(v_hat) + eps)


def rmsprop_update(param, grad, square_avg, buffer, lr, alpha, eps, momentum, weight_decay):
    """One RMSprop step, in place on ``param``, ``square_avg`` and ``buffer`` (PyTorch's rule).

    g = grad + weight_decay * param
    s = alpha s + (1 - alpha) g^2          step = g / (sqrt(s) + eps)
    b = momentum b + step, step = b        (with momentum only; ``buffer`` is untouched without)
    param -= lr * step
    """
    g = grad + weight_decay * param if weight_decay else grad
    square_avg *= alpha
    square_avg += (1.0 - alpha) * g * g
    step = g / (np.sqrt(square_avg) + eps)
    if momentum:
        buffer *= momentum
        buffer += step
        step = buffer
    param -= lr * step


def adagrad_update(param, grad, total, lr, eps, weight_decay):
    """One Adagrad step, in place on ``param`` and ``total`` (PyTorch's rule, no lr decay).

    g = grad + weight_decay * param
    total += g^2                           (the sum of every past squared gradient)
    param -= lr * g / (sqrt(total) + eps)
    """
    g = grad + weight_decay * param if weight_decay else grad
    total += g * g
    param -= lr * g / (np.sqrt(total) + eps)


# ============================================================ convolution (im2col / col2im)
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


# ============================================================ pooling
def max_pool_forward(x, kh, kw, sh, sw):
    """Max pooling over (kh, kw) windows with strides (sh, sw); windows that do not fit are dropped.

    Parameters: x (N, C, H, W). With OH = (H - kh) // sh + 1, OW = (W - kw) // sw + 1:
    Returns y (N, C, OH, OW), the window maxima, and argmax (N, C, OH, OW) int64, the
    position i * kw + j inside its window of the FIRST maximum in row-major order (as
    PyTorch), which is where backward sends the gradient.
    """
    N, C, H, W = x.shape
    OH, OW = pool_output_length(H, kh, sh), pool_output_length(W, kw, sw)
    y = x[:, :, 0 : sh * OH : sh, 0 : sw * OW : sw].copy()
    argmax = np.zeros((N, C, OH, OW), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            candidate = x[:, :, i : i + sh * OH : sh, j : j + sw * OW : sw]
            better = candidate > y  # strictly greater: a tie keeps the earlier maximum
            y = np.where(better, candidate, y)
            argmax = np.where(better, i * kw + j, argmax)
    return y, argmax


def max_pool_backward(dy, argmax, x_shape, kh, kw, sh, sw):
    """Send each window's gradient to the position of its (first) maximum.

    Parameters: dy (N, C, OH, OW), argmax (N, C, OH, OW) from the forward, x_shape (N, C, H, W).
    Returns dx (N, C, H, W); a pixel that is the maximum of several overlapping windows
    receives the sum of their gradients, added in window-offset order (i, j) ascending.
    """
    OH, OW = dy.shape[2:]
    dx = np.zeros(x_shape, dtype=dy.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i : i + sh * OH : sh, j : j + sw * OW : sw] += np.where(argmax == i * kw + j, dy, 0)
    return dx


def avg_pool_forward(x, kh, kw, sh, sw):
    """Average pooling over (kh, kw) windows with strides (sh, sw); windows that do not fit are dropped.

    Parameters: x (N, C, H, W). Returns y (N, C, OH, OW) with OH, OW as in ``max_pool_forward``:
    the window sums, added in row-major order, divided by kh * kw.
    """
    N, C, H, W = x.shape
    OH, OW = pool_output_length(H, kh, sh), pool_output_length(W, kw, sw)
    total = x[:, :, 0 : sh * OH : sh, 0 : sw * OW : sw].copy()
    for i in range(kh):
        for j in range(kw):
            if i or j:
                total += x[:, :, i : i + sh * OH : sh, j : j + sw * OW : sw]
    return total / x.dtype.type(kh * kw)


def avg_pool_backward(dy, x_shape, kh, kw, sh, sw):
    """Each pixel of a window receives dy / (kh * kw) of that window's gradient.

    Parameters: dy (N, C, OH, OW), x_shape (N, C, H, W). Returns dx (N, C, H, W)
    (sums over overlapping windows, added in window-offset order (i, j) ascending).
    """
    OH, OW = dy.shape[2:]
    share = dy / dy.dtype.type(kh * kw)
    dx = np.zeros(x_shape, dtype=dy.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i : i + sh * OH : sh, j : j + sw * OW : sw] += share
    return dx


# ============================================================ batch normalization
def batchnorm_forward(x, gamma, beta, eps):
    """Normalize each channel over the batch (and the pixels), then scale and shift.

    mean_c = mean over n, l of x[n, c, l]      var_c = mean of (x - mean_c)^2   (biased)
    x_hat = (x - mean_c) / sqrt(var_c + eps)   y = gamma_c x_hat + beta_c

    Parameters: x (N, C, L) -- a (N, D) batch as (N, D, 1), an image batch (N, C, H, W)
    as (N, C, H*W); gamma, beta (C,); eps float.
    Returns y (N, C, L), mean (C,) and var (C,) (the biased batch variance).
    """
    mean = x.mean(axis=(0, 2))
    var = ((x - mean[:, None]) ** 2).mean(axis=(0, 2))
    x_hat = (x - mean[:, None]) / np.sqrt(var[:, None] + eps)
    y = gamma[:, None] * x_hat + beta[:, None]
    return y, mean, var


def batchnorm_backward(dy, x, gamma, mean, var, eps):
    """Gradients of batch normalization in training mode (batch statistics depend on x).

    With M = N * L values per channel, sigma = sqrt(var + eps):
    dbeta_c = sum dy            dgamma_c = sum dy * x_hat
    dx = gamma_c / (M sigma_c) * (M dy - dbeta_c - x_hat dgamma_c)
    (the last two terms are the gradient flowing through the mean and the variance).

    Parameters: dy, x (N, C, L); gamma, mean, var (C,) from the forward; eps float.
    Returns dx (N, C, L), dgamma (C,), dbeta (C,).
    """
    M = x.shape[0] * x.shape[2]
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean[:, None]) * inv_std[:, None]
    dbeta = dy.sum(axis=(0, 2))
    dgamma = (dy * x_hat).sum(axis=(0, 2))
    dx = (gamma * inv_std / M)[:, None] * (M * dy - dbeta[:, None] - x_hat * dgamma[:, None])
    return dx.astype(x.dtype, copy=False), dgamma, dbeta


# ============================================================ recurrent cells
# The pointwise part of one LSTM or GRU step, as the layers' fast path uses it. To learn
# the cells, read ``lstm_step_forward`` / ``lstm_step_backward`` and ``gru_step_*`` in
# minidl/nn/layers/recurrent.py: the whole step (matrix products included) in plain NumPy,
# the same equations; tests/test_recurrent_step.py checks that the two agree.
# Here the step is split for speed: the matrix products stay in the layer (BLAS), which
# computes x_t Wx for ALL time steps with one product before the loop, so each step only
# adds h_{t-1} Wh; what remains is the handful of pointwise operations below, one fused
# pass in the Numba and CUDA tiers. Outputs are arguments (written in place and returned),
# so the layer preallocates every per-step buffer once and the GPU tier can take the same
# signature. Gate blocks are H columns wide: LSTM [i | f | g | o], GRU [r | z | n].
def lstm_cell_forward(xw, hw, b, c_prev, gates, c, h):
    """Pointwise part of one LSTM step.

        a = xw + hw + b                      pre-activations, blocks [a_i | a_f | a_g | a_o]
        i = σ(a_i)  f = σ(a_f)  g = tanh(a_g)  o = σ(a_o)
        c = f * c_prev + i * g               h = o * tanh(c)

    Parameters: xw (N, 4H) = x_t Wx, hw (N, 4H) = h_{t-1} Wh, b (4H,), c_prev (N, H).
    Outputs, written in place and returned: gates (N, 4H) = [i | f | g | o] (kept for the
    backward), c (N, H), h (N, H).
    """
    H = c_prev.shape[1]
    a = xw + hw + b
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H : 2 * H]), sigmoid(a[:, 3 * H :])
    g = np.tanh(a[:, 2 * H : 3 * H])
    gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :] = i, f, g, o
    c[...] = f * c_prev + i * g
    h[...] = o * np.tanh(c)
    return gates, c, h


def lstm_cell_backward(dh, dc_next, gates, c_prev, c, da, dc_prev):
    """Backward of ``lstm_cell_forward``: from dL/dh_t and dL/dc_t to the pre-activations.

        dc   = dc_next + dh * o * (1 - tanh(c)^2)         (c feeds h_t and c_{t+1})
        da_i = dc * g * i (1 - i)      da_f = dc * c_prev * f (1 - f)
        da_g = dc * i * (1 - g^2)      da_o = dh * tanh(c) * o (1 - o)
        dc_prev = dc * f

    Parameters: dh (N, H) = dL/dh_t (from the output and from step t+1), dc_next (N, H) =
    dL/dc_t from step t+1, gates (N, 4H), c_prev (N, H), c (N, H) from the forward.
    Outputs, written in place and returned: da (N, 4H) = dL/da (which is also dL/dxw,
    dL/dhw and the per-sample dL/db), dc_prev (N, H) = dL/dc_{t-1}. ``dc_prev`` may be
    the same array as ``dc_next``.
    """
    H = c_prev.shape[1]
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    tanh_c = np.tanh(c)
    dc = dc_next + dh * o * (1 - tanh_c**2)
    da[:, :H] = dc * g * i * (1 - i)
    da[:, H : 2 * H] = dc * c_prev * f * (1 - f)
    da[:, 2 * H : 3 * H] = dc * i * (1 - g**2)
    da[:, 3 * H :] = dh * tanh_c * o * (1 - o)
    dc_prev[...] = dc * f
    return da, dc_prev


def gru_cell_forward(xw, hw, bx, bh, h_prev, gates, hn, h):
    """Pointwise part of one GRU step (PyTorch's formulation: r gates h Wh_n + bh_n).

        r  = σ(xw_r + bx_r + hw_r + bh_r)      z = σ(xw_z + bx_z + hw_z + bh_z)
        hn = hw_n + bh_n                       n = tanh(xw_n + bx_n + r * hn)
        h  = (1 - z) * n + z * h_prev

    Parameters: xw (N, 3H) = x_t Wx, hw (N, 3H) = h_{t-1} Wh, bx (3H,), bh (3H,), h_prev (N, H).
    Outputs, written in place and returned: gates (N, 3H) = [r | z | n], hn (N, H)
    (both kept for the backward), h (N, H).
    """
    H = h_prev.shape[1]
    a = xw + bx
    u = hw + bh
    r = sigmoid(a[:, :H] + u[:, :H])
    z = sigmoid(a[:, H : 2 * H] + u[:, H : 2 * H])
    hn[...] = u[:, 2 * H :]
    n = np.tanh(a[:, 2 * H :] + r * hn)
    gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :] = r, z, n
    h[...] = (1 - z) * n + z * h_prev
    return gates, hn, h


def gru_cell_backward(dh, gates, hn, h_prev, dxw, dhw, dh_prev):
    """Backward of ``gru_cell_forward``.

        da_n = dh * (1 - z) * (1 - n^2)                  (pre-activation of n)
        da_z = dh * (h_prev - n) * z (1 - z)
        da_r = da_n * hn * r (1 - r)
        dxw  = [da_r | da_z | da_n]          dhw = [da_r | da_z | da_n * r]
        dh_prev = dh * z                     (the direct path only; the layer adds dhw Wh^T)

    Parameters: dh (N, H) = dL/dh_t, gates (N, 3H), hn (N, H), h_prev (N, H) from the forward.
    Outputs, written in place and returned: dxw (N, 3H) = dL/d(x_t Wx + bx), dhw (N, 3H) =
    dL/d(h_{t-1} Wh + bh), dh_prev (N, H). ``dh_prev`` may be the same array as ``dh``.
    """
    H = h_prev.shape[1]
    r, z, n = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]
    da_n = dh * (1 - z) * (1 - n**2)
    da_z = dh * (h_prev - n) * z * (1 - z)
    da_r = da_n * hn * r * (1 - r)
    dxw[:, :H], dxw[:, H : 2 * H], dxw[:, 2 * H :] = da_r, da_z, da_n
    dhw[:, :H], dhw[:, H : 2 * H], dhw[:, 2 * H :] = da_r, da_z, da_n * r
    dh_prev[...] = dh * z
    return dxw, dhw, dh_prev


# ============================================================ masked softmax (attention)
# The softmax inside attention: each row of scores (one query against every key) becomes a
# probability distribution over the keys that the query may see. ``keep`` says which those
# are (1 = may attend, 0 = masked out: a future position under a causal mask, or padding).
# Scores are (G, Tq, Tk) -- G = batch x heads, flattened -- and one mask serves several of
# them: ``keep`` is (Gm, Tq, Tk) with G a multiple of Gm, and group g reads keep[g // (G // Gm)]
# (Gm = 1: one causal mask for all; Gm = N with G = N * H: a padding mask per sample, shared
# by its H heads). Masked entries get probability exactly 0; a row with nothing to attend to
# gives all zeros (PyTorch would give NaN there).
def masked_softmax(scores, keep, scale):
    """Softmax over the last axis of ``scale * scores``, restricted to the kept entries.

        p_ij = keep_ij exp(s scores_ij - m_i) / sum_k keep_ik exp(s scores_ik - m_i),
        m_i = max over kept k of s scores_ik

    Parameters: scores (G, Tq, Tk) float; keep (Gm, Tq, Tk) bool or uint8, G % Gm == 0;
    scale float (1 / sqrt(d) in attention). Returns probs (G, Tq, Tk), same dtype as scores.
    """
    G, Tq, Tk = scores.shape
    Gm = keep.shape[0]
    kept = keep.astype(bool)[:, None]  # (Gm, 1, Tq, Tk)
    s = scores.reshape(Gm, G // Gm, Tq, Tk) * scores.dtype.type(scale)
    m = np.where(kept, s, -np.inf).max(axis=-1, keepdims=True)  # row max over kept keys
    m = np.where(np.isfinite(m), m, 0).astype(scores.dtype)  # a fully masked row: no max
    e = np.exp(np.where(kept, s - m, -np.inf))  # exp(-inf) = 0: masked out
    total = e.sum(axis=-1, keepdims=True)
    probs = e / np.where(total > 0, total, 1)
    return probs.reshape(G, Tq, Tk)


def masked_softmax_backward(probs, dprobs, scale):
    """Gradient of ``masked_softmax`` with respect to its scores.

    The softmax Jacobian is dp_j / dz_k = p_j ([j == k] - p_k); applied to dprobs without
    building it, and times ``scale`` for z = scale * scores:

        dscores_ik = scale * p_ik (dprobs_ik - sum_j dprobs_ij p_ij)

    Masked entries have p = 0, so their gradient is 0 with no mask needed.
    Parameters: probs, dprobs (G, Tq, Tk). Returns dscores (G, Tq, Tk).
    """
    inner = (dprobs * probs).sum(axis=-1, keepdims=True)
    return (probs * (dprobs - inner) * probs.dtype.type(scale)).astype(probs.dtype, copy=False)


# ============================================================ recurrent sequences
# The loop over time of an LSTM or GRU layer, forward and backward (backpropagation through
# time), built from the cells above and one matrix product h_{t-1} Wh per step. The layers
# compute x_t Wx for every step with one product before calling these, and the weight
# gradients with one product over all N*T rows after: what is left here is the part that
# is sequential in t. Arrays are time-major, (T, N, ...), so a step is one contiguous slice;
# every output is an argument, written in place and returned. The CUDA tier runs each of
# these as ONE kernel launch (for H <= 256), the Numba tier as this loop with its fused cells.
def lstm_forward_sequence(xw, Wh, b, gates, cells, hs):
    """The LSTM forward over all T steps.

        for t = 0 .. T-1:   gates[t], cells[t+1], hs[t+1] = lstm_cell(xw[t] + hs[t] Wh + b, cells[t])

    Parameters: xw (T, N, 4H) = x_t Wx for every t (no bias); Wh (H, 4H); b (4H,);
    cells, hs (T + 1, N, H) with [0] the initial state (c0, h0).
    Outputs, written in place and returned: gates (T, N, 4H), cells[1:], hs[1:].
    """
    for t in range(xw.shape[0]):
        lstm_cell_forward(xw[t], hs[t] @ Wh, b, cells[t], gates[t], cells[t + 1], hs[t + 1])
    return gates, cells, hs


def lstm_backward_sequence(dy, Wh_T, gates, cells, da, dh0, dc0):
    """Backpropagation through time of ``lstm_forward_sequence``.

        dh = dL/dh_t = dy[t] + da[t+1] Wh^T       (from the output and from step t+1)
        da[t], dc = lstm_cell_backward(dh, dc, ...)   going t = T-1 .. 0

    Parameters: dy (T, N, H) = dL/dh_t from the layer's output (zeros where there is none);
    Wh_T (4H, H) = Wh^T; gates (T, N, 4H), cells (T + 1, N, H) from the forward.
    Outputs, written in place and returned: da (T, N, 4H) = dL/d pre-activations (also
    dL/d(x_t Wx) and dL/d(h_{t-1} Wh)), dh0 (N, H) = dL/dh0, dc0 (N, H) = dL/dc0.
    """
    dh = dy[-1].copy()
    dc = np.zeros_like(dh)
    for t in reversed(range(dy.shape[0])):
        lstm_cell_backward(dh, dc, gates[t], cells[t], cells[t + 1], da[t], dc)
        dh = da[t] @ Wh_T + (dy[t - 1] if t > 0 else 0)
    dh0[...], dc0[...] = dh, dc
    return da, dh0, dc0


def gru_forward_sequence(xw, Wh, bx, bh, gates, hn, hs):
    """The GRU forward over all T steps.

        for t = 0 .. T-1:   gates[t], hn[t], hs[t+1] = gru_cell(xw[t], hs[t] Wh, bx, bh, hs[t])

    Parameters: xw (T, N, 3H) = x_t Wx for every t (no bias); Wh (H, 3H); bx, bh (3H,);
    hs (T + 1, N, H) with hs[0] = h0.
    Outputs, written in place and returned: gates (T, N, 3H), hn (T, N, H) =
    h_{t-1} Wh_n + bh_n, hs[1:].
    """
    for t in range(xw.shape[0]):
        gru_cell_forward(xw[t], hs[t] @ Wh, bx, bh, hs[t], gates[t], hn[t], hs[t + 1])
    return gates, hn, hs


def gru_backward_sequence(dy, Wh_T, gates, hn, hs, dxw, dhw, dh0):
    """Backpropagation through time of ``gru_forward_sequence``.

        dh = dL/dh_t = dy[t] + dhw[t+1] Wh^T + z_{t+1} * dh_{t+1}   (output, product, direct path)

    Parameters: dy (T, N, H) = dL/dh_t from the layer's output; Wh_T (3H, H) = Wh^T;
    gates (T, N, 3H), hn (T, N, H), hs (T + 1, N, H) from the forward.
    Outputs, written in place and returned: dxw, dhw (T, N, 3H) = dL/d(x_t Wx + bx),
    dL/d(h_{t-1} Wh + bh); dh0 (N, H) = dL/dh0.
    """
    dh = dy[-1].copy()
    direct = np.zeros_like(dh)
    for t in reversed(range(dy.shape[0])):
        gru_cell_backward(dh, gates[t], hn[t], hs[t], dxw[t], dhw[t], direct)
        dh = dhw[t] @ Wh_T + direct + (dy[t - 1] if t > 0 else 0)
    dh0[...] = dh
    return dxw, dhw, dh0
