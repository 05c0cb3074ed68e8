"""Chapter 14, frameworks: carrying trained weights from Keras and PyTorch into minidl.

The inputs are the arrays a framework's ``state_dict()`` or ``get_weights()`` returns,
drawn here as NumPy arrays: neither framework is needed to grade (or to solve) these."""

from ..judge.registry import Case, function_exercise

CHAPTER = "14_frameworks"


# ---------------------------------------------------------------- LSTM from PyTorch
def lstm_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
    """PyTorch's nn.LSTM weights (4H, D), (4H, H), (4H,), (4H,), gates [i | f | g | o],
    as minidl's LSTM parameters Wx (D, 4H), Wh (H, 4H), b (4H,) in the same gate order."""
    return weight_ih.T, weight_hh.T, bias_ih + bias_hh


def _lstm_cases(rng):
    cases = []
    for d, h in ((3, 2), (5, 4)):
        cases.append(
            Case(
                (
                    rng.standard_normal((4 * h, d)),
                    rng.standard_normal((4 * h, h)),
                    rng.standard_normal(4 * h),
                    rng.standard_normal(4 * h),
                ),
                label=f"nn.LSTM({d}, {h})",
            )
        )
    return cases


function_exercise(
    "lstm_from_torch",
    CHAPTER,
    2,
    "lstm_from_torch",
    "An LSTM's weights from PyTorch to minidl",
    _lstm_cases,
    lstm_from_torch,
    ("Wx", "Wh", "b"),
    mistakes=(
        (
            "only one of PyTorch's two biases is kept; it adds b_ih and b_hh to the same "
            "pre-activation, so minidl's single b is their sum",
            lambda wi, wh, bi, bh: (wi.T, wh.T, bi),
        ),
        (
            "the weights are not transposed: PyTorch stores (out, in), minidl (in, out)",
            lambda wi, wh, bi, bh: (wi, wh, bi + bh),
        ),
    ),
    forbids=("minidl.keras", "minidl.nn.layers.recurrent"),
    fresh_outputs=True,
)


# ---------------------------------------------------------------- a Keras conv kernel
def conv_kernel_from_keras(kernel):
    """Keras's Conv2D kernel (KH, KW, C_in, F) as minidl's W (F, C_in, KH, KW)."""
    return kernel.transpose(3, 2, 0, 1)


function_exercise(
    "conv_kernel_from_keras",
    CHAPTER,
    1,
    "conv_kernel_from_keras",
    "A convolution kernel from Keras's layout to minidl's",
    lambda rng: [
        Case((rng.standard_normal((3, 2, 4, 5)),), label="a Keras kernel (3, 2, 4, 5)"),
        Case((rng.standard_normal((3, 3, 2, 2)),), label="a Keras kernel (3, 3, 2, 2)"),
    ],
    conv_kernel_from_keras,
    ("W",),
    mistakes=(
        (
            "the kernel's height and width are swapped: Keras's first two axes are (KH, KW) "
            "and stay in that order",
            lambda k: k.transpose(3, 2, 1, 0),
        ),
        (
            "the channel axes are swapped: Keras's third axis is the *input* channels, its last the filters",
            lambda k: k.transpose(2, 3, 0, 1),
        ),
    ),
    forbids=("minidl.keras", "minidl.nn.layers.layout", "minidl.nn.layers.conv"),
    fresh_outputs=True,
)


# ---------------------------------------------------------------- a Dense after Flatten
def dense_after_flatten_from_keras(kernel, height, width, channels):
    """Keras flattens (H, W, C) feature maps, minidl (C, H, W). The first Dense's kernel
    (H*W*C, M) from Keras, with its rows reordered so that minidl's flatten meets them."""
    m = kernel.shape[1]
    return kernel.reshape(height, width, channels, m).transpose(2, 0, 1, 3).reshape(-1, m)


def _flatten_cases(rng):
    cases = []
    for h, w, c, m in ((2, 3, 4, 5), (3, 3, 2, 3), (4, 2, 3, 2)):
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
    forbids=("minidl.keras", "minidl.nn.layers.layout"),
    fresh_outputs=True,
)
