"""Chapter 17, autoencoders: a denoising step to repair, tied weights, a sparsity penalty derived."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "17_autoencoders"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def autoencoder_train_step(x, keep, W1, b1, W2, b2, lr):
    """One SGD step of a denoising autoencoder: the encoder reads x * keep (masking noise),
    h = relu((x * keep) W1 + b1), x_hat = sigmoid(h W2 + b2), loss = mean((x_hat - x)**2).

    The mean is over every element (N * D of them); the target is the clean x. Returns
    (loss, W1, b1, W2, b2): the loss before the step and the parameters after it.
    """
    return _autoencoder_step(x, keep, W1, b1, W2, b2, lr)


def _autoencoder_step(x, keep, W1, b1, W2, b2, lr, *, clean_target=True, stale=False, noisy_input=True):
    seen = x * keep
    a1 = seen @ W1 + b1
    h = np.maximum(a1, 0.0)
    x_hat = _sigmoid(h @ W2 + b2)
    target = x if clean_target else seen
    loss = np.sum((x_hat - target) ** 2) / x.size
    da2 = 2.0 * (x_hat - target) / x.size * x_hat * (1.0 - x_hat)
    dW2, db2 = h.T @ da2, da2.sum(axis=0)
    da1 = (da2 @ (W2 - lr * dW2 if stale else W2).T) * (a1 > 0)
    dW1, db1 = (seen if noisy_input else x).T @ da1, da1.sum(axis=0)
    return loss, W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2


def _ae_cases(rng):
    cases = []
    # the keep rate of the masking noise; 1.0: no noise at all (a plain autoencoder)
    for n, d, k, lr, rate in (
        (6, 5, 3, 0.5, 0.7),
        (4, 8, 2, 0.5, 0.5),
        (5, 4, 3, 0.5, 1.0),
        (1, 4, 2, 0.1, 0.6),
    ):
        keep = (rng.random((n, d)) < rate).astype(np.float64)
        cases.append(
            Case(
                (
                    rng.random((n, d)),
                    keep,
                    rng.standard_normal((d, k)),
                    rng.standard_normal(k) * 0.1,
                    rng.standard_normal((k, d)),
                    rng.standard_normal(d) * 0.1,
                    lr,
                ),
                label=f"x of shape {(n, d)}, {int(keep.sum())} of {n * d} inputs kept, code size {k}, lr={lr}",
            )
        )
    return cases


function_exercise(
    "autoencoder_train_step",
    CHAPTER,
    3,
    "autoencoder_train_step",
    "A broken denoising-autoencoder step, repaired",
    _ae_cases,
    autoencoder_train_step,
    ("loss", "W1", "b1", "W2", "b2"),
    mistakes=(
        (
            "what is a denoising autoencoder asked to reconstruct: what it saw, or what was there?",
            lambda *a: _autoencoder_step(*a, clean_target=False),
        ),
        (
            "the gradient is of the loss as it was computed: which weights did the forward pass use?",
            lambda *a: _autoencoder_step(*a, stale=True),
        ),
        (
            "W1 multiplied the encoder's input: which array was that?",
            lambda *a: _autoencoder_step(*a, noisy_input=False),
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
        "autoencoder_train_step > _autoencoder_step: copy: target = x -> target = x.copy()": "target "
        "is only read: a copy of x holds the same values",
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
def sparsity_penalty(z, rho, beta):
    """beta * sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j)), h = sigmoid(z) (N, k),
    rho_hat_j = the mean over the batch of h[:, j].

    Returns (penalty, dpenalty/dz of shape (N, k))."""
    return _sparsity(z, rho, beta)


def _sparsity(z, rho, beta, *, per_sample=False, reverse=False, through_sigmoid=True):
    h = _sigmoid(z)
    rho_hat = h.mean(axis=0)
    if reverse:
        kl = rho_hat * np.log(rho_hat / rho) + (1 - rho_hat) * np.log((1 - rho_hat) / (1 - rho))
        d_rho_hat = beta * (np.log(rho_hat / rho) - np.log((1 - rho_hat) / (1 - rho)))
    else:
        kl = rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))
        d_rho_hat = beta * (-rho / rho_hat + (1 - rho) / (1 - rho_hat))
    dh = d_rho_hat if per_sample else d_rho_hat / h.shape[0]
    dz = dh * h * (1.0 - h) if through_sigmoid else np.broadcast_to(dh, h.shape).copy()
    return float(beta * kl.sum()), dz


def _sparsity_cases(rng):
    cases = []
    for n, k, rho, beta in ((6, 4, 0.05, 3.0), (3, 5, 0.2, 0.5), (1, 3, 0.1, 1.0)):  # last: one sample
        cases.append(
            Case(
                (rng.uniform(-3.5, 3.5, (n, k)), rho, beta),
                label=f"z of shape {(n, k)}, rho={rho}, beta={beta}",
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
    ("penalty", "dz"),
    mistakes=(
        (
            "rho_hat is a mean over the batch: how much does one sample's h move it?",
            lambda *a: _sparsity(*a, per_sample=True),
        ),
        (
            "KL is not symmetric: which distribution is the target, and which one weights the logs?",
            lambda *a: _sparsity(*a, reverse=True),
        ),
        (
            "the gradient asked for is with respect to z, and h is a function of z",
            lambda *a: _sparsity(*a, through_sigmoid=False),
        ),
    ),
    factors=lambda z, rho, beta: {"the batch size N": z.shape[0]},
    forbids=("minidl.gallery.autoencoders", "minidl.nn.regularizers", "minidl.nn.gradcheck"),
    dtypes=("number", "float64"),
)


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
        "extreme_magnitude": "z is a code unit's pre-activation of moderate size (|z| <= 3.5, as after training): the task is the penalty, not a sigmoid stable for any input",
    },
)
