"""Chapter 11, autoencoders: a training step by hand, reconstruction errors."""
import numpy as np

from ..registry import Case, function_exercise

CHAPTER = "11_autoencoders"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def autoencoder_train_step(x, W1, b1, W2, b2, lr):
    """One SGD step of h = relu(x W1 + b1), x_hat = sigmoid(h W2 + b2), loss = mean((x_hat - x)**2).

    The mean is over every element (N * D of them). Returns (loss, W1, b1, W2, b2): the
    loss before the step and the parameters after it.
    """
    return _autoencoder_step(x, W1, b1, W2, b2, lr, x.size)


def _autoencoder_step(x, W1, b1, W2, b2, lr, count):
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
    for n, d, k in ((6, 5, 3), (4, 8, 2)):
        cases.append(Case((rng.random((n, d)), rng.standard_normal((d, k)), rng.standard_normal(k) * 0.1,
                           rng.standard_normal((k, d)), rng.standard_normal(d) * 0.1, 0.5),
                          label=f"x of shape {(n, d)}, code size {k}, lr=0.5"))
    return cases


function_exercise(
    "autoencoder_train_step", CHAPTER, 3, "autoencoder_train_step",
    "One training step of a small autoencoder", _ae_cases, autoencoder_train_step,
    ("loss", "W1", "b1", "W2", "b2"),
    mistakes=(("the loss is averaged over the batch only (summed over features); this exercise "
               "averages over all N * D elements",
               lambda x, *p: _autoencoder_step(x, *p, x.shape[0])),))


def reconstruction_errors(x, x_hat):
    """Per-sample mean squared error over every axis but the first: (N, ...) -> (N,)."""
    return ((x - x_hat) ** 2).reshape(x.shape[0], -1).mean(axis=1)


def _recon_cases(rng):
    return [Case((rng.random((5, 6)), rng.random((5, 6))), label="x of shape (5, 6)"),
            Case((rng.random((3, 1, 4, 4)), rng.random((3, 1, 4, 4))),
                 label="images of shape (3, 1, 4, 4)")]


function_exercise(
    "reconstruction_errors", CHAPTER, 1, "reconstruction_errors",
    "Per-sample reconstruction errors (for anomaly detection)", _recon_cases,
    reconstruction_errors, ("errors",))


# ---------------------------------------------------------------- questions
# Graded like the code exercises; the answers and the explanations stay here, in the
# grader's process (see questions.py).
from ..questions import multiple_choice, number_question, shape_question  # noqa: E402

multiple_choice(
    "autoencoder_bottleneck", CHAPTER, 1, "Why an autoencoder's code is narrower than its input",
    choices={"a": "to make training faster",
             "b": "a code as wide as the input lets the network learn the identity; the bottleneck forces it to keep what matters",
             "c": "the decoder cannot produce more values than it receives",
             "d": "a narrow code makes the reconstruction error zero"},
    answer="b",
    wrong={"a": "speed is a side effect; a wide code would train fine, and learn nothing useful",
           "c": "the decoder maps 32 values to 784 without trouble: a Dense layer can widen as well as narrow",
           "d": "squeezing through fewer numbers makes a perfect reconstruction *harder*; the error is "
                "the price paid for a compressed code"},
    explanation="With no bottleneck (or other constraint) copying is a perfect solution; the "
                "bottleneck makes the code a compressed summary of the data.")

number_question(
    "autoencoder_param_count", CHAPTER, 1, "The parameters of a small autoencoder",
    value=50992, tolerance=0.5,
    mistakes=((50176, "50176 counts the two weight matrices; both layers also have biases"),
              (25120, "that is the encoder alone (784*32 + 32); count the decoder too"),
              (25872, "that is the decoder alone (32*784 + 784); count the encoder too"),
              (50240, "the decoder's bias has 784 entries, one per output, not 32")),
    hint="Dense(32) on 784 inputs, then Dense(784) on 32 inputs: W and b of each",
    explanation="784*32 + 32 + 32*784 + 784 = 50992.")
