"""Chapter 2, neural networks: derivatives of three activations the chapter does not derive, a
ReLU network through given points, the parity of n bits by hand, and a ReLU network's linear map
on the region around a point (a repair)."""

from collections.abc import Callable

import numpy as np

from ..judge.feedback import compare_outputs
from ..judge.registry import Case, Contract, Exercise, declare_edges, function_exercise, register

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
    # both flat parts and both sides of each kink, whatever the draw
    z[0, :6] = (-5.0, 5.0, -3.5, -2.5, 2.5, 3.5)
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
        contract=Contract(("float64",)),  # each function's one output
        forbids=("minidl.nn.layers.activations", "minidl.nn.gradcheck"),
        catches=tuple(hint for _, mistakes in _ACTIVATIONS.values() for hint, _ in mistakes)
        + (
            "softplus' as e^z / (1 + e^z): inf / inf = NaN for z = 800",
            "hard-swish's kinks moved (e.g. to +-2): points at +-2.5 and +-3.5 in every draw",
        ),
        equivalent_mutants={
            # the derivative does not exist at a kink: the cases keep z 1e-3 away from them, so
            # which side a kink belongs to (> or >=) is the student's choice
            "elu_derivative: compare: z > 0 -> z >= 0": "z = 0 is a kink, kept out of the cases",
            "hard_swish_derivative: compare: z < -3.0 -> z <= -3.0": "z = -3 is a kink, kept out of the cases",
            "hard_swish_derivative: compare: z > 3.0 -> z >= 3.0": "z = 3 is a kink, kept out of the cases",
            "elu_derivative: const: 0.0 -> 1.0": "np.minimum(z, 1.0) only feeds the branch of z <= 0, "
            "where it is z as well (the minimum only keeps exp from overflowing on the branch not taken)",
        },
    )
)


# ---------------------------------------------------------------- a ReLU network through given points
def relu_interpolant_weights(knots, values):
    """Output weights (w (K,), b) of f(x) = sum_k w_k relu(x - knots[k]) + b that passes through
    (knots[k], values[k]) and is constant outside [knots[0], knots[-1]] (what np.interp draws).

    Between knots f is linear with slope s_k; relu(x - t_k) switches a slope change on at t_k, so
    w_k = s_k - s_(k-1) with s_(-1) = s_(K-1) = 0 (flat on both sides), and b = values[0]."""
    slopes = np.diff(values) / np.diff(knots)
    return np.diff(np.concatenate([[0.0], slopes, [0.0]])), float(values[0])


def _slopes_as_weights(knots, values):
    slopes = np.diff(values) / np.diff(knots)
    return np.concatenate([slopes, [0.0]]), float(values[0])


def _no_last_turn(knots, values):
    w, b = relu_interpolant_weights(knots, values)
    return np.concatenate([w[:-1], [0.0]]), b


def _interpolant_cases(rng):
    cases = []
    for k in (2, 5, 8):
        knots = np.sort(rng.uniform(-3.0, 3.0, k))
        knots[1:] = knots[0] + np.cumsum(np.maximum(np.diff(knots), 0.2))  # knots apart
        cases.append(Case((knots, rng.standard_normal(k)), label=f"{k} knots, unevenly spaced"))
    knots = np.arange(5.0)
    cases.append(Case((knots, knots % 2), label="the zigzag 0, 1, 0, 1, 0 at x = 0..4"))
    knots = np.array([-1.0, 0.0, 2.0, 3.0])
    cases.append(Case((knots, 2.0 * knots + 1.0), label="points on one line, y = 2x + 1"))
    return cases


function_exercise(
    "relu_interpolant_weights",
    CHAPTER,
    1,
    "relu_interpolant_weights",
    "A ReLU network through given points",
    _interpolant_cases,
    relu_interpolant_weights,
    ("w", "b"),
    mistakes=(
        (
            "w holds the slopes of the pieces; relu(x - t_k) adds its weight to the slope from "
            "t_k on, on top of the units before it, so w_k is the *change* of slope at t_k",
            _slopes_as_weights,
        ),
        (
            "after the last knot f must stay flat (constant outside the knots, as np.interp): the "
            "last unit, relu(x - t_(K-1)), cancels the slope of the last piece; its weight is not 0",
            _no_last_turn,
        ),
        (
            "b is the value of f left of the first knot, where every unit is off: values[0]",
            lambda knots, values: (relu_interpolant_weights(knots, values)[0], 0.0),
        ),
    ),
    forbids=("minidl.nn.layers.Dense", "minidl.training.model.Sequential"),
    catches=("points on one line: every weight but the first is 0, and the last is minus the slope",),
    dtypes=("float64", "number"),
)


