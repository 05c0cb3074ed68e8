"""Chapter 5, regularization: inverted dropout and the L2 penalty."""
import numpy as np

from ..registry import Case, function_exercise

CHAPTER = "05_regularization"


def inverted_dropout(x, u, rate):
    """Keep x where u >= rate, scaled by 1 / (1 - rate). Returns (y, mask) with y = x * mask."""
    mask = (u >= rate) / (1.0 - rate)
    return x * mask, mask


def _dropout_cases(rng):
    cases = []
    for shape, rate in (((4, 6), 0.5), ((3, 2, 5), 0.2)):
        cases.append(Case((rng.standard_normal(shape), rng.random(shape), rate),
                          label=f"x of shape {shape}, rate={rate}"))
    return cases


function_exercise(
    "inverted_dropout", CHAPTER, 2, "inverted_dropout", "Inverted dropout",
    _dropout_cases, inverted_dropout, ("y", "mask"),
    mistakes=(("the kept values are not scaled by 1 / (1 - rate): that is plain dropout, which "
               "would need a rescaling at test time",
               lambda x, u, rate: (x * (u >= rate), (u >= rate) * 1.0)),
              ("elements are kept with probability rate; rate is the probability to DROP "
               "(keep where u >= rate)",
               lambda x, u, rate: (x * (u < rate) / (1 - rate), (u < rate) / (1 - rate))),
              ("the kept values are multiplied by (1 - rate) instead of divided",
               lambda x, u, rate: (x * (u >= rate) * (1 - rate), (u >= rate) * (1 - rate)))))


def l2_penalty(W, lam):
    """Keras's L2: penalty = lam * sum(W**2), gradient 2 * lam * W. Returns (penalty, dW)."""
    return lam * np.sum(W ** 2), 2.0 * lam * W


def _l2_cases(rng):
    return [Case((rng.standard_normal((4, 3)), 0.01), label="W of shape (4, 3), lam=0.01"),
            Case((rng.standard_normal((2, 3, 2)), 0.5), label="W of shape (2, 3, 2), lam=0.5")]


function_exercise(
    "l2_penalty", CHAPTER, 1, "l2_penalty", "The L2 penalty and its gradient",
    _l2_cases, l2_penalty, ("penalty", "dW"),
    mistakes=(("the factor 2 from differentiating W**2 is missing", lambda W, lam: (
        lam * np.sum(W ** 2), lam * W)),),
    factors=lambda W, lam: {"2": 2.0})


# ---------------------------------------------------------------- questions
# Graded like the code exercises; the answers and the explanations stay here, in the
# grader's process (see questions.py).
from ..questions import multiple_choice, number_question, shape_question  # noqa: E402

multiple_choice(
    "dropout_test_time", CHAPTER, 1, "Inverted dropout at test time",
    choices={"a": "multiply the activations by 1 - rate",
             "b": "nothing: the layer is the identity",
             "c": "drop units with the same rate as in training",
             "d": "divide the activations by 1 - rate"},
    answer="b",
    wrong={"a": "that is the test-time rescaling of *plain* dropout; inverted dropout already "
                "divided by 1 - rate during training, so the expected activation matches",
           "c": "dropping at test time makes predictions random; dropout is a training-time "
                "regularizer (Monte-Carlo dropout is a separate technique)",
           "d": "that scaling was done during training, on the kept units; doing it again at test "
                "time would make every activation 1 / (1 - rate) times too large"},
    explanation="Training divides the kept units by 1 - rate, so E[y] = x already; at test time "
                "Dropout(training=False) returns x.")

number_question(
    "dropout_kept_value", CHAPTER, 1, "The value inverted dropout keeps",
    value=8.0 / 3.0, tolerance=1e-3,
    mistakes=((1.5, "1.5 = 2 * (1 - rate) is plain dropout's test-time scaling; inverted dropout "
                    "divides the kept value by 1 - rate"),
              (2.0, "a kept value is not left as it was: it is scaled so that the expected output equals x"),
              (8.0, "8 = 2 / rate divides by the drop probability; the keep probability is 1 - rate"),
              (0.5, "0.5 = 2 * rate: rate is the probability to drop, and kept values are divided by 1 - rate")),
    hint="which factor keeps E[y] = x when a unit is kept with probability 1 - rate?",
    explanation="2 / (1 - 0.25) = 8/3 ≈ 2.667; kept with probability 0.75, the expected output is 2.")
