"""Chapter 2, neural networks: activation derivatives, a dense layer, a two-layer network, XOR by hand."""

import numpy as np

from ..feedback import compare_outputs
from ..registry import Case, Exercise, function_exercise, register

CHAPTER = "02_neural_networks"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# ---------------------------------------------------------------- activation derivatives
def sigmoid_derivative(z):
    s = _sigmoid(z)
    return s * (1.0 - s)


def tanh_derivative(z):
    return 1.0 - np.tanh(z) ** 2


def relu_derivative(z):
    return (z > 0).astype(np.float64)


_ACTIVATIONS = {
    "sigmoid_derivative": (
        sigmoid_derivative,
        (
            ("this is sigmoid(z) itself, not its derivative sigmoid(z) * (1 - sigmoid(z))", _sigmoid),
            (
                "z * (1 - z) applies the formula to z: it needs s * (1 - s) with s = sigmoid(z)",
                lambda z: z * (1 - z),
            ),
        ),
    ),
    "tanh_derivative": (
        tanh_derivative,
        (
            ("1 - z**2 applies the formula to z: it needs 1 - tanh(z)**2", lambda z: 1 - z**2),
            ("this is tanh(z) itself, not its derivative", np.tanh),
        ),
    ),
    "relu_derivative": (
        relu_derivative,
        (
            (
                "this is relu(z) = max(z, 0); its derivative is 1 where z > 0 and 0 elsewhere",
                lambda z: np.maximum(z, 0),
            ),
        ),
    ),
}


def _activation_cases(rng):
    cases = []
    for entry in _ACTIVATIONS:
        z = rng.standard_normal((4, 5)) * 2
        z[np.abs(z) < 1e-3] = 0.5  # keep clear of relu's kink at 0
        cases.append(Case((z,), label=f"{entry} on z of shape (4, 5)", entry=entry))
    return cases


def _judge_activation(case, got):
    reference, mistakes = _ACTIVATIONS[case.entry]
    (z,) = case.args
    return compare_outputs(got, reference(z), (f"{case.entry}(z)",), [(hint, fn(z)) for hint, fn in mistakes])


register(
    Exercise(
        name="activation_derivatives",
        chapter=CHAPTER,
        points=2,
        entries=tuple(_ACTIVATIONS),
        title="Derivatives of sigmoid, tanh and ReLU",
        make_cases=_activation_cases,
        judge=_judge_activation,
    )
)


# ---------------------------------------------------------------- dense forward
def dense_forward(x, W, b):
    """y = x W + b: x (N, D), W (D, M), b (M,) -> y (N, M)."""
    return x @ W + b


def _dense_cases(rng):
    return [
        Case(
            (rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m)),
            label=f"x {(n, d)}, W {(d, m)}",
        )
        for n, d, m in ((5, 4, 3), (2, 6, 7))
    ]


function_exercise(
    "dense_forward",
    CHAPTER,
    1,
    "dense_forward",
    "Forward pass of a dense layer",
    _dense_cases,
    dense_forward,
    ("y",),
    mistakes=(("the bias b is missing", lambda x, W, b: x @ W),),
)


# ---------------------------------------------------------------- XOR by hand
_XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
_XOR_TARGETS = np.array([0.0, 1.0, 1.0, 0.0])


def xor_by_hand():
    """One solution of many: h1 = relu(x1 + x2), h2 = relu(x1 + x2 - 1), y = h1 - 2 h2."""
    return (np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([0.0, -1.0]), np.array([1.0, -2.0]), 0.0)


def _judge_xor(case, got):
    if got is None:
        return "the function returned None: did you forget `return`?"
    if not isinstance(got, (tuple, list)) or len(got) != 4:
        return "expected 4 return values (W1, b1, w2, b2)"
    try:
        W1, b1, w2, b2 = (np.asarray(v, dtype=np.float64) for v in got)
    except (TypeError, ValueError):
        return "every returned value must be a number or an array of numbers"
    shapes = {"W1": (W1.shape, (2, 2)), "b1": (b1.shape, (2,)), "w2": (w2.shape, (2,)), "b2": (b2.shape, ())}
    for name, (shape, expected) in shapes.items():
        if shape != expected:
            return f"`{name}` has shape {shape}, expected {expected}"
    out = np.maximum(_XOR_INPUTS @ W1 + b1, 0.0) @ w2 + b2
    if not np.all(np.isfinite(out)):
        return "the network's outputs are not finite"
    if np.allclose(out, _XOR_TARGETS, atol=1e-6):
        return None
    hidden = np.maximum(_XOR_INPUTS @ W1 + b1, 0.0)
    hint = ""
    if np.linalg.matrix_rank(np.column_stack([hidden, np.ones(4)])) < 3:
        hint = (
            "\n    hint: the hidden layer maps two of the four points to the same place (or "
            "all of them onto a line), so no output layer can separate them; XOR needs the "
            "relu to bend: make one unit fire only when both inputs are on"
        )
    return (
        f"the outputs on (0,0), (0,1), (1,0), (1,1) are {np.round(out, 4).tolist()}, "
        f"expected [0, 1, 1, 0]" + hint
    )


register(
    Exercise(
        name="xor_by_hand",
        chapter=CHAPTER,
        points=2,
        entries=("xor_by_hand",),
        title="XOR with two ReLU units, weights chosen by hand",
        make_cases=lambda rng: [Case((), label="the four corners of the unit square")],
        judge=_judge_xor,
    )
)
