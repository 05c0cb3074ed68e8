"""The usual wrong answers to the graded exercises, and right answers written differently.

``WRONG`` and ``RIGHT`` are lists of ``(exercise, what it does, source)``; the source is an
exercise cell as a student would write it, run after ``SETUP`` (the imports of the
solutions' setup cells). ``test_wrong_answers.py`` requires every wrong answer to score
below full marks and every right one full marks.
"""

from __future__ import annotations

SETUP = "import numpy as np\n"

WRONG: list[tuple[str, str, str]] = []
RIGHT: list[tuple[str, str, str]] = []


def wrong(name: str, label: str, source: str) -> None:
    WRONG.append((name, label, source))


def right(name: str, label: str, source: str) -> None:
    RIGHT.append((name, label, source))


# ------------------------------------------------------------------ 02 neural networks
wrong(
    "xor_by_hand",
    "weights 1e-6 away from exact",
    """
def xor_by_hand():
    W1 = np.array([[1.0, 1.0], [1.0, 1.0]])
    b1 = np.array([0.0, -1.0])
    w2 = np.array([1.0, -2.0 + 1e-6])
    return W1, b1, w2, 0.0
""",
)
right(
    "xor_by_hand",
    "another exact network: relu(x1 - x2) + relu(x2 - x1)",
    """
def xor_by_hand():
    return np.array([[1.0, -1.0], [-1.0, 1.0]]), np.zeros(2), np.ones(2), 0
""",
)

# ------------------------------------------------------------------ 03 backpropagation
wrong(
    "directional_gradient_check",
    "one array for both perturbations, never moved back to x",
    """
def directional_gradient_check(f, x, grad, directions, h=1e-5):
    numeric = np.zeros(len(directions))
    shifted = x.copy()
    for k, d in enumerate(directions):
        shifted += h * d
        f_plus = f(shifted)
        shifted -= 2 * h * d
        numeric[k] = (f_plus - f(shifted)) / (2 * h)
    return numeric, directions.reshape(len(directions), -1) @ grad.reshape(-1)
""",
)
wrong(
    "directional_gradient_check",
    "x + h d stored in an array that x - h d then overwrites",
    """
def directional_gradient_check(f, x, grad, directions, h=1e-5):
    numeric = np.zeros(len(directions))
    for k, d in enumerate(directions):
        xp = x
        xp += h * d
        xm = x
        xm -= h * d
        numeric[k] = (f(xp) - f(xm)) / (2 * h)
    return numeric, directions.reshape(len(directions), -1) @ grad.reshape(-1)
""",
)
right(
    "directional_gradient_check",
    "new arrays x + h d and x - h d",
    """
def directional_gradient_check(f, x, grad, directions, h=1e-5):
    numeric = np.array([(f(x + h * d) - f(x - h * d)) / (2 * h) for d in directions])
    return numeric, np.array([np.sum(grad * d) for d in directions])
""",
)

# ------------------------------------------------------------------ 04 optimization
wrong(
    "sgd_momentum_update",
    "updates w and v in place",
    """
def sgd_momentum_update(w, dw, v, lr, momentum):
    v *= momentum
    v += dw
    w -= lr * v
    return w, v
""",
)
right(
    "sgd_momentum_update",
    "w - lr * (momentum * v + dw) in one line",
    """
def sgd_momentum_update(w, dw, v, lr, momentum):
    return w - lr * (momentum * v + dw), momentum * v + dw
""",
)

# ------------------------------------------------------------------ 05 regularization
right(
    "early_stopping_epochs",
    "an improvement written best - loss > min_delta",
    """
def early_stopping_epochs(val_losses, patience, min_delta):
    best, best_epoch, waited = np.inf, -1, 0
    for epoch, loss in enumerate(val_losses):
        if best - loss > min_delta:
            best, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
            if waited >= patience:
                return best_epoch, epoch
    return best_epoch, -1
""",
)

# ------------------------------------------------------------------ 07 convolutional networks
wrong(
    "maxpool_backward",
    "the gradient goes to every tied maximum",
    """
def maxpool_backward(dy, x, pool, stride):
    dx = np.zeros_like(x)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            window = x[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool] += (
                mask * dy[:, :, i : i + 1, j : j + 1]
            )
    return dx
""",
)

