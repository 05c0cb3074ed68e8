"""Chapter 25, frameworks: carrying trained weights from Keras and PyTorch into minidl, and
a mixed-precision step with a dynamic loss scale (a repair).

The inputs are the arrays a framework's ``state_dict()`` or ``get_weights()`` returns,
drawn here as NumPy arrays: neither framework is needed to grade (or to solve) these."""

from functools import partial

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "25_frameworks"


# ---------------------------------------------------------------- GRU from Keras
def _gates_taken(kernel, recurrent_kernel, bias, blocks):
    """The columns of the three arrays (and both bias rows) as Keras's gate blocks ``blocks``."""
    h = recurrent_kernel.shape[0]
    order = np.concatenate([np.arange(k * h, (k + 1) * h) for k in blocks])
    return kernel[:, order], recurrent_kernel[:, order], bias[0, order], bias[1, order]


def gru_from_keras(kernel, recurrent_kernel, bias):
    """Keras's GRU (reset_after=True, Keras 3's default): kernel (D, 3H), recurrent_kernel
    (H, 3H), bias (2, 3H) (row 0 the input bias, row 1 the recurrent one), gate blocks
    [z | r | h]; as minidl's GRU's Wx (D, 3H), Wh (H, 3H), bx, bh (3H,), blocks [r | z | n]."""
    return _gates_taken(kernel, recurrent_kernel, bias, (1, 0, 2))  # Keras's r, z, then h


def _gru_biases_summed(kernel, recurrent_kernel, bias):
    Wx, Wh, bx, bh = gru_from_keras(kernel, recurrent_kernel, bias)
    return Wx, Wh, bx + bh, np.zeros_like(bh)


def _gru_cases(rng):
    cases = []
    for d, h in ((3, 2), (2, 5), (4, 1)):
        cases.append(
            Case(
                (
                    rng.standard_normal((d, 3 * h)),
                    rng.standard_normal((h, 3 * h)),
                    rng.standard_normal((2, 3 * h)),
                ),
                label=f"keras.layers.GRU({h}) on {d} inputs",
            )
        )
    return cases


function_exercise(
    "gru_from_keras",
    CHAPTER,
    2,
    "gru_from_keras",
    "A GRU's weights from Keras to minidl",
    _gru_cases,
    gru_from_keras,
    ("Wx", "Wh", "bx", "bh"),
    mistakes=(
        (
            "the gate blocks are left in Keras's order [z | r | h]; minidl's GRU reads [r | z | n]: "
            "move the first two blocks, the candidate block stays last",
            lambda k, rk, b: _gates_taken(k, rk, b, (0, 1, 2)),
        ),
        (
            "the two biases were added into bx (bh zero): right for r and z, wrong for the candidate, "
            "where the reset gate multiplies h Wh_n + bh_n, recurrent bias included",
            _gru_biases_summed,
        ),
        (
            "the bias rows are swapped: Keras's bias[0] is the input bias (bx), bias[1] the recurrent one (bh)",
            lambda k, rk, b: gru_from_keras(k, rk, b[::-1]),
        ),
        (
            "the gate blocks are reversed ([h | r | z]); only z and r trade places, the candidate stays last",
            lambda k, rk, b: _gates_taken(k, rk, b, (2, 1, 0)),
        ),
    ),
    forbids=("minidl_keras", "minidl.nn.layers.recurrent"),
    fresh_outputs=True,
    dtypes="float64",
)


# ---------------------------------------------------------------- a Keras transposed-conv kernel
def conv_transpose_from_keras(kernel):
    """Keras's Conv2DTranspose kernel (KH, KW, F, C_in) -- the kernel of the Conv2D it is the
    adjoint of, which maps F channels to C_in -- as minidl's (PyTorch's) W (C_in, F, KH, KW).
    No flip: both are the adjoint of the same cross-correlation."""
    return kernel.transpose(3, 2, 0, 1)


def _conv_transpose_cases(rng):
    return [
        Case((rng.standard_normal(shape),), label=f"a Keras Conv2DTranspose kernel {shape}")
        for shape in ((3, 2, 4, 5), (3, 3, 2, 2), (1, 4, 3, 6), (2, 2, 1, 3))
    ]


