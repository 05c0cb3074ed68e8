"""Chapter 3, backpropagation: a weight-normalised dense backward, a label-smoothed softmax
cross-entropy backward, a gradient check along random directions."""

import numpy as np

from ..judge.feedback import compare_outputs, rel_error
from ..judge.registry import Case, Exercise, declare_edges, function_exercise, register
from ..runtime.probes import cubic, log_sum_exp

CHAPTER = "03_backpropagation"


# ---------------------------------------------------------------- weight-normalised dense backward
# The chapter derives the plain Dense backward; this layer reparametrises its weight
# (Salimans & Kingma, 2016): each column W[:, j] = g_j v[:, j] / ||v[:, j]||.
def _weight_norm_grads(dy, x, v, g, norm):
    """The backward with a given ``norm`` (broadcast against v): the reference passes the
    column norms (1, H); the usual mistakes pass another norm or drop a term."""
    W = v * (g / norm)
    dW = x.T @ dy
    dg = (dW * v / norm).sum(axis=0)
    dv = (g / norm) * dW - (g * dg / norm**2) * v
    return dy @ W.T, dv, dg, dy.sum(axis=0)


def _column_norms(v):
    return np.sqrt((v * v).sum(axis=0, keepdims=True))


def weight_norm_backward(dy, x, v, g):
    """y = x W + b with W = g v / ||v|| column by column. dy (N, H), x (N, D), v (D, H),
    g (H,) -> dx (N, D), dv (D, H), dg (H,), db (H,):
    dW = x^T dy, dg_j = dW_j . v_j / ||v_j||, dv_j = g_j / ||v_j|| (dW_j - dg_j v_j / ||v_j||)."""
    return _weight_norm_grads(dy, x, v, g, _column_norms(v))


def _wn_no_projection(dy, x, v, g):
    dx, _, dg, db = weight_norm_backward(dy, x, v, g)
    return dx, (g / _column_norms(v)) * (x.T @ dy), dg, db


def _wn_dx_through_v(dy, x, v, g):
    _, dv, dg, db = weight_norm_backward(dy, x, v, g)
    return dy @ v.T, dv, dg, db


def _wn_dv_is_dW(dy, x, v, g):
    dx, _, dg, db = weight_norm_backward(dy, x, v, g)
    return dx, x.T @ dy, dg, db


def _wn_whole_norm(dy, x, v, g):
    return _weight_norm_grads(dy, x, v, g, np.sqrt((v * v).sum()))


def _wn_row_norms(dy, x, v, g):
    return _weight_norm_grads(dy, x, v, g, np.sqrt((v * v).sum(axis=1, keepdims=True)))


def _weight_norm_cases(rng):
    cases = []
    for n, d, h in ((5, 4, 3), (7, 2, 6), (1, 3, 1)):  # the last: one sample, one unit
        v = rng.standard_normal((d, h)) * rng.uniform(0.5, 3.0, h)  # columns of unequal norms
        g = rng.uniform(0.5, 2.0, h) * rng.choice([-1.0, 1.0], h)
        cases.append(
            Case(
                (rng.standard_normal((n, h)), rng.standard_normal((n, d)), v, g),
                label=f"x {(n, d)}, v {(d, h)}",
            )
        )
    return cases