# ------------------------------------------------------------------ 08 fast CPU kernels
wrong(
    "relu_backward_numba",
    "a serial loop (range, not prange)",
    """
from numba import njit, prange

@njit(parallel=True)
def relu_backward_numba(dy, x):
    flat_dy, flat_x = dy.ravel(), x.ravel()
    dx = np.empty_like(flat_dy)
    for i in range(flat_x.size):
        dx[i] = flat_dy[i] if flat_x[i] > 0 else 0.0
    return dx.reshape(dy.shape)
""",
)
wrong(
    "relu_backward_numba",
    "prange without parallel=True",
    """
from numba import njit, prange

@njit
def relu_backward_numba(dy, x):
    flat_dy, flat_x = dy.ravel(), x.ravel()
    dx = np.empty_like(flat_dy)
    for i in prange(flat_x.size):
        dx[i] = flat_dy[i] if flat_x[i] > 0 else 0.0
    return dx.reshape(dy.shape)
""",
)

# ------------------------------------------------------------------ 09 GPU kernels
wrong(
    "silu_backward_cuda",
    "sigmoid'(x) written with exp(-x) twice: inf * 0 for x << 0",
    '''
SILU_BACKWARD_SOURCE = r"""
extern "C" __global__ void silu_backward(const float* dy, const float* x, float* dx, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float e = expf(-x[i]);
        float s = 1.0f / (1.0f + e);
        dx[i] = dy[i] * (s + x[i] * e * s * s);
    }
}
"""
''',
)

# ------------------------------------------------------------------ 13 transfer learning
wrong(
    "freeze_all_but_last",
    "layers[:-n], wrong for n = 0",
    """
def freeze_all_but_last(model, n_trainable):
    weighted = [layer for layer in model.layers if layer.params]
    for layer in weighted:
        layer.trainable = True
    for layer in weighted[:-n_trainable]:
        layer.trainable = False
""",
)
wrong(
    "fine_tune_step",
    "never passes training=True",
    """
def fine_tune_step(model, x, y, loss_fn, lr):
    loss = loss_fn(model.forward(x), y)
    model.backward(loss_fn.backward())
    for layer in model.layers:
        if layer.trainable:
            for key in layer.params:
                layer.params[key] -= lr * layer.grads[key]
    return float(loss)
""",
)

# ------------------------------------------------------------------ 15 speech
wrong(
    "energy_vad",
    "ignores threshold_db (uses 40 dB)",
    """
def energy_vad(x, frame_length, hop_length, threshold_db):
    count = 1 + (len(x) - frame_length) // hop_length
    energy = np.array([np.sum(x[t * hop_length : t * hop_length + frame_length] ** 2) for t in range(count)])
    return 10 * np.log10(np.maximum(energy, 1e-20) / energy.max()) >= -40.0
""",
)

# ------------------------------------------------------------------ 16 going deep
wrong(
    "cutout",
    "zeroes the caller's images in place",
    """
def cutout(x, top, left, size):
    for n in range(x.shape[0]):
        x[n, :, max(top[n], 0) : max(top[n] + size, 0), max(left[n], 0) : max(left[n] + size, 0)] = 0.0
    return x
""",
)
right(
    "cutout",
    "a mask built from index grids",
    """
def cutout(x, top, left, size):
    rows = np.arange(x.shape[2])[None, :, None]
    cols = np.arange(x.shape[3])[None, None, :]
    top, left = np.asarray(top)[:, None, None], np.asarray(left)[:, None, None]
    inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
    return np.where(inside[:, None], 0.0, x).astype(x.dtype)
""",
)

