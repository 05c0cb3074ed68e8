"""Chapter 2, neural networks: derivatives of three activations the chapter does not derive, a
dense layer, XOR by hand."""

from typing import Callable

import numpy as np

from ..judge.feedback import compare_outputs
from ..judge.registry import Case, Exercise, function_exercise, register

CHAPTER = "02_neural_networks"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# ---------------------------------------------------------------- activation derivatives
# Three activations the chapter does not derive: softplus (a smooth ReLU), ELU (Clevert et
# al., 2016) and hard-swish (MobileNetV3's piecewise-linear SiLU).
def _softplus(z):
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _elu(z, alpha):
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


def _hard_sigmoid(z):
    return np.clip(z + 3.0, 0.0, 6.0) / 6.0


def softplus_derivative(z):
    """d/dz log(1 + e^z) = e^z / (1 + e^z) = sigmoid(z), written so that exp cannot overflow."""
    return _sigmoid(z)


def elu_derivative(z, alpha):
    """elu(z) = z for z > 0, alpha (e^z - 1) otherwise; its derivative is 1, resp. alpha e^z."""
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))


def hard_swish_derivative(z):
    """hard_swish(z) = z relu6(z + 3) / 6: 0 for z < -3, (2z + 3) / 6 between, 1 for z > 3."""
    return np.where(z < -3.0, 0.0, np.where(z > 3.0, 1.0, (2.0 * z + 3.0) / 6.0))


# {entry: (reference, ((hint, mistaken function), ...))}
_ACTIVATIONS: dict[str, tuple[Callable, tuple[tuple[str, Callable], ...]]] = {
    "softplus_derivative": (
        softplus_derivative,
        (
            ("this is softplus(z) = log(1 + e^z) itself, not its derivative", _softplus),
            (
                "this is sigmoid(-z) = 1 / (1 + e^z); the derivative of log(1 + e^z) is "
                "e^z / (1 + e^z) = 1 / (1 + e^-z) = sigmoid(z)",
                lambda z: _sigmoid(-z),
            ),
            (
                "e^z is the derivative of the inner function 1 + e^z only: the chain rule also "
                "multiplies by the outer log's derivative, 1 / (1 + e^z)",
                lambda z: np.exp(np.minimum(z, 700.0)),
            ),
        ),
    ),
    "elu_derivative": (
        elu_derivative,
        (
            ("this is elu(z) itself, not its derivative", _elu),
            (
                "alpha e^z is the derivative only where z <= 0; for z > 0, elu(z) = z and the "
                "derivative is 1",
                lambda z, alpha: alpha * np.exp(np.minimum(z, 700.0)),
            ),
            (
                "for z <= 0 this gives alpha (e^z - 1), the forward value; the -1 is a constant "
                "and drops out: the derivative is alpha e^z",
                lambda z, alpha: np.where(z > 0, 1.0, alpha * np.expm1(np.minimum(z, 0.0))),
            ),
            (
                "alpha is ignored: the negative branch alpha (e^z - 1) has derivative alpha e^z",
                lambda z, alpha: elu_derivative(z, 1.0),
            ),
        ),
    ),
    "hard_swish_derivative": (
        hard_swish_derivative,
        (
            ("this is hard_swish(z) itself, not its derivative", lambda z: z * _hard_sigmoid(z)),
            (
                "this is h(z) = relu6(z + 3) / 6, only the term where the factor z is differentiated: "
                "hard_swish is the product z h(z), so the product rule adds z h'(z), which is z / 6 "
                "on -3 < z < 3",
                _hard_sigmoid,
            ),
            (
                "this is z h'(z) alone (z / 6 on -3 < z < 3): the product rule also adds h(z) = relu6(z + 3) / 6",
                lambda z: np.where(np.abs(z) < 3.0, z / 6.0, 0.0),
            ),
            (
                "(2z + 3) / 6 holds only on -3 < z < 3; below -3 hard_swish is 0 (derivative 0), "
                "above 3 it is z (derivative 1)",
                lambda z: (2.0 * z + 3.0) / 6.0,
            ),
        ),
    ),
}

_ELU_ALPHAS = (0.7, 1.0)


def _away_from_kinks(z, kinks):
    for kink in kinks:
        z[np.abs(z - kink) < 1e-3] = kink + 0.25
    return z