function_exercise(
    "weight_norm_backward",
    CHAPTER,
    2,
    "weight_norm_backward",
    "Backward pass of a weight-normalised dense layer",
    _weight_norm_cases,
    weight_norm_backward,
    ("dx", "dv", "dg", "db"),
    mistakes=(
        (
            "dv misses the path through the norm: ||v_j|| depends on v_j too, so v_j reaches the "
            "loss a second way; differentiate ||v_j|| with respect to v_j and add that term to "
            "g_j / ||v_j|| dW_j",
            _wn_no_projection,
        ),
        (
            "dx goes through v: the layer multiplies by the effective weight W = g v / ||v||, so dx = dy W^T",
            _wn_dx_through_v,
        ),
        (
            "this is dL/dW = x^T dy, the gradient of the effective weight; chain it through "
            "W = g v / ||v|| to get dv",
            _wn_dv_is_dW,
        ),
        (
            "the norm is taken over the whole of v; each column (output unit) j is divided by "
            "its own norm ||v[:, j]||, a sum over axis 0",
            _wn_whole_norm,
        ),
        (
            "the norms are over the rows of v (axis 1); each output unit is a column of v (D, H), "
            "so its norm sums over axis 0",
            _wn_row_norms,
        ),
    ),
    factors=lambda dy, x, v, g: {"the batch size N": x.shape[0]},
    forbids=("minidl.nn.layers.Dense", "minidl.nn.gradcheck"),
    dtypes="float64",
)


# ---------------------------------------------------------------- softmax cross-entropy
def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy_backward(logits, labels, smoothing):
    """Gradient of the mean cross-entropy against *smoothed* targets
    t = (1 - smoothing) onehot(y) + smoothing / K:  (softmax(z) - t) / N."""
    n, k = logits.shape
    target = np.full((n, k), smoothing / k)
    target[np.arange(n), labels] += 1.0 - smoothing
    return (_softmax(logits) - target) / n


def _sce_no_mean(logits, labels, smoothing):
    return softmax_cross_entropy_backward(logits, labels, smoothing) * logits.shape[0]


def _sce_no_onehot(logits, labels, smoothing):
    return _softmax(logits) / logits.shape[0]


def _sce_unsmoothed(logits, labels, smoothing):
    return softmax_cross_entropy_backward(logits, labels, 0.0)


def _sce_wrong_spread(logits, labels, smoothing):
    """smoothing / (K - 1) on the wrong classes only (another convention, not Keras's)."""
    n, k = logits.shape
    target = np.full((n, k), smoothing / (k - 1))
    target[np.arange(n), labels] = 1.0 - smoothing
    return (_softmax(logits) - target) / n


def _sce_cases(rng):
    cases = []
    for n, k, smoothing in ((6, 4, 0.1), (3, 7, 0.3), (4, 5, 0.0), (1, 3, 0.2)):  # the last: one sample
        cases.append(
            Case(
                (rng.standard_normal((n, k)) * 2, rng.integers(0, k, n), smoothing),
                label=f"logits of shape {(n, k)}, smoothing={smoothing}",
            )
        )
    # a confident network's logits: exp(logits) overflows unless each row's maximum goes first
    cases.append(
        Case(
            (rng.standard_normal((4, 6)) * 5 + 800.0, rng.integers(0, 6, 4), 0.2),
            label="logits near 800 (exp overflows), smoothing=0.2",
        )
    )
    # rows at levels 1600 apart, and a row that spans -800..800: a shift by the row's minimum,
    # or by the maximum of the whole batch, overflows or underflows to NaN
    logits = rng.standard_normal((3, 5)) * 3 + np.array([[800.0], [-800.0], [0.0]])
    logits[2, :2] = (800.0, -800.0)
    cases.append(
        Case((logits, rng.integers(0, 5, 3), 0.1), label="rows near 800, near -800, and from -800 to 800")
    )
    return cases


