"""Wrong answers of the sixth review (issue 68): a third strict TA's and the two earlier TAs'
hidden answers that scored full marks, in the catalogue's form (``wrong``/``right`` of
``tests.grader.specs.wrong_answers``; ``tests/grader/specs/test_wrong_answers.py`` judges them
with the rest). Each must score below full marks at every catalogue seed.
"""

from __future__ import annotations

from tests.grader.specs.wrong_answers import right, wrong

# ------------------------------------------------------------------ the two earlier TAs' kinds
# Each scored full marks before the cases below were added; each is paired with a right answer
# written another way, which must still score full.

# 10 depthwise_conv2d_numba: a case with a tall image and a wide kernel (OH = 10, OW = 5)
_DEPTHWISE = """
from numba import njit

@njit
def depthwise_conv2d_numba(x, W, stride, pad):
    n, c, h, w = x.shape
    kh, kw = W.shape[1], W.shape[2]
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (w + 2 * pad - kw) // stride + 1
    y = np.zeros((n, c, oh, ow), dtype=x.dtype)
    for s in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    acc = 0.0
                    for a in range(kh):
                        for b in range(kw):
                            r = i * stride + a - pad
                            q = j * stride + b - pad
                            if r >= 0 and r < h and q >= 0 and q < w:
                                acc += W[ch, a, b] * x[s, ch, r, q]
                    y[s, ch, i, j] = acc
    return y
"""
right("depthwise_conv2d_numba", "every tap tested against both edges of x, OH and OW apart", _DEPTHWISE)
wrong(
    "depthwise_conv2d_numba",
    "the image taken as square: OW = OH",
    _DEPTHWISE.replace("    ow = (w + 2 * pad - kw) // stride + 1\n", "    ow = oh\n"),
)
wrong(
    "depthwise_conv2d_numba",
    "the kernel taken as square in the output size: OH from KW",
    _DEPTHWISE.replace("oh = (h + 2 * pad - kh)", "oh = (h + 2 * pad - kw)"),
)

# 10 relu_backward_numba, 11 relu_backward_cuda: dy holds inf and -inf where x <= 0
_RELU_NUMBA = """
from numba import njit, prange

@njit(parallel=True)
def relu_backward_numba(dy, x):
    flat_dy, flat_x = dy.ravel(), x.ravel()
    dx = np.zeros_like(flat_dy)
    for i in prange(flat_x.size):
        if flat_x[i] > 0:
            dx[i] = flat_dy[i]
    return dx.reshape(dy.shape)
"""
right("relu_backward_numba", "zeros, then dy copied where x > 0", _RELU_NUMBA)
wrong(
    "relu_backward_numba",
    "dy times the step (x > 0): an infinite dy at a dead unit becomes NaN",
    _RELU_NUMBA.replace(
        "        if flat_x[i] > 0:\n            dx[i] = flat_dy[i]\n",
        "        dx[i] = flat_dy[i] * (flat_x[i] > 0)\n",
    ),
)
_RELU_CUDA = '''
RELU_BACKWARD_SOURCE = r"""
extern "C" __global__ void relu_backward(const float* dy, const float* x, float* dx, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        if (x[i] > 0.0f) dx[i] = dy[i];
        else dx[i] = 0.0f;
    }
}
"""
'''
right("relu_backward_cuda", "an if and an else in the grid-stride loop", _RELU_CUDA)
wrong(
    "relu_backward_cuda",
    "dy times the step (x > 0): an infinite dy at a dead unit becomes NaN",
    _RELU_CUDA.replace(
        "        if (x[i] > 0.0f) dx[i] = dy[i];\n        else dx[i] = 0.0f;\n",
        "        dx[i] = dy[i] * (float)(x[i] > 0.0f);\n",
    ),
)

# 09 freeze_all_but_last: some models hold a BatchNorm after the first Dense
_FREEZE = """
def freeze_all_but_last(model, n_trainable):
    weighted = [layer for layer in model.layers if len(layer.params) > 0]
    for k, layer in enumerate(weighted):
        layer.trainable = k >= len(weighted) - n_trainable
"""
right("freeze_all_but_last", "one loop over the layers with params, a comparison per layer", _FREEZE)
wrong(
    "freeze_all_but_last",
    "the weighted layers found by isinstance(layer, Dense): the BatchNorm left out",
    "\nfrom minidl.nn.layers import Dense\n"
    + _FREEZE.replace("if len(layer.params) > 0", "if isinstance(layer, Dense)"),
)