# ------------------------------------------------------------------ more, chapter by chapter
wrong(
    "weighted_bce_with_logits",
    "log(sigmoid(z)) computed directly: inf for large |z|",
    """
def weighted_bce_with_logits(z, y, pos_weight):
    p = 1.0 / (1.0 + np.exp(-z))
    return -(pos_weight * y * np.log(p) + (1 - y) * np.log(1 - p))
""",
)
right(
    "weighted_bce_with_logits",
    "np.logaddexp for both softplus terms",
    """
def weighted_bce_with_logits(z, y, pos_weight):
    return pos_weight * y * np.logaddexp(0.0, -z) + (1 - y) * np.logaddexp(0.0, z)
""",
)
wrong(
    "early_stopping_epochs",
    "a loss equal to the best counts as an improvement",
    """
def early_stopping_epochs(val_losses, patience, min_delta):
    best, best_epoch, waited = np.inf, -1, 0
    for epoch, loss in enumerate(val_losses):
        if loss <= best - min_delta:
            best, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
            if waited >= patience:
                return best_epoch, epoch
    return best_epoch, -1
""",
)
wrong(
    "early_stopping_epochs",
    "compares each epoch with the previous one, not with the best",
    """
def early_stopping_epochs(val_losses, patience, min_delta):
    previous, best_epoch, waited = np.inf, -1, 0
    for epoch, loss in enumerate(val_losses):
        if loss < previous - min_delta:
            best_epoch, waited = epoch, 0
        else:
            waited += 1
            if waited >= patience:
                return best_epoch, epoch
        previous = loss
    return best_epoch, -1
""",
)
wrong(
    "fold_batchnorm",
    "eps added after the square root",
    """
def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps):
    scale = gamma / (np.sqrt(running_var) + eps)
    return W * scale, (b - running_mean) * scale + beta
""",
)
wrong(
    "clip_by_global_norm",
    "each gradient clipped to max_norm on its own",
    """
def clip_by_global_norm(grads, max_norm):
    return [g * min(1.0, max_norm / max(np.sqrt(np.sum(g**2)), 1e-300)) for g in grads]
""",
)
right(
    "clip_by_global_norm",
    "max_norm / max(norm, max_norm)",
    """
def clip_by_global_norm(grads, max_norm):
    norm = np.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    return [g * (max_norm / max(norm, max_norm)) for g in grads]
""",
)
wrong(
    "generator_loss",
    "-log(sigmoid(z)) computed directly: inf for very negative logits",
    """
def generator_loss(fake_logits):
    p = 1.0 / (1.0 + np.exp(-fake_logits))
    return np.mean(-np.log(p)), -(1.0 - p) / len(fake_logits)
""",
)
wrong(
    "cutout",
    "no clipping at the top and left edges (a negative start wraps around)",
    """
def cutout(x, top, left, size):
    out = x.copy()
    for n in range(x.shape[0]):
        out[n, :, top[n] : top[n] + size, left[n] : left[n] + size] = 0.0
    return out
""",
)
wrong(
    "sliding_window_attention",
    "a window of window + 1 positions (rows - cols <= window)",
    """
def sliding_window_attention(q, k, v, window):
    T, d = q.shape[1], q.shape[2]
    rows, cols = np.indices((T, T))
    allowed = (cols <= rows) & (rows - cols <= window)
    s = np.where(allowed, q @ k.transpose(0, 2, 1) / np.sqrt(d), -np.inf)
    w = np.exp(s - s.max(axis=2, keepdims=True))
    return (w / w.sum(axis=2, keepdims=True)) @ v
""",
)
wrong(
    "softmax_temperature_backward",
    "forgets the 1/tau of the chain rule",
    """
def softmax_temperature_backward(z, dp, tau):
    u = z / tau
    p = np.exp(u - u.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return p * (dp - np.sum(p * dp, axis=1, keepdims=True))
""",
)
wrong(
    "softmax_temperature_backward",
    "softmax without subtracting the max: overflows for large z / tau",
    """
def softmax_temperature_backward(z, dp, tau):
    e = np.exp(z / tau)
    p = e / e.sum(axis=1, keepdims=True)
    return p * (dp - np.sum(p * dp, axis=1, keepdims=True)) / tau
""",
)
wrong(
    "lstm_step_backward",
    "gates read in the order i, f, o, g (the task's order is i, f, g, o)",
    """
def lstm_step_backward(dh, dc, x, h_prev, c_prev, Wx, Wh, b):
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))
    i, f, o, g = sig(a[:, :H]), sig(a[:, H : 2 * H]), sig(a[:, 2 * H : 3 * H]), np.tanh(a[:, 3 * H :])
    c = f * c_prev + i * g
    tc = np.tanh(c)
    dct = dc + dh * o * (1 - tc**2)
    da = np.concatenate(
        [dct * g * i * (1 - i), dct * c_prev * f * (1 - f), dh * tc * o * (1 - o), dct * i * (1 - g**2)], axis=1
    )
    return da @ Wx.T, da @ Wh.T, dct * f, x.T @ da, h_prev.T @ da, da.sum(axis=0)
""",
)
wrong(
    "groupnorm_forward",
    "normalises each feature over the batch (batch norm), not each group of a sample",
    """
def groupnorm_forward(x, gamma, beta, groups, eps):
    return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta
""",
)
wrong(
    "sparsity_penalty",
    "rho_hat averaged over the units of a sample instead of over the batch",
    """
def sparsity_penalty(h, rho, beta):
    rho_hat = h.mean(axis=1, keepdims=True)
    kl = rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))
    d = beta * ((1 - rho) / (1 - rho_hat) - rho / rho_hat) / h.shape[1]
    return float(beta * np.sum(kl)), np.broadcast_to(d, h.shape).copy()
""",
)