function_exercise(
    "conv_transpose_from_keras",
    CHAPTER,
    1,
    "conv_transpose_from_keras",
    "A transposed convolution's kernel from Keras's layout to minidl's",
    _conv_transpose_cases,
    conv_transpose_from_keras,
    ("W",),
    mistakes=(
        (
            "the channel roles are swapped: Keras keeps the kernel of the Conv2D this layer reverses, "
            "so its third axis is this layer's filters F and its fourth its input channels C_in",
            lambda k: k.transpose(2, 3, 0, 1),
        ),
        (
            "the kernel was flipped in height and width: no flip, Keras's and PyTorch's transposed "
            "convolutions are the adjoint of the same cross-correlation",
            lambda k: k.transpose(3, 2, 0, 1)[:, :, ::-1, ::-1],
        ),
        (
            "the kernel's height and width are swapped: Keras's first two axes are (KH, KW) "
            "and stay in that order",
            lambda k: k.transpose(3, 2, 1, 0),
        ),
    ),
    forbids=("minidl_keras", "minidl.nn.layers.upsampling"),
    fresh_outputs=True,
    dtypes="float64",
)


# ---------------------------------------------------------------- a Dense after Flatten
def dense_after_flatten_from_keras(kernel, height, width, channels):
    """Keras flattens (H, W, C) feature maps, minidl (C, H, W). The first Dense's kernel
    (H*W*C, M) from Keras, with its rows reordered so that minidl's flatten meets them."""
    m = kernel.shape[1]
    return kernel.reshape(height, width, channels, m).transpose(2, 0, 1, 3).reshape(-1, m)


def _flatten_cases(rng):
    cases = []
    for h, w, c, m in ((2, 3, 4, 5), (3, 3, 2, 3), (4, 2, 3, 2), (2, 1, 3, 1)):  # last: W = 1, one unit
        cases.append(
            Case(
                (rng.standard_normal((h * w * c, m)), h, w, c),
                label=f"feature maps of (H, W, C) = {(h, w, c)}, {m} units",
            )
        )
    return cases


function_exercise(
    "dense_after_flatten_from_keras",
    CHAPTER,
    3,
    "dense_after_flatten_from_keras",
    "The Dense layer after a Flatten, from channels-last to channels-first",
    _flatten_cases,
    dense_after_flatten_from_keras,
    ("W",),
    mistakes=(
        (
            "the kernel is returned as it is: the same feature-map value sits at another "
            "row in a (C, H, W) flatten than in an (H, W, C) one",
            lambda k, h, w, c: k,
        ),
        (
            "the rows are reordered as if minidl flattened (C, W, H); its maps are (C, H, W)",
            lambda k, h, w, c: k.reshape(h, w, c, -1).transpose(2, 1, 0, 3).reshape(-1, k.shape[1]),
        ),
        (
            "the rows are permuted the other way round (from (C, H, W) to (H, W, C)): read "
            "Keras's rows as (H, W, C) and put them in (C, H, W) order",
            lambda k, h, w, c: k.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(-1, k.shape[1]),
        ),
    ),
    forbids=("minidl_keras",),
    fresh_outputs=True,
    dtypes="float64",
    equivalent_mutants={
        "dense_after_flatten_from_keras: const: 1 -> 2 #2": "NumPy reads any negative size in a "
        "reshape as the one it works out: reshape(-2, m) is reshape(-1, m)",
    },
)


# ---------------------------------------------------------------- mixed precision: dynamic loss scaling (a repair)
def loss_scaled_sgd_step(master, scaled_grad, scale, good_steps, lr, growth_interval):
    """One SGD step of mixed-precision training with a dynamic loss scale (PyTorch's GradScaler):
    the float16 gradient of scale * loss unscaled in float32; a step with an inf or a NaN is
    skipped and halves the scale; growth_interval good steps in a row double it."""
    grad = scaled_grad.astype(np.float32) / np.float32(scale)  # a power of two: exact
    if not np.isfinite(grad).all():
        return master.copy(), scale * 0.5, 0
    updated = master - np.float32(lr) * grad
    good_steps += 1
    if good_steps == growth_interval:
        return updated, scale * 2.0, 0
    return updated, scale, good_steps


def _step_with(master, scaled_grad, scale, good_steps, lr, growth_interval, **mistake):
    """The step with one of the student's bugs left in: ``half_unscale`` (divided in float16),
    ``nan_only`` (only NaN skips), ``half_update`` (the update on a float16 copy), ``no_reset``
    (the count kept after the scale grows)."""
    if mistake.get("half_unscale"):
        with np.errstate(over="ignore", invalid="ignore"):
            grad = (scaled_grad / np.float16(scale)).astype(np.float32)
    else:
        grad = scaled_grad.astype(np.float32) / np.float32(scale)
    skip = np.isnan(grad).any() if mistake.get("nan_only") else not np.isfinite(grad).all()
    if skip:
        return master.copy(), scale * 0.5, 0
    with np.errstate(over="ignore", invalid="ignore"):
        if mistake.get("half_update"):
            copy16 = master.astype(np.float16)
            updated = (copy16 - np.float16(lr) * grad.astype(np.float16)).astype(np.float32)
        else:
            updated = master - np.float32(lr) * grad
    good_steps += 1
    if good_steps == growth_interval:
        return updated, scale * 2.0, good_steps if mistake.get("no_reset") else 0
    return updated, scale, good_steps