def _activation_cases(rng):
    cases = []
    z = rng.standard_normal((4, 5)) * 3
    cases.append(Case((z,), label="softplus_derivative on z of shape (4, 5)", entry="softplus_derivative"))
    z = np.array([-800.0, -40.0, -0.5, 0.5, 40.0, 800.0])  # exp(800) is inf: e^z / (1 + e^z) is NaN
    cases.append(
        Case((z,), label="softplus_derivative on z of +-0.5, +-40 and +-800", entry="softplus_derivative")
    )
    for alpha in _ELU_ALPHAS:
        z = _away_from_kinks(rng.standard_normal((4, 5)) * 2, (0.0,))
        cases.append(
            Case(
                (z, alpha),
                label=f"elu_derivative on z of shape (4, 5), alpha={alpha}",
                entry="elu_derivative",
            )
        )
    z = _away_from_kinks(rng.standard_normal((3, 8)) * 3, (-3.0, 3.0))
    z[0, :2] = (-5.0, 5.0)  # both flat parts, whatever the draw
    cases.append(
        Case((z,), label="hard_swish_derivative on z of shape (3, 8)", entry="hard_swish_derivative")
    )
    return cases


def _public_activation(case):
    """What minidl's public data records of a case (and what the judge compares)."""
    reference, mistakes = _ACTIVATIONS[case.entry]
    return {
        "expected": reference(*case.args),
        "mistakes": [(hint, fn(*case.args)) for hint, fn in mistakes],
        "factors": {},
        "outputs": (f"{case.entry}(z)",),
    }


def _judge_activation(case, got):
    known = _public_activation(case)
    message = compare_outputs(got, known["expected"], known["outputs"], known["mistakes"])
    if message and case.entry == "softplus_derivative" and "NaN or inf" in message:
        message += (
            "\n    hint: e^z / (1 + e^z) is inf / inf = NaN once exp(z) overflows (z > 709): "
            "divide numerator and denominator by e^z, 1 / (1 + e^-z), which is 1 for large z"
        )
    return message


register(
    Exercise(
        name="activation_derivatives",
        chapter=CHAPTER,
        points=2,
        entries=tuple(_ACTIVATIONS),
        title="Derivatives of softplus, ELU and hard-swish",
        make_cases=_activation_cases,
        judge=_judge_activation,
        public=_public_activation,
        forbids=("minidl.nn.layers.activations", "minidl.nn.gradcheck"),
        catches=tuple(hint for _, mistakes in _ACTIVATIONS.values() for hint, _ in mistakes)
        + ("softplus' as e^z / (1 + e^z): inf / inf = NaN for z = 800",),
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
    forbids=("minidl.nn.layers.Dense",),
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
    if not all(np.all(np.isfinite(v)) for v in (W1, b1, w2, b2)):
        return "every weight must be a finite number (no NaN or inf)"
    with np.errstate(over="ignore", invalid="ignore"):  # huge weights: judged just below
        out = np.maximum(_XOR_INPUTS @ W1 + b1, 0.0) @ w2 + b2
    if not np.all(np.isfinite(out)):
        return "the network's outputs are not finite"
    # exact: the outputs are sums of a few products of the weights, whose rounding is below
    # 1e-15 for weights of moderate size; an answer 1e-6 away is not the exact network asked for
    if np.max(np.abs(out - _XOR_TARGETS)) <= 1e-12 * max(
        1.0, float(np.max(np.abs(W1))), float(np.max(np.abs(w2)))
    ):
        return None
    if np.allclose(out, _XOR_TARGETS, atol=1e-3):
        return (
            f"the outputs are within {np.max(np.abs(out - _XOR_TARGETS)):.1e} of [0, 1, 1, 0] but not "
            "exact: the task asks for weights that compute XOR exactly (no training, no rounding)"
        )
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
        forbids=("minidl.nn.layers.Dense", "minidl.training.model.Sequential"),
        catches=(
            "weights that are close but not exact (1e-6 off): the outputs must be 0, 1, 1, 0 to 1e-12",
            "a hidden layer that maps two corners to the same point (no ReLU bend): no output layer separates them",
            "weights of the wrong shapes, or NaN and inf",
        ),
    )
)