function_exercise(
    "softmax_cross_entropy_backward",
    CHAPTER,
    2,
    "softmax_cross_entropy_backward",
    "Gradient of the label-smoothed softmax cross-entropy with respect to the logits",
    _sce_cases,
    softmax_cross_entropy_backward,
    ("dlogits",),
    mistakes=(
        ("the 1/N of the batch mean is missing: the loss is averaged over the N samples", _sce_no_mean),
        (
            "the target is not subtracted: the gradient is softmax(z) minus the smoothed target",
            _sce_no_onehot,
        ),
        (
            "the smoothing is ignored: the target puts smoothing / K on every class and "
            "1 - smoothing more on the true one",
            _sce_unsmoothed,
        ),
        (
            "the smoothing mass is spread over the K - 1 wrong classes; here (as in Keras's "
            "label_smoothing) every one of the K classes gets smoothing / K",
            _sce_wrong_spread,
        ),
    ),
    factors=lambda logits, labels, smoothing: {"the batch size N": logits.shape[0]},
    forbids=(
        "minidl.nn.losses.CategoricalCrossentropy",
        "minidl.nn.losses.SparseCategoricalCrossentropy",
        "minidl.nn.layers.Softmax",
        "minidl.kernels",
        "minidl.nn.gradcheck",
    ),
    catches=("a softmax without the row maximum: NaN for logits near 800",),
    dtypes="float64",
    equivalent_mutants={
        "softmax_cross_entropy_backward: augassign: target[np.arange(n), labels] += *": "each "
        "(row, label) pair is written once (the rows are distinct), into the function's own array",
    },
)


# ---------------------------------------------------------------- directional gradient check
# The test functions (inputs) are in probes.py, which the grading process is given.
def _cubic_grad(x):
    return 3.0 * x**2 - 2.0


def _log_sum_exp_grad(x):
    e = np.exp(x - x.max())
    return e / e.sum()


_FUNCTIONS = {cubic: _cubic_grad, log_sum_exp: _log_sum_exp_grad}


def _along(directions, array):
    """sum(array * d) for every direction d: shape (K,)."""
    return directions.reshape(len(directions), -1) @ array.reshape(-1)


def directional_gradient_check(f, x, grad, directions, h=1e-5):
    """numeric_k = (f(x + h d_k) - f(x - h d_k)) / 2h and analytic_k = sum(grad * d_k), each (K,).

    The grader's numeric reference is exact: for the cubic, the central difference of
    sum(x**3 - 2x) is sum((3x**2 - 2) d) + h**2 sum(d**3) exactly, so a step h other than
    the one passed shows; for log-sum-exp it is the directional derivative, which a central
    difference with h = 1e-5 matches to about 1e-10."""
    step_error = h**2 * _along(directions**3, np.ones_like(x)) if f is cubic else 0.0
    return _along(directions, _FUNCTIONS[f](x)) + step_error, _along(directions, grad)


def _forward_difference(f, x, grad, directions, h=1e-5):
    numeric = np.array([(f(x + h * d) - f(x)) / h for d in directions])
    return numeric, _along(directions, grad)


def _never_moved_back(f, x, grad, directions, h=1e-5):
    """Each direction starts where the last one left x: at x - h d_(k-1)."""
    numeric, start = [], x.copy()
    for d in directions:
        numeric.append((f(start + h * d) - f(start - h * d)) / (2 * h))
        start = start - h * d
    return np.array(numeric), _along(directions, grad)


def _directional_cases(rng):
    x1 = rng.standard_normal(5)
    x2 = rng.standard_normal((3, 4))
    x3 = rng.standard_normal(4)
    buggy = np.exp(x2) / np.exp(x2).sum(axis=1, keepdims=True)  # softmax per row: a bug
    return [
        Case(
            (cubic, x1, _cubic_grad(x1), rng.standard_normal((3, 5))),
            label="f(x) = sum(x**3 - 2x), x of shape (5,), 3 directions, its true gradient",
        ),
        Case(
            (log_sum_exp, x2, buggy, rng.standard_normal((4, 3, 4))),
            label="f(x) = log(sum(exp(x))), x of shape (3, 4), 4 directions, a gradient with a bug",
        ),
        Case(
            (cubic, x3, _cubic_grad(x3), rng.standard_normal((2, 4)), 0.05),
            label="f(x) = sum(x**3 - 2x), x of shape (4,), h = 0.05 (the step passed must be used)",
        ),
    ]


_X_MOVED = (
    "the numbers are right, but x was left changed after the call: move it back "
    "after each pair of evaluations (x holds a model's weights in a real check)"
)