def _scaled_gradient(rng, shape, scale):
    """What a float16 backward of scale * loss gives: true gradients of magnitudes 1e-7 to 1e-2
    (the smallest below float16's reach unless scaled), times the scale, rounded to float16."""
    size = int(np.prod(shape))
    true = rng.choice([-1.0, 1.0], size) * 10.0 ** rng.uniform(-7, -2, size)
    with np.errstate(over="ignore"):
        return (true.reshape(shape) * scale).astype(np.float16)


def _scaling_cases(rng):
    cases = []
    for shape, scale, good_steps, interval, overflow, label in (
        ((4, 5), 65536.0, 0, 2000, None, "PyTorch's first scale, 2**16"),
        ((6,), 1024.0, 2, 3, None, "the third good step in a row: the scale grows"),
        ((3, 4), 65536.0, 7, 2000, "inf", "an overflow: an inf in the float16 gradient"),
        ((2, 3), 2.0**20, 5, 2000, "nan", "a NaN in the float16 gradient"),
        ((5,), 8192.0, 0, 1, None, "growth_interval 1: every good step doubles the scale"),
        ((1, 1), 4096.0, 12, 2000, None, "one weight"),
    ):
        master = (0.05 * rng.standard_normal(shape)).astype(np.float32)
        grad = _scaled_gradient(rng, shape, scale)
        if overflow:
            flat = grad.reshape(-1)
            flat[rng.integers(flat.size)] = np.inf if overflow == "inf" else np.nan
        lr = float(rng.choice([0.1, 0.5, 1.0]))
        cases.append(
            Case(
                (master, grad, scale, good_steps, lr, interval),
                label=f"{label}: weights {shape}, scale {scale:g}, good_steps {good_steps}, "
                f"growth_interval {interval}, lr {lr}",
            )
        )
    return cases


function_exercise(
    "loss_scaled_sgd_step",
    CHAPTER,
    2,
    "loss_scaled_sgd_step",
    "Mixed precision with a dynamic loss scale, repaired",
    _scaling_cases,
    loss_scaled_sgd_step,
    ("master", "scale", "good_steps"),
    mistakes=(
        (
            "the gradient was unscaled in float16: a float16 array divided by a Python float stays "
            "float16, and 65536 is inf there (its largest number is 65504), so every gradient became 0; "
            "convert to float32 before dividing",
            partial(_step_with, half_unscale=True),
        ),
        (
            "a step with an inf in its gradient was taken: a float16 overflow gives inf, not NaN, "
            "and np.isnan misses it; skip any step whose gradient is not finite",
            partial(_step_with, nan_only=True),
        ),
        (
            "the update was made on a float16 copy of the weights: steps smaller than float16's "
            "spacing near the weight vanish (1.0 + 1e-4 is 1.0 in float16); update the float32 master",
            partial(_step_with, half_update=True),
        ),
        (
            "the count of good steps was not restarted when the scale grew: after a growth it "
            "starts again from 0",
            partial(_step_with, no_reset=True),
        ),
    ),
    forbids=("minidl_keras",),
    catches=(
        "the scale halved on a good step or doubled on a skipped one",
        "the skipped step's weights moved (a NaN or inf written into the master weights)",
        "the master weights returned as float64 or float16",
    ),
    fresh_outputs=True,
    dtypes=("float32", "number", "int"),
    equivalent_mutants={
        "loss_scaled_sgd_step: augassign: good_steps += 1 -> *": "good_steps is an int: += makes a "
        "new int as = + does",
    },
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

_NOT_EMPTY = "a Keras layer has at least one unit and one input"
declare_edges(
    "gru_from_keras",
    ("size_one", "non_square"),
    {"empty": _NOT_EMPTY, "long_sequence": "its loop runs over the GRU's three gates"},
)
declare_edges("conv_transpose_from_keras", ("size_one", "non_square"), {"empty": _NOT_EMPTY})
declare_edges(
    "dense_after_flatten_from_keras", ("size_one", "non_square", "varied_settings"), {"empty": _NOT_EMPTY}
)
declare_edges(
    "loss_scaled_sgd_step",
    ("size_one", "non_square", "varied_settings", "float32", "inf_or_nan_input"),
    {"empty": "a model has at least one weight"},
)
