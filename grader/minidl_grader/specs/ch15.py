"""Chapter 15, autoencoders: a training step, tied weights, a sparsity penalty."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "15_autoencoders"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def autoencoder_train_step(x, W1, b1, W2, b2, lr):
    """One SGD step of h = relu(x W1 + b1), x_hat = sigmoid(h W2 + b2), loss = mean((x_hat - x)**2).

    The mean is over every element (N * D of them). Returns (loss, W1, b1, W2, b2): the
    loss before the step and the parameters after it.
    """
    return _autoencoder_step(x, W1, b1, W2, b2, lr, count=x.size)


def _autoencoder_step(x, W1, b1, W2, b2, lr, *, count):
    a1 = x @ W1 + b1
    h = np.maximum(a1, 0.0)
    x_hat = _sigmoid(h @ W2 + b2)
    loss = np.sum((x_hat - x) ** 2) / count
    da2 = 2.0 * (x_hat - x) / count * x_hat * (1.0 - x_hat)
    dW2, db2 = h.T @ da2, da2.sum(axis=0)
    da1 = (da2 @ W2.T) * (a1 > 0)
    dW1, db1 = x.T @ da1, da1.sum(axis=0)
    return loss, W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2


def _ae_cases(rng):
    cases = []
    for n, d, k, lr in ((6, 5, 3, 0.5), (4, 8, 2, 0.5), (1, 4, 2, 0.1)):  # last: one sample
        cases.append(
            Case(
                (
                    rng.random((n, d)),
                    rng.standard_normal((d, k)),
                    rng.standard_normal(k) * 0.1,
                    rng.standard_normal((k, d)),
                    rng.standard_normal(d) * 0.1,
                    lr,
                ),
                label=f"x of shape {(n, d)}, code size {k}, lr={lr}",
            )
        )
    return cases


function_exercise(
    "autoencoder_train_step",
    CHAPTER,
    3,
    "autoencoder_train_step",
    "One training step of a small autoencoder",
    _ae_cases,
    autoencoder_train_step,
    ("loss", "W1", "b1", "W2", "b2"),
    mistakes=(
        (
            "the loss is averaged over the batch only (summed over features); this exercise "
            "averages over all N * D elements",
            lambda x, *p: _autoencoder_step(x, *p, count=x.shape[0]),
        ),
    ),
    forbids=(
        "minidl.gallery.autoencoders",
        "minidl.nn.layers.Dense",
        "minidl.training",
        "minidl.nn.optim",
        "minidl.nn.losses",
        "minidl.nn.gradcheck",
    ),
    dtypes=("number", "float64", "float64", "float64", "float64"),
    equivalent_mutants={
        "autoencoder_train_step > _autoencoder_step: compare: a1 > 0 -> a1 >= 0": "relu'(0): a "
        "pre-activation (a sum of products of random floats) is never exactly 0 here",
    },
)


# ---------------------------------------------------------------- tied weights
def tied_autoencoder_gradient(x, W, b_enc, b_dec):
    """h = relu(x W + b_enc), x_hat = h W^T + b_dec, L = mean((x_hat - x)**2) over all N*D.

    W is used twice (encoder and, transposed, decoder). Returns (loss, dW, db_enc, db_dec)."""
    a = x @ W + b_enc
    h = np.maximum(a, 0.0)
    x_hat = h @ W.T + b_dec
    d_out = 2.0 * (x_hat - x) / x.size  # (N, D)
    da = (d_out @ W) * (a > 0)  # (N, k)
    dW = x.T @ da + d_out.T @ h  # encoder use + decoder use
    return float(np.mean((x_hat - x) ** 2)), dW, da.sum(axis=0), d_out.sum(axis=0)


def _tied_decoder_only(x, W, b_enc, b_dec):
    loss, _, db_enc, db_dec = tied_autoencoder_gradient(x, W, b_enc, b_dec)
    h = np.maximum(x @ W + b_enc, 0.0)
    return loss, (2.0 * (h @ W.T + b_dec - x) / x.size).T @ h, db_enc, db_dec


def _tied_encoder_only(x, W, b_enc, b_dec):
    loss, _, db_enc, db_dec = tied_autoencoder_gradient(x, W, b_enc, b_dec)
    a = x @ W + b_enc
    d_out = 2.0 * (np.maximum(a, 0.0) @ W.T + b_dec - x) / x.size
    return loss, x.T @ ((d_out @ W) * (a > 0)), db_enc, db_dec


def _tied_cases(rng):
    cases = []
    for n, d, k in ((5, 6, 3), (4, 8, 2), (1, 5, 1)):  # last: one sample, a code of one unit
        cases.append(
            Case(
                (
                    rng.random((n, d)),
                    rng.standard_normal((d, k)) * 0.5,
                    rng.standard_normal(k) * 0.1,
                    rng.standard_normal(d) * 0.1,
                ),
                label=f"x of shape {(n, d)}, a code of {k}",
            )
        )
    return cases


function_exercise(
    "tied_autoencoder_gradient",
    CHAPTER,
    3,
    "tied_autoencoder_gradient",
    "The gradient of an autoencoder whose decoder reuses the encoder's weights",
    _tied_cases,
    tied_autoencoder_gradient,
    ("loss", "dW", "db_enc", "db_dec"),
    mistakes=(
        (
            "dW holds only the decoder's use of W (d_out^T h); W is also the encoder's "
            "weight, so its gradient is the sum of both uses",
            _tied_decoder_only,
        ),
        (
            "dW holds only the encoder's use of W (x^T da); the decoder uses W^T too, and "
            "that use adds (d_out^T h) to the gradient",
            _tied_encoder_only,
        ),
    ),
    forbids=("minidl.gallery.autoencoders", "minidl.nn.layers.Dense", "minidl.nn.gradcheck"),
    dtypes=("number", "float64", "float64", "float64"),
    equivalent_mutants={
        "tied_autoencoder_gradient: compare: a > 0 -> a >= 0": "relu'(0): a pre-activation (a sum "
        "of products of random floats) is never exactly 0 here",
    },
)


# ---------------------------------------------------------------- a sparsity penalty
def sparsity_penalty(h, rho, beta):
    """beta * sum_j KL(rho || rho_hat_j), rho_hat_j = mean over the batch of h[:, j] in (0, 1).

    Returns (penalty, dpenalty/dh of shape (N, k))."""
    rho_hat = h.mean(axis=0)
    kl = rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))
    grad = beta * (-rho / rho_hat + (1 - rho) / (1 - rho_hat)) / h.shape[0]
    return float(beta * kl.sum()), np.broadcast_to(grad, h.shape).copy()


def _sparsity_cases(rng):
    cases = []
    for n, k, rho, beta in ((6, 4, 0.05, 3.0), (3, 5, 0.2, 0.5), (1, 3, 0.1, 1.0)):  # last: one sample
        cases.append(
            Case(
                (0.02 + 0.96 * rng.random((n, k)), rho, beta),
                label=f"h of shape {(n, k)}, rho={rho}, beta={beta}",
            )
        )
    return cases


function_exercise(
    "sparsity_penalty",
    CHAPTER,
    2,
    "sparsity_penalty",
    "A sparsity penalty on the code, and its gradient",
    _sparsity_cases,
    sparsity_penalty,
    ("penalty", "dh"),
    mistakes=(
        (
            "the gradient is missing the 1/N: rho_hat is a mean over the batch, so each "
            "sample's h moves it by 1/N",
            lambda h, rho, beta: (
                sparsity_penalty(h, rho, beta)[0],
                sparsity_penalty(h, rho, beta)[1] * h.shape[0],
            ),
        ),
        (
            "KL(rho_hat || rho) is not the same divergence: the penalty is KL(rho || rho_hat), "
            "with the target rho weighting the logs",
            lambda h, rho, beta: _reversed_kl(h, rho, beta),
        ),
    ),
    factors=lambda h, rho, beta: {"the batch size N": h.shape[0]},
    forbids=("minidl.gallery.autoencoders", "minidl.nn.regularizers", "minidl.nn.gradcheck"),
    dtypes=("number", "float64"),
    equivalent_mutants={
        "sparsity_penalty: copy: np.broadcast_to(grad, h.shape).copy() -> *": "a view of the "
        "function's own gradient, not of an input: the same values",
    },
)


def _reversed_kl(h, rho, beta):
    r = h.mean(axis=0)
    kl = r * np.log(r / rho) + (1 - r) * np.log((1 - r) / (1 - rho))
    grad = beta * (np.log(r / rho) - np.log((1 - r) / (1 - rho))) / h.shape[0]
    return float(beta * kl.sum()), np.broadcast_to(grad, h.shape).copy()


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

_NOT_EMPTY = "the losses are means over the samples: with none they have no value"
declare_edges(
    "autoencoder_train_step",
    ("size_one", "non_square", "varied_settings"),
    {
        "empty": _NOT_EMPTY,
        "ties": "ReLU compares each value with 0 alone, never two values",
        "extreme_magnitude": "pixels in [0, 1] and weights of unit scale, as in the chapter: the task is "
        "one SGD step, not a sigmoid stable for any input",
    },
)
declare_edges(
    "tied_autoencoder_gradient",
    ("size_one", "non_square"),
    {"empty": _NOT_EMPTY, "ties": "ReLU compares each value with 0 alone, never two values"},
)
declare_edges(
    "sparsity_penalty",
    ("size_one", "non_square", "varied_settings"),
    {
        "empty": "the mean activation of a unit over no sample has no value",
        "extreme_magnitude": "h holds sigmoid activations in (0, 1): the logs of rho / h are bounded by the task",
    },
)