# 09 discriminative_fine_tune_step: the parameters must be the same arrays after the step
_FINE_TUNE = """
def discriminative_fine_tune_step(model, x, y, loss_fn, lr):
    loss = float(loss_fn(model.forward(x, training=True), y))
    model.backward(loss_fn.backward())
    weighted = [layer for layer in model.layers if layer.params]
    for depth, layer in enumerate(weighted[::-1]):
        if not layer.trainable:
            continue
        for key in layer.params:
            layer.params[key][...] = layer.params[key] - lr / 2.6**depth * layer.grads[key]
    return loss
"""
right(
    "discriminative_fine_tune_step",
    "the new values written into the arrays (params[key][...] = ...)",
    _FINE_TUNE,
)
wrong(
    "discriminative_fine_tune_step",
    "the parameters bound to new arrays (params[key] = params[key] - ...), not updated in place",
    _FINE_TUNE.replace("layer.params[key][...] = ", "layer.params[key] = "),
)

# 04 ema_weights: 1500 snapshots at decay 0.5, where decay**-t overflows
right(
    "ema_weights",
    "vectorised: a lower-triangular matrix of the weights decay**(t - s), never a negative power",
    """
def ema_weights(snapshots, decay):
    T = len(snapshots)
    t = np.arange(1, T + 1)
    lag = t[:, None] - t[None, :]
    weights = np.where(lag >= 0, (1 - decay) * decay ** np.maximum(lag, 0), 0.0)
    averaged = weights @ snapshots.reshape(T, int(np.prod(snapshots.shape[1:])))
    return (averaged / (1 - decay**t)[:, None]).reshape(snapshots.shape)
""",
)
wrong(
    "ema_weights",
    "a closed form through decay**-t: overflows on a long run (0.5**-1024 is inf)",
    """
def ema_weights(snapshots, decay):
    t = np.arange(1, len(snapshots) + 1).reshape(-1, *[1] * (snapshots.ndim - 1))
    running = (1 - decay) * decay**t * np.cumsum(snapshots * decay ** (-t), axis=0)
    return running / (1 - decay**t)
""",
)

# 14 masked_max_pool: padding that holds the real maximum, before the real steps too
_MASKED_MAX = """
def masked_max_pool(h, mask, dout):
    N, T, H = h.shape
    out = np.zeros((N, H))
    dh = np.zeros((N, T, H))
    for n in range(N):
        real = np.flatnonzero(mask[n])
        for k in range(H):
            best = real[np.argmax(h[n, real, k])]
            out[n, k] = h[n, best, k]
            dh[n, best, k] = dout[n, k]
    return out, dh
"""
right("masked_max_pool", "a loop over the rows, argmax over the real steps' indices", _MASKED_MAX)
wrong(
    "masked_max_pool",
    "the step of the maximum found in h itself (h == out): a padding step that equals it wins",
    """
def masked_max_pool(h, mask, dout):
    out = np.where(mask[:, :, None], h, -np.inf).max(axis=1)
    first = (h == out[:, None, :]).argmax(axis=1)
    dh = np.zeros_like(h)
    np.put_along_axis(dh, first[:, None, :], dout[:, None, :], axis=1)
    return out, dh
""",
)

# 14 rouge_l_fbeta: a case with doubled and outer spaces, a tab and a newline
_ROUGE = """
import re

def rouge_l_fbeta(candidate, reference, beta):
    cand, ref = re.findall(r"\\S+", candidate), re.findall(r"\\S+", reference)
    table = [[0] * (len(ref) + 1) for _ in range(len(cand) + 1)]
    for i, a in enumerate(cand):
        for j, b in enumerate(ref):
            table[i + 1][j + 1] = table[i][j] + 1 if a == b else max(table[i][j + 1], table[i + 1][j])
    lcs = table[-1][-1]
    if lcs == 0:
        return 0.0
    p, r = lcs / len(cand), lcs / len(ref)
    return (1 + beta**2) * p * r / (r + beta**2 * p)
"""
right("rouge_l_fbeta", "the words found by a regular expression (\\S+), the whole LCS table", _ROUGE)
wrong(
    "rouge_l_fbeta",
    "the words split on one space (split(' ')): empty words, and 'side\\twon' one word",
    _ROUGE.replace(
        're.findall(r"\\S+", candidate), re.findall(r"\\S+", reference)',
        "candidate.split(' '), reference.split(' ')",
    ),
)
wrong(
    "rouge_l_fbeta",
    "the words split by re.split(r'\\s+'): an empty word where a text starts or ends with a space",
    _ROUGE.replace(
        're.findall(r"\\S+", candidate), re.findall(r"\\S+", reference)',
        're.split(r"\\s+", candidate), re.split(r"\\s+", reference)',
    ),
)