# ------------------------------------------------------------------ 17: attention's backward
_ATTENTION_BACKWARD = """
def attention_backward(dout, q, k, v, causal):
    T, d = q.shape[1], q.shape[2]
    S = q @ k.transpose(0, 2, 1) / np.sqrt(d)
    if causal and {mask}:
        S = np.where(np.tril(np.ones((T, T), dtype=bool)), S, -np.inf)
    P = np.exp(S - S.max(axis=2, keepdims=True){no_max})
    P = P / P.sum(axis=2, keepdims=True)
    dP = dout @ v.transpose(0, 2, 1)
    dS = {dS}
    scale = {scale}
    return dS @ k * scale, dS.transpose(0, 2, 1) @ q * scale, P.transpose(0, 2, 1) @ dout
"""


def _attention(
    mask="True", no_max="", dS="P * (dP - (P * dP).sum(axis=2, keepdims=True))", scale="1 / np.sqrt(d)"
):
    return _ATTENTION_BACKWARD.format(mask=mask, no_max=no_max, dS=dS, scale=scale)


right("attention_backward", "batched matmuls and np.tril", _attention())
right(
    "attention_backward",
    "the masked scores set to -1e30 instead of -inf",
    _attention().replace("-np.inf", "-1e30"),
)
wrong("attention_backward", "forgets the 1/sqrt(d) scale in dq and dk", _attention(scale="1.0"))
wrong("attention_backward", "the softmax Jacobian without its row sum", _attention(dS="P * dP"))
wrong("attention_backward", "the mask is left out of the backward", _attention(mask="False"))
wrong(
    "attention_backward",
    "exp without the row maximum (overflows for scores near 1000)",
    _attention(no_max=" * 0"),
)

