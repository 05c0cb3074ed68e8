"""Chapter 2, neural networks: activation derivatives, a dense layer, a two-layer network."""
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
    "sigmoid_derivative": (sigmoid_derivative, (
        ("this is sigmoid(z) itself, not its derivative sigmoid(z) * (1 - sigmoid(z))", _sigmoid),
        ("z * (1 - z) applies the formula to z: it needs s * (1 - s) with s = sigmoid(z)",
         lambda z: z * (1 - z)))),
    "tanh_derivative": (tanh_derivative, (
        ("1 - z**2 applies the formula to z: it needs 1 - tanh(z)**2", lambda z: 1 - z ** 2),
        ("this is tanh(z) itself, not its derivative", np.tanh))),
    "relu_derivative": (relu_derivative, (
        ("this is relu(z) = max(z, 0); its derivative is 1 where z > 0 and 0 elsewhere",
         lambda z: np.maximum(z, 0)),)),
}


def _activation_cases(rng):
    cases = []
    for entry in _ACTIVATIONS:
        z = rng.standard_normal((4, 5)) * 2
        z[np.abs(z) < 1e-3] = 0.5          # keep clear of relu's kink at 0
        cases.append(Case((z,), label=f"{entry} on z of shape (4, 5)", entry=entry))
    return cases


def _judge_activation(case, got):
    reference, mistakes = _ACTIVATIONS[case.entry]
    (z,) = case.args
    return compare_outputs(got, reference(z), (f"{case.entry}(z)",),
                           [(hint, fn(z)) for hint, fn in mistakes])


register(Exercise(
    name="activation_derivatives", chapter=CHAPTER, points=2, entries=tuple(_ACTIVATIONS),
    title="Derivatives of sigmoid, tanh and ReLU", make_cases=_activation_cases,
    judge=_judge_activation))


# ---------------------------------------------------------------- dense forward
def dense_forward(x, W, b):
    """y = x W + b: x (N, D), W (D, M), b (M,) -> y (N, M)."""
    return x @ W + b


def _dense_cases(rng):
    return [Case((rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m)),
                 label=f"x {(n, d)}, W {(d, m)}") for n, d, m in ((5, 4, 3), (2, 6, 7))]


function_exercise(
    "dense_forward", CHAPTER, 1, "dense_forward", "Forward pass of a dense layer",
    _dense_cases, dense_forward, ("y",),
    mistakes=(("the bias b is missing", lambda x, W, b: x @ W),))


# ---------------------------------------------------------------- two-layer network
def two_layer_forward(x, W1, b1, W2, b2):
    """scores = relu(x W1 + b1) W2 + b2."""
    return np.maximum(x @ W1 + b1, 0.0) @ W2 + b2


def _two_layer_cases(rng):
    cases = []
    for n, d, h, k in ((5, 4, 6, 3), (3, 2, 5, 4)):
        cases.append(Case((rng.standard_normal((n, d)), rng.standard_normal((d, h)),
                           rng.standard_normal(h), rng.standard_normal((h, k)),
                           rng.standard_normal(k)), label=f"x {(n, d)}, hidden {h}, classes {k}"))
    return cases


function_exercise(
    "two_layer_forward", CHAPTER, 2, "two_layer_forward", "Forward pass of a two-layer network",
    _two_layer_cases, two_layer_forward, ("scores",),
    mistakes=(("the ReLU between the layers is missing: without it two layers are one linear map",
               lambda x, W1, b1, W2, b2: (x @ W1 + b1) @ W2 + b2),
              ("a ReLU is applied to the output scores too; the last layer stays linear",
               lambda x, W1, b1, W2, b2: np.maximum(two_layer_forward(x, W1, b1, W2, b2), 0))))
