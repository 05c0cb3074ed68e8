"""Chapter 12, GANs: generator and discriminator losses, one generator step."""

import numpy as np

from ..judge.registry import Case, Exercise, function_exercise, register
from ..judge.feedback import compare_outputs

CHAPTER = "12_gans"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softplus(z):
    return np.logaddexp(0.0, z)


def generator_loss(fake_logits):
    """Non-saturating generator loss -mean(log D(G(z))) = mean(softplus(-l)), and dL/dl."""
    n = fake_logits.shape[0]
    return np.mean(_softplus(-fake_logits)), -_sigmoid(-fake_logits) / n


def _saturating(fake_logits):
    n = fake_logits.shape[0]
    return -np.mean(_softplus(fake_logits)), -_sigmoid(fake_logits) / n


def _logit_cases(rng, two):
    def draw(n):
        return rng.standard_normal(n) * 2

    extreme = np.array([-800.0, -5.0, 0.3, 5.0, 800.0])
    if two:
        return [
            Case((draw(6), draw(4)), label="6 real and 4 fake logits"),
            Case((extreme, -extreme[:3]), label="extreme logits of +-800 (a naive log(sigmoid) gives -inf)"),
        ]
    return [
        Case((draw(7),), label="7 fake logits"),
        Case((extreme,), label="extreme logits of +-800 (a naive log(sigmoid) gives -inf)"),
    ]


function_exercise(
    "generator_loss",
    CHAPTER,
    2,
    "generator_loss",
    "The non-saturating generator loss",
    lambda rng: _logit_cases(rng, False),
    generator_loss,
    ("loss", "dlogits"),
    mistakes=(
        (
            "this is the saturating loss mean(log(1 - D(G(z)))); the generator minimises "
            "-mean(log D(G(z))) instead, whose gradient does not vanish early in training",
            _saturating,
        ),
    ),
    forbids=("minidl.gallery.gan", "minidl.nn.losses"),
)


def discriminator_loss(real_logits, fake_logits):
    """mean(softplus(-real)) + mean(softplus(fake)): real labelled 1, fake 0.

    Returns (loss, d_real, d_fake), the gradients with respect to the two logit vectors.
    """
    return (
        np.mean(_softplus(-real_logits)) + np.mean(_softplus(fake_logits)),
        -_sigmoid(-real_logits) / real_logits.shape[0],
        _sigmoid(fake_logits) / fake_logits.shape[0],
    )


function_exercise(
    "discriminator_loss",
    CHAPTER,
    2,
    "discriminator_loss",
    "The discriminator loss",
    lambda rng: _logit_cases(rng, True),
    discriminator_loss,
    ("loss", "d_real", "d_fake"),
    mistakes=(
        (
            "the labels are swapped: real samples have label 1, fakes label 0",
            lambda r, f: discriminator_loss(f, r)[:1] + discriminator_loss(-r, -f)[1:],
        ),
    ),
    forbids=("minidl.gallery.gan", "minidl.nn.losses"),
)


# ---------------------------------------------------------------- generator step
def generator_step(z, Wg, bg, Wd, bd, lr):
    """One SGD step on the generator only.

    G(z) = tanh(z Wg + bg) (N, D);  logits = G(z) Wd + bd (N,);  loss = mean(softplus(-logits)).
    Returns the updated (Wg, bg); the discriminator's Wd, bd stay unchanged.
    """
    return _generator_step(z, Wg, bg, Wd, bd, lr, saturating=False)


def _generator_step(z, Wg, bg, Wd, bd, lr, *, saturating):
    a = z @ Wg + bg
    x = np.tanh(a)
    logits = x @ Wd + bd
    n = z.shape[0]
    dlogits = -_sigmoid(logits) / n if saturating else -_sigmoid(-logits) / n
    da = np.outer(dlogits, Wd) * (1.0 - x**2)
    return Wg - lr * (z.T @ da), bg - lr * da.sum(axis=0)


def _gen_step_cases(rng):
    cases = []
    for n, k, d in ((5, 3, 4), (3, 2, 6)):
        cases.append(
            Case(
                (
                    rng.standard_normal((n, k)),
                    rng.standard_normal((k, d)),
                    rng.standard_normal(d) * 0.1,
                    rng.standard_normal(d),
                    float(rng.standard_normal()),
                    0.1,
                ),
                label=f"z of shape {(n, k)}, samples of size {d}",
            )
        )
    return cases


def _judge_generator_step(case, got):
    if not isinstance(got, dict) or "out" not in got:
        return "the grader could not read the result"
    args = case.args
    z, Wg, bg, Wd, bd, lr = args
    wrong = [
        (
            "the saturating loss was used; the generator step uses the non-saturating "
            "loss mean(softplus(-logits))",
            _generator_step(z, Wg, bg, Wd, bd, lr, saturating=True),
        ),
        (
            "the step goes uphill: subtract lr * gradient",
            _generator_step(z, Wg, bg, Wd, bd, -lr, saturating=False),
        ),
    ]
    problem = compare_outputs(got["out"], generator_step(*args), ("Wg", "bg"), wrong)
    if problem:
        return problem
    after = got.get("args_after") or ()
    for position, name in ((3, "Wd"), (4, "bd")):  # the discriminator's weights, unchanged
        before = args[position]
        if len(after) > position and (
            after[position].shape != before.shape or not np.array_equal(after[position], before)
        ):
            return f"the discriminator's {name} was changed: the generator step must only update Wg and bg"
    return None


register(
    Exercise(
        name="generator_step",
        chapter=CHAPTER,
        points=3,
        entries=("generator_step",),
        title="One training step of a GAN's generator",
        make_cases=_gen_step_cases,
        judge=_judge_generator_step,
        probe="call_and_inputs",
        forbids=(
            "minidl.gallery.gan",
            "minidl.nn.losses",
            "minidl.nn.optim",
            "minidl.training",
            "minidl.nn.gradcheck",
        ),
        catches=(
            "the saturating loss instead of the non-saturating one",
            "a step uphill (+ lr * gradient)",
            "the discriminator's Wd or bd changed",
        ),
    )
)