# ------------------------------------------------------------------ edge cases, chapter by chapter
wrong(
    "blocks_for",
    "n // threads + 1: one block too many when threads divides n",
    """
def blocks_for(n, threads):
    return n // threads + 1
""",
)
right(
    "blocks_for",
    "math.ceil of an exact integer division",
    """
def blocks_for(n, threads):
    return -(-n // threads)
""",
)
wrong(
    "activation_derivatives",
    "softplus' as e^z / (1 + e^z): inf / inf for large z",
    """
def softplus_derivative(z):
    return np.exp(z) / (1.0 + np.exp(z))

def elu_derivative(z, alpha):
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))

def hard_swish_derivative(z):
    return np.where(z <= -3, 0.0, np.where(z >= 3, 1.0, (2 * z + 3) / 6))
""",
)
wrong(
    "activation_derivatives",
    "elu' ignores alpha (uses 1)",
    """
def softplus_derivative(z):
    return 0.5 * (1 + np.tanh(z / 2))

def elu_derivative(z, alpha):
    return np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0)))

def hard_swish_derivative(z):
    return np.where(z <= -3, 0.0, np.where(z >= 3, 1.0, (2 * z + 3) / 6))
""",
)
right(
    "activation_derivatives",
    "softplus' as (1 + tanh(z/2)) / 2",
    """
def softplus_derivative(z):
    return 0.5 * (1 + np.tanh(z / 2))

def elu_derivative(z, alpha):
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))

def hard_swish_derivative(z):
    return np.where(z <= -3, 0.0, np.where(z >= 3, 1.0, (2 * z + 3) / 6))
""",
)
wrong(
    "softmax_cross_entropy_backward",
    "ignores smoothing (one-hot targets)",
    """
def softmax_cross_entropy_backward(logits, labels, smoothing):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(len(labels)), labels] -= 1.0
    return p / len(labels)
""",
)
wrong(
    "softmax_cross_entropy_backward",
    "softmax without the row maximum: overflows for large logits",
    """
def softmax_cross_entropy_backward(logits, labels, smoothing):
    n, k = logits.shape
    e = np.exp(logits)
    t = np.full((n, k), smoothing / k)
    t[np.arange(n), labels] += 1 - smoothing
    return (e / e.sum(axis=1, keepdims=True) - t) / n
""",
)
wrong(
    "adam_update",
    "updates m and v in place",
    """
def adam_update(w, dw, m, v, t, lr, beta1, beta2, eps):
    m *= beta1
    m += (1 - beta1) * dw
    v *= beta2
    v += (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v
""",
)
wrong(
    "adam_update",
    "eps fixed at 1e-8 instead of the argument",
    """
def adam_update(w, dw, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + 1e-8), m, v
""",
)
wrong(
    "l2_penalty",
    "gradient lam * W (the factor 2 of d/dW W^2 dropped)",
    """
def l2_penalty(W, lam):
    return lam * np.sum(W**2), lam * W
""",
)
wrong(
    "max_norm",
    "normalises every column to norm c",
    """
def max_norm(W, c):
    return W * c / np.linalg.norm(W, axis=0)
""",
)
wrong(
    "conv2d_weight_gradient",
    "ignores the padding",
    """
def conv2d_weight_gradient(dy, x, kh, kw, stride, pad):
    n, f, oh, ow = dy.shape
    dW = np.zeros((f, x.shape[1], kh, kw))
    for a in range(kh):
        for b in range(kw):
            seen = x[:, :, a : a + stride * oh : stride, b : b + stride * ow : stride]
            if seen.shape[2:] != (oh, ow):
                seen = np.pad(seen, ((0, 0), (0, 0), (0, oh - seen.shape[2]), (0, ow - seen.shape[3])))
            dW[:, :, a, b] = np.einsum("nfij,ncij->fc", dy, seen)
    return dW, dy.sum(axis=(0, 2, 3))
""",
)
wrong(
    "im2col",
    "a patch's columns in (KH, KW, C) order instead of (C, KH, KW)",
    """
def im2col(x, kh, kw, stride, pad):
    n, c, h, w = x.shape
    p = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    rows = []
    for s in range(n):
        for i in range(oh):
            for j in range(ow):
                rows.append(p[s, :, i * stride : i * stride + kh, j * stride : j * stride + kw].transpose(1, 2, 0).ravel())
    return np.array(rows)
""",
)
wrong(
    "avgpool2d_backward_numba",
    "overlapping windows overwrite (=) instead of adding",
    """
from numba import njit

@njit
def avgpool2d_backward_numba(dy, height, width, pool, stride):
    n, c, oh, ow = dy.shape
    dx = np.zeros((n, c, height, width), dtype=dy.dtype)
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    for r in range(i * stride, i * stride + pool):
                        for s in range(j * stride, j * stride + pool):
                            dx[b, ch, r, s] = dy[b, ch, i, j] / (pool * pool)
    return dx
""",
)
wrong(
    "ridge_probe",
    "lam ignored (plain least squares)",
    """
def ridge_probe(features, labels, n_classes, lam):
    design = np.column_stack([features, np.ones(len(features))])
    targets = np.eye(n_classes)[labels]
    return np.linalg.lstsq(design, targets, rcond=None)[0]
""",
)
right(
    "ridge_probe",
    "the normal equations solved with lstsq on an augmented system",
    """
def ridge_probe(features, labels, n_classes, lam):
    design = np.column_stack([features, np.ones(len(features))])
    targets = np.eye(n_classes)[labels]
    augmented = np.vstack([design, np.sqrt(lam) * np.eye(design.shape[1])])
    padded = np.vstack([targets, np.zeros((design.shape[1], n_classes))])
    return np.linalg.lstsq(augmented, padded, rcond=None)[0]
""",
)
wrong(
    "delta_features",
    "the ends wrap around (np.roll) instead of repeating the edge frames",
    """
def delta_features(features, width):
    total = sum(n * (np.roll(features, -n, axis=0) - np.roll(features, n, axis=0)) for n in range(1, width + 1))
    return total / (2 * sum(n**2 for n in range(1, width + 1)))
""",
)
wrong(
    "masked_cmvn",
    "padding frames counted in the statistics",
    """
def masked_cmvn(features, lengths):
    mean = features.mean(axis=1, keepdims=True)
    std = features.std(axis=1, keepdims=True)
    real = (np.arange(features.shape[1])[None, :] < np.asarray(lengths)[:, None])[:, :, None]
    return np.where(real, (features - mean) / std, 0.0)
""",
)
wrong(
    "leaky_relu_init_std",
    "He's sqrt(2 / fan_in), ignoring alpha",
    """
def leaky_relu_init_std(fan_in, alpha):
    return np.sqrt(2.0 / fan_in)
""",
)
wrong(
    "alibi_attention",
    "the penalty added instead of subtracted",
    """
def alibi_attention(q, k, v, slope):
    T, d = q.shape[1], q.shape[2]
    dist = np.arange(T)[:, None] - np.arange(T)[None, :]
    s = q @ k.transpose(0, 2, 1) / np.sqrt(d) + slope * dist
    s = np.where(dist >= 0, s, -np.inf)
    w = np.exp(s - s.max(axis=2, keepdims=True))
    return (w / w.sum(axis=2, keepdims=True)) @ v
""",
)
wrong(
    "discriminator_loss",
    "log(sigmoid) computed directly: inf for large logits",
    """
def discriminator_loss(real_logits, fake_logits):
    pr, pf = 1 / (1 + np.exp(-real_logits)), 1 / (1 + np.exp(-fake_logits))
    loss = -np.mean(np.log(pr)) - np.mean(np.log(1 - pf))
    return loss, -(1 - pr) / len(pr), pf / len(pf)
""",
)
wrong(
    "lstm_from_torch",
    "only bias_ih kept (bias_hh dropped)",
    """
def lstm_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
    return weight_ih.T.copy(), weight_hh.T.copy(), bias_ih.copy()
""",
)
wrong(
    "dense_after_flatten_from_keras",
    "the kernel returned as it is",
    """
def dense_after_flatten_from_keras(kernel, height, width, channels):
    return kernel.copy()
""",
)