# ---------------------------------------------------------------- parity by hand
def _parity_network(W1, b1, w2, b2, x):
    """relu(x W1 + b1) w2 + b2 on the rows of x."""
    with np.errstate(over="ignore", invalid="ignore"):  # huge weights: judged by the caller
        return np.maximum(x @ W1 + b1, 0.0) @ w2 + b2


def _all_bit_patterns(n):
    """The 2**n inputs in {0, 1}^n, one per row."""
    return ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(np.float64)


def parity_by_hand(n):
    """One solution of many: unit k computes relu(s - k) with s = x_1 + ... + x_n; the output
    follows the zigzag through (k, k mod 2), slopes +1, -1, +1, ...: w2 = (1, -2, 2, -2, ...)."""
    w2 = np.where(np.arange(n) % 2 == 1, -2.0, 2.0)
    w2[:1] = 1.0
    return np.ones((n, n)), -np.arange(n, dtype=np.float64), w2, 0.0


def _judge_parity(case, got):
    (n,) = case.args
    if got is None:
        return "the function returned None: did you forget `return`?"
    if not isinstance(got, (tuple, list)) or len(got) != 4:
        return "expected 4 return values (W1, b1, w2, b2)"
    try:
        W1, b1, w2, b2 = (np.asarray(v, dtype=np.float64) for v in got)
    except (TypeError, ValueError):
        return "every returned value must be a number or an array of numbers"
    shapes = {"W1": (W1.shape, (n, n)), "b1": (b1.shape, (n,)), "w2": (w2.shape, (n,)), "b2": (b2.shape, ())}
    for name, (shape, expected) in shapes.items():
        if shape != expected:
            return f"n = {n}: `{name}` has shape {shape}, expected {expected}"
    if not all(np.all(np.isfinite(v)) for v in (W1, b1, w2, b2)):
        return f"n = {n}: every weight must be a finite number (no NaN or inf)"
    x = _all_bit_patterns(n)
    target = x.sum(axis=1) % 2
    out = _parity_network(W1, b1, w2, b2, x)
    if not np.all(np.isfinite(out)):
        return f"n = {n}: the network's outputs are not finite"
    # exact: sums of a few products of the weights, whose rounding is below 1e-15 for weights
    # of moderate size; an answer 1e-6 away is not the exact network asked for
    scale = max(1.0, *(float(np.max(np.abs(v), initial=0.0)) for v in (W1, b1, w2)))
    error = float(np.max(np.abs(out - target), initial=0.0))
    if error <= 1e-12 * scale * n:
        return None
    if error <= 1e-3:
        return (
            f"n = {n}: the outputs are within {error:.1e} of the parities but not exact: the task "
            "asks for weights that compute the parity exactly (no training, no rounding)"
        )
    wrong = x[np.abs(out - target) > 1e-3 * scale]
    hint = ""
    if n > 2 and np.all(np.abs(out[x.sum(axis=1) <= 2] - target[x.sum(axis=1) <= 2]) <= 1e-6 * scale):
        hint = f"\n    hint: {_TURNING}"
    return (
        f"n = {n}: wrong on {len(wrong)} of the {2**n} inputs, the first {wrong[0].astype(int).tolist()} "
        f"(output {out[np.abs(out - target) > 1e-3 * scale][0]:.4g}, parity "
        f"{int(wrong[0].sum()) % 2})" + hint
    )


_TURNING = (
    "right up to two bits on, wrong from three on: the parity keeps turning, "
    "at every count k = 1, ..., n - 1, so each hidden unit must switch on at its own count"
)


def _public_parity(case) -> dict:
    """What check() needs: every input, its parity (what the network must output), the
    weights' shapes, and the inputs whose being right alone points at the usual mistake."""
    (n,) = case.args
    x = _all_bit_patterns(n)
    extra = {
        "inputs": x.astype(np.uint8),
        "shapes": {"W1": (n, n), "b1": (n,), "w2": (n,), "b2": ()},
        "label": f"n = {n}",
    }
    if n > 2:
        extra["hint"] = (x.sum(axis=1) <= 2, _TURNING)
    return {
        "expected": (x.sum(axis=1) % 2).astype(np.uint8),
        "mistakes": [],
        "factors": {},
        "extra": extra,
    }