def _directional_known(case) -> dict:
    """The expected outputs, the listed mistakes' outputs and the scale that explains one."""
    f, x, grad, directions, *step = case.args
    expected = directional_gradient_check(f, x.copy(), grad, directions, *step)
    wrong = [
        (
            "this is the one-sided difference (f(x+hd) - f(x)) / h; the central difference "
            "(f(x+hd) - f(x-hd)) / (2h) is far more accurate",
            _forward_difference(f, x.copy(), grad, directions, *step),
        ),
        (
            "x was left changed after a direction: the next differences are taken at a moved "
            "point; put x back after each pair of evaluations",
            _never_moved_back(f, x.copy(), grad, directions, *step),
        ),
        ("numeric and analytic are swapped: return (numeric, analytic)", expected[::-1]),
    ]
    if step:
        wrong.append(
            (
                "the step h passed as an argument is not used (a fixed 1e-5 instead)",
                directional_gradient_check(f, x.copy(), grad, directions),
            )
        )
    factors = {"2 (the central difference divides by 2h)": 2.0}
    return {"expected": expected, "mistakes": wrong, "factors": factors}


def _public_directional(case) -> dict:
    """What check() needs: the outputs, and x as it must be after the call (as it was)."""
    after = {"arg": 1, "expected": case.args[1].copy(), "tolerance": 1e-12, "problem": _X_MOVED}
    return {**_directional_known(case), "extra": {"after": [after]}}


def _judge_directional(case, got):
    x = case.args[1]
    if not isinstance(got, dict) or "out" not in got:
        return "the grader could not read the result"
    x_after = got["args_after"][0] if got.get("args_after") else x
    known = _directional_known(case)
    problem = compare_outputs(
        got["out"], known["expected"], ("numeric", "analytic"), known["mistakes"], known["factors"], 1e-8
    )
    if problem:
        return problem
    if not isinstance(x_after, np.ndarray) or x_after.shape != x.shape or rel_error(x_after, x) > 1e-12:
        return _X_MOVED
    return None


register(
    Exercise(
        name="directional_gradient_check",
        chapter=CHAPTER,
        points=2,
        entries=("directional_gradient_check",),
        title="A gradient check along random directions",
        make_cases=_directional_cases,
        judge=_judge_directional,
        probe="call_and_inputs",
        public=_public_directional,
        public_kind="call_and_inputs",
        outputs=("numeric", "analytic"),
        tolerance=1e-8,
        forbids=("minidl.nn.gradcheck",),
        catches=(
            "the one-sided difference (f(x + hd) - f(x)) / h",
            "x left moved after a direction (the next differences taken at a shifted point), also when one array is reused for both perturbations",
            "numeric and analytic swapped",
            "a missing 2 in the central difference",
            "x not restored when the function returns",
            "the step h ignored (a case passes h = 0.05)",
        ),
        equivalent_mutants={
            "directional_gradient_check > _along: const: 1 -> 2*": "NumPy reads any negative size in "
            "a reshape as the one it works out: reshape(K, -2) is reshape(K, -1)",
        },
    )
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

declare_edges(
    "weight_norm_backward",
    ("size_one", "non_square"),
    {"empty": "a layer with no input or no unit has no column norm to divide by"},
)
declare_edges(
    "softmax_cross_entropy_backward",
    ("size_one", "non_square", "extreme_magnitude", "repeated_indices", "varied_settings"),
    {
        "empty": "the loss is a mean over the samples: with none it has no value",
        "ties": "the row's maximum only shifts the logits before exp: equal maxima shift by the same value",
    },
)
declare_edges(
    "directional_gradient_check",
    ("non_square", "varied_settings"),
    {
        "empty": "the task checks along at least one direction of a non-empty x",
        "size_one": "the differences are taken per direction and summed over x: no length is special",
    },
)