# ------------------------------------------------------------------ outputs that are views of the inputs
wrong(
    "conv_kernel_from_keras",
    "returns a transposed view of the Keras kernel",
    """
def conv_kernel_from_keras(kernel):
    return kernel.transpose(3, 2, 0, 1)
""",
)
right(
    "conv_kernel_from_keras",
    "np.ascontiguousarray of the transpose",
    """
def conv_kernel_from_keras(kernel):
    return np.ascontiguousarray(np.moveaxis(kernel, (3, 2), (0, 1)))
""",
)
wrong(
    "lstm_from_torch",
    "returns views weight_ih.T and weight_hh.T",
    """
def lstm_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
    return weight_ih.T, weight_hh.T, bias_ih + bias_hh
""",
)

# ------------------------------------------------------------------ the rest of the sets
wrong(
    "linear_regression_gradient",
    "the factor 2 of the square dropped",
    """
def linear_regression_gradient(X, y, w, b):
    r = X @ w + b - y
    return X.T @ r / len(y), r.mean()
""",
)
right(
    "linear_regression_gradient",
    "the mean of per-sample gradients",
    """
def linear_regression_gradient(X, y, w, b):
    r = X @ w + b - y
    return np.mean(2 * r[:, None] * X, axis=0), np.mean(2 * r)
""",
)
wrong(
    "logistic_regression_gradient",
    "pos_weight ignored",
    """
def logistic_regression_gradient(X, y, w, b, pos_weight):
    p = 1 / (1 + np.exp(-(X @ w + b)))
    return X.T @ (p - y) / len(y), np.mean(p - y)
""",
)
wrong(
    "groupnorm_backward",
    "dx as if the mean and variance were constants",
    """
def groupnorm_backward(dy, x, gamma, groups, eps):
    n, c = x.shape
    blocks = x.reshape(n, groups, c // groups)
    sigma = np.sqrt(blocks.var(axis=2, keepdims=True) + eps)
    x_hat = ((blocks - blocks.mean(axis=2, keepdims=True)) / sigma).reshape(n, c)
    dx = (dy * gamma).reshape(n, groups, c // groups) / sigma
    return dx.reshape(n, c), (dy * x_hat).sum(axis=0), dy.sum(axis=0)
""",
)
wrong(
    "ema_weights",
    "no bias correction",
    """
def ema_weights(average, w, decay, t):
    average = decay * average + (1 - decay) * w
    return average, average
""",
)
wrong(
    "rnn_bptt",
    "the gradient from later steps not carried back (each step on its own)",
    """
def rnn_bptt(dhs, xs, h0, Wx, Wh, b):
    hs = [h0]
    for x in xs:
        hs.append(np.tanh(x @ Wx + hs[-1] @ Wh + b))
    dxs, dWx, dWh, db = np.zeros_like(xs), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh0 = np.zeros_like(h0)
    for t in reversed(range(len(xs))):
        local = dhs[t] * (1 - hs[t + 1] ** 2)
        dxs[t] = local @ Wx.T
        dWx += xs[t].T @ local
        dWh += hs[t].T @ local
        db += local.sum(axis=0)
        if t == 0:
            dh0 = local @ Wh.T
    return dxs, dh0, dWx, dWh, db
""",
)
wrong(
    "tied_autoencoder_gradient",
    "dW from the encoder's use only (the decoder W.T forgotten)",
    """
def tied_autoencoder_gradient(x, W, b_enc, b_dec):
    pre = x @ W + b_enc
    code = np.maximum(pre, 0)
    r = code @ W.T + b_dec - x
    g = 2 * r / x.size
    g_pre = (g @ W) * (pre > 0)
    return float(np.mean(r**2)), x.T @ g_pre, g_pre.sum(axis=0), g.sum(axis=0)
""",
)
wrong(
    "autoencoder_train_step",
    "returns the loss after the update",
    """
def autoencoder_train_step(x, W1, b1, W2, b2, lr):
    def forward(W1, b1, W2, b2):
        a1 = x @ W1 + b1
        h = np.maximum(a1, 0)
        return a1, h, 1 / (1 + np.exp(-(h @ W2 + b2)))
    a1, h, xh = forward(W1, b1, W2, b2)
    d = 2 * (xh - x) / x.size * xh * (1 - xh)
    dh = (d @ W2.T) * (a1 > 0)
    W1, b1, W2, b2 = W1 - lr * x.T @ dh, b1 - lr * dh.sum(0), W2 - lr * h.T @ d, b2 - lr * d.sum(0)
    return float(np.mean((forward(W1, b1, W2, b2)[2] - x) ** 2)), W1, b1, W2, b2
""",
)
wrong(
    "generator_step",
    "the saturating loss log(1 - D(G(z)))",
    """
def generator_step(z, Wg, bg, Wd, bd, lr):
    s = np.tanh(z @ Wg + bg)
    logits = s @ Wd + bd
    dlogits = -np.exp(-np.logaddexp(0.0, -logits)) / z.shape[0]
    d_pre = np.outer(dlogits, Wd) * (1 - s**2)
    return Wg - lr * z.T @ d_pre, bg - lr * d_pre.sum(axis=0)
""",
)
wrong(
    "bias_relu_cuda",
    "the bias indexed by i % C (channels-last)",
    '''
BIAS_RELU_SOURCE = r"""
extern "C" __global__ void bias_relu(const float* x, const float* b, float* y, int n, int channels, int hw)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float v = x[i] + b[i % channels];
        y[i] = v > 0.0f ? v : 0.0f;
    }
}
"""
''',
)
wrong(
    "relu_backward_cuda",
    "one element per thread, no grid-stride loop",
    '''
RELU_BACKWARD_SOURCE = r"""
extern "C" __global__ void relu_backward(const float* dy, const float* x, float* dx, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}
"""
''',
)
wrong(
    "projection_residual_backward",
    "dx misses the projection shortcut's path",
    """
def projection_residual_backward(dy, x, W1, W2, Ws):
    a = x @ W1
    h = np.maximum(a, 0)
    dz = dy * (h @ W2 + x @ Ws > 0)
    da = (dz @ W2.T) * (a > 0)
    return da @ W1.T, x.T @ da, h.T @ dz, x.T @ dz
""",
)
wrong(
    "maxpool2d_numba",
    "right numbers, but not compiled",
    """
def maxpool2d_numba(x, pool, stride):
    n, c, h, w = x.shape
    oh, ow = (h - pool) // stride + 1, (w - pool) // stride + 1
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x[:, :, i * stride : i * stride + pool, j * stride : j * stride + pool].max(axis=(2, 3))
    return out
""",
)
wrong(
    "dense_forward",
    "the bias left out",
    """
def dense_forward(x, W, b):
    return x @ W
""",
)
wrong(
    "weight_norm_backward",
    "dv as the plain Dense gradient (the normalisation ignored)",
    """
def weight_norm_backward(dy, x, v, g):
    n = np.linalg.norm(v, axis=0)
    u = v / n
    dW = x.T @ dy
    return dy @ (g * u).T, dW, (dW * u).sum(axis=0), dy.sum(axis=0)
""",
)