register(
    Exercise(
        name="parity_by_hand",
        chapter=CHAPTER,
        points=2,
        entries=("parity_by_hand",),
        title="The parity of n bits with n ReLU units, weights chosen by hand",
        make_cases=lambda rng: [Case((n,), label=f"n = {n}: all {2**n} inputs") for n in (1, 2, 3, 5, 8)],
        judge=_judge_parity,
        public=_public_parity,
        public_kind="relu_network",
        outputs=("W1", "b1", "w2", "b2"),
        forbids=("minidl.nn.layers.Dense", "minidl.training.model.Sequential"),
        equivalent_mutants={
            "parity_by_hand: dtype: *": "the task asks for weights that compute the parity, in any "
            "dtype: the judge runs the network in float64 on them, and these small integers are "
            "exact in float32",
        },
        catches=(
            "weights that are close but not exact (1e-6 off): the outputs must be the parities to 1e-12",
            "every unit after the first turning the slope the same way: right up to two bits on, "
            "wrong from three on",
            "XOR's two units for every n, or a network for one n only: weights of the wrong shapes",
            "NaN or inf among the weights or the outputs",
        ),
    )
)


# ---------------------------------------------------------------- the linear map of a region (a repair)
# Issue 72: a given, plausible function with four bugs (the caller's weights overwritten, the
# biases of the units that are off passed on, the later layers' on/off pattern taken from
# values the ReLU has not cut, and the output layer switched like a hidden one).
def local_affine_map(weights, biases, x):
    """(A, c) with f(x') = x' A + c for every x' in the linear region of x, where f is
    relu(...relu(x W_1 + b_1)...) W_L + b_L (a ReLU after every layer but the last).

    Inside the region each hidden unit stays on or off, so each layer is the linear layer
    (W, b) with the columns of the units that are off set to 0; the layers then merge as the
    chapter merges two linear layers."""
    return _affine_map(weights, biases, x)


def _affine_map(weights, biases, x, *, mask_bias=True, cut=True, mask_output=False):
    """The reference and its mistakes: ``mask_bias=False`` passes the biases of the units that
    are off on; ``cut=False`` takes each layer's pattern from the previous layer's
    pre-activations (no ReLU applied); ``mask_output=True`` switches the output layer too."""
    A = np.eye(len(x))
    c = np.zeros(len(x))
    h = x
    last = len(weights) - 1
    for k, (W, b) in enumerate(zip(weights, biases)):
        z = h @ W + b
        A = A @ W
        c = c @ W + b
        if k < last or mask_output:
            on = z > 0
            A = A * on
            c = c * on if mask_bias else c * on + b * ~on
        h = np.maximum(z, 0.0) if cut else z
    return A, c


def _forward(weights, biases, x, cut=True):
    """The pre-activations of every layer at x."""
    h, zs = x, []
    for k, (W, b) in enumerate(zip(weights, biases)):
        z = h @ W + b
        zs.append(z)
        h = np.maximum(z, 0.0) if cut or k == len(weights) - 1 else z
    return zs


def _draw_network(rng, sizes, *, clear=0.1):
    """Weights (1 / sqrt(fan-in) scale), biases and a point x, every pre-activation at least
    ``clear`` from 0 (the region is well defined), and at least one unit off in every hidden
    layer and one output negative (the masks and the unmasked output matter)."""
    x = rng.standard_normal(sizes[0])
    weights, biases = [], []
    h = x
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)
        b = 0.5 * rng.standard_normal(fan_out)
        z = h @ W + b
        if fan_out > 1 and np.all(z > 0):
            b[np.argmin(z)] -= z.min() + 0.5  # one unit (an output) below 0
        if fan_out > 1 and np.all(z < 0):
            b[np.argmax(z)] -= z.max() - 0.5  # and one above
        z = h @ W + b
        near = np.abs(z) < clear
        b[near] += np.where(z[near] >= 0, clear, -clear)  # away from the kinks
        weights.append(W)
        biases.append(b)
        h = np.maximum(h @ W + b, 0.0) if k < len(sizes) - 2 else h @ W + b
    return weights, biases, x


def _patterns_differ(weights, biases, x):
    """Whether the on/off pattern of a later hidden layer changes when the ReLU is skipped."""
    cut, uncut = _forward(weights, biases, x), _forward(weights, biases, x, cut=False)
    return any(np.any((a > 0) != (b > 0)) for a, b in zip(cut[1:-1], uncut[1:-1]))


def _affine_cases(rng):
    cases = []
    for sizes, label in (
        ((2, 6, 1), "the chapter's plane: 2 inputs, 6 hidden units, 1 output"),
        ((3, 5, 4, 2), "3 inputs, hidden layers of 5 and 4, 2 outputs"),
        ((4, 6, 5, 4, 3), "4 inputs, three hidden layers (6, 5, 4), 3 outputs"),
    ):
        for _ in range(200):  # deep enough: a draw where the uncut values change a later pattern
            weights, biases, x = _draw_network(rng, sizes)
            if len(sizes) < 4 or _patterns_differ(weights, biases, x):
                break
        cases.append(Case((weights, biases, x), label=label + "; no pre-activation within 0.1 of 0"))
    weights, biases, x = _draw_network(rng, (3, 4, 3, 2))
    z = _forward(weights, biases, x)[1]
    biases[1] = biases[1] - z - 0.5  # every unit of the second hidden layer off
    cases.append(
        Case((weights, biases, x), label="3 inputs, hidden layers of 4 and 3, every unit of the second off")
    )
    weights, biases, x = _draw_network(rng, (3, 2))
    cases.append(Case((weights, biases, x), label="no hidden layer: one linear layer, 3 inputs, 2 outputs"))
    return cases


function_exercise(
    "local_affine_map",
    CHAPTER,
    2,
    "local_affine_map",
    "The linear map of a ReLU network around a point, repaired",
    _affine_cases,
    local_affine_map,
    ("A", "c"),
    mistakes=(
        (
            "a unit that is off outputs 0, its bias included: the whole pre-activation of an off "
            "unit is cut, so its bias must not reach the next layer",
            lambda *a: _affine_map(*a, mask_bias=False),
        ),
        (
            "the on/off pattern of a later layer is taken from values the ReLU has not cut: the "
            "next layer reads relu(z), not z, so the negative values of the units that are off must "
            "not reach it",
            lambda *a: _affine_map(*a, cut=False),
        ),
        (
            "the output layer is switched like a hidden one: f has no ReLU after its last layer, "
            "so a negative output is a value of f, not 0",
            lambda *a: _affine_map(*a, mask_output=True),
        ),
        (
            "c is the network's value at x, f(x): in f(x') = x' A + c the offset is what is left "
            "at x' = 0, f(x) - x A",
            lambda w, b, x: (_affine_map(w, b, x)[0], x @ _affine_map(w, b, x)[0] + _affine_map(w, b, x)[1]),
        ),
    ),
    forbids=("minidl.nn.layers.Dense", "minidl.training.model.Sequential", "minidl.nn.gradcheck"),
    catches=("the caller's weights overwritten (the columns of the units that are off set to 0 in place)",),
    dtypes="float64",
    equivalent_mutants={
        "local_affine_map > _affine_map: compare: z > 0 -> z >= 0": "no pre-activation of the cases is "
        "within 0.1 of 0: a unit exactly at 0 sits on the border of two regions, kept out of the cases",
        "local_affine_map > _affine_map: copy: h = x -> h = x.copy()": "h is only read, and rebound",
        "local_affine_map > _affine_map: augassign: A = A * on -> A *= on": "A @ W is a new array of the "
        "function's own, and the mask broadcasts to its shape",
        "local_affine_map > _affine_map: augassign: c = c * on -> c *= on": "c @ W + b is a new array of "
        "the function's own, and the mask broadcasts to its shape",
    },
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

_ELEMENTWISE = "each derivative is elementwise: no length of an axis is special"
declare_edges(
    "activation_derivatives",
    ("non_square", "extreme_magnitude", "varied_settings"),
    {
        "empty": _ELEMENTWISE,
        "size_one": _ELEMENTWISE,
        "ties": "the comparisons are elementwise against fixed kinks (0, -3, 3), never between entries",
    },
)
declare_edges(
    "relu_interpolant_weights",
    (),
    {
        "empty": "the task takes at least two knots: a piecewise-linear function needs a first slope",
        "size_one": "the task takes at least two knots: a piecewise-linear function needs a first slope",
    },
)
declare_edges(
    "parity_by_hand",
    ("varied_settings",),
    {
        "empty": "its one argument is the number of inputs n >= 1, not an array",
        "size_one": "its one argument is the number of inputs n, not an array (n = 1 is a case)",
    },
)
declare_edges(
    "local_affine_map",
    ("size_one", "non_square"),
    {
        "empty": "a network has at least one layer and a point at least one input",
        "ties": "no pre-activation is within 0.1 of 0: the region of x is well defined",
        "long_sequence": "the loop runs over the layers, at most four: no axis is long",
    },
)
