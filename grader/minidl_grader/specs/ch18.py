"""Chapter 18, GANs: the hinge loss, one generator step, a broken training step repaired."""

import numpy as np

from ..judge.feedback import compare_outputs
from ..judge.registry import Case, Exercise, declare_edges, function_exercise, register

CHAPTER = "18_gans"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softplus(z):
    return np.logaddexp(0.0, z)


# ---------------------------------------------------------------- the hinge loss
def hinge_gan_losses(real_logits, fake_logits):
    """The hinge GAN losses on D's raw scores and their (sub)gradients, derivative 0 at a kink.

    L_D = mean(relu(1 - real)) + mean(relu(1 + fake)),  L_G = -mean(fake).
    Returns (loss_d, d_real, d_fake, loss_g, dg_fake).
    """
    n_real, n_fake = len(real_logits), len(fake_logits)
    loss_d = np.mean(np.maximum(0.0, 1.0 - real_logits)) + np.mean(np.maximum(0.0, 1.0 + fake_logits))
    d_real = np.where(real_logits < 1.0, -1.0 / n_real, 0.0)
    d_fake = np.where(fake_logits > -1.0, 1.0 / n_fake, 0.0)
    return loss_d, d_real, d_fake, -np.mean(fake_logits), np.full(n_fake, -1.0 / n_fake)


def _hinge_variant(real, fake, mistake):
    """``hinge_gan_losses`` with one of the mistakes of ``HINGE_MISTAKES``."""
    loss_d, d_real, d_fake, loss_g, dg_fake = hinge_gan_losses(real, fake)
    n_real, n_fake = len(real), len(fake)
    if mistake == "swapped":
        loss_d = np.mean(np.maximum(0.0, 1.0 + real)) + np.mean(np.maximum(0.0, 1.0 - fake))
        d_real, d_fake = np.where(real > -1.0, 1.0 / n_real, 0.0), np.where(fake < 1.0, -1.0 / n_fake, 0.0)
    elif mistake == "kink":
        d_real, d_fake = np.where(real <= 1.0, -1.0 / n_real, 0.0), np.where(fake >= -1.0, 1.0 / n_fake, 0.0)
    elif mistake == "pooled":
        total = n_real + n_fake
        loss_d = (np.maximum(0.0, 1.0 - real).sum() + np.maximum(0.0, 1.0 + fake).sum()) / total
        d_real, d_fake = d_real * n_real / total, d_fake * n_fake / total
    elif mistake == "generator hinge":
        loss_g, dg_fake = np.mean(np.maximum(0.0, 1.0 - fake)), np.where(fake < 1.0, -1.0 / n_fake, 0.0)
    elif mistake == "generator minimax":
        loss_g, dg_fake = -np.mean(np.maximum(0.0, 1.0 + fake)), np.where(fake > -1.0, -1.0 / n_fake, 0.0)
    elif mistake == "sums":
        d_real, d_fake, dg_fake = d_real * n_real, d_fake * n_fake, dg_fake * n_fake
    return loss_d, d_real, d_fake, loss_g, dg_fake


HINGE_MISTAKES = {
    "swapped": "real and fake are swapped in L_D: D wants real scores above +1, fake ones below -1",
    "kink": "the derivative at a kink is taken as 1; take 0 there (as ReLU's backward does at 0): "
    "a real score of exactly 1 or a fake score of exactly -1 gets no gradient",
    "pooled": "L_D is a mean over the 2n pooled scores; it is the sum of two means, one over the real "
    "scores and one over the fakes",
    "generator hinge": "the generator minimises relu(1 - fake): its gradient vanishes as soon as a "
    "fake's score passes 1; the hinge GAN's generator minimises -mean(fake), with no hinge",
    "generator minimax": "the generator maximises D's own fake term relu(1 + fake) (the minimax "
    "form): flat, no gradient at all, once D pushes a fake below -1; L_G = -mean(fake)",
    "sums": "the gradients are not divided by the number of scores: each loss is a mean",
}


def _hinge_cases(rng):
    # at the kinks, and between each kink and 0 (a real score of 0.5, a fake one of -0.5)
    ties = (np.array([1.0, 0.5, 1.0, 3.0, -2.0]), np.array([-1.0, -1.0, 0.2, -3.0, -0.5]))
    return [
        Case((rng.standard_normal(6) * 2, rng.standard_normal(4) * 2), label="6 real and 4 fake scores"),
        Case(ties, label="scores exactly at the kinks (real 1, fake -1)"),
        Case(
            (rng.standard_normal(3) * 3, rng.standard_normal(7) * 3 - 2),
            label="3 real and 7 fake scores, most fakes below -1",
        ),
        Case((np.array([0.4]), np.array([-0.3])), label="one real and one fake score"),
    ]


function_exercise(
    "hinge_gan_losses",
    CHAPTER,
    2,
    "hinge_gan_losses",
    "The hinge loss of a GAN, and its gradients",
    _hinge_cases,
    hinge_gan_losses,
    ("loss_d", "d_real", "d_fake", "loss_g", "dg_fake"),
    mistakes=tuple(
        (hint, lambda r, f, mistake=mistake: _hinge_variant(r, f, mistake))
        for mistake, hint in HINGE_MISTAKES.items()
    ),
    forbids=("minidl.gallery.gan", "minidl.nn.losses", "minidl.nn.layers"),
    dtypes=("number", "float64", "float64", "number", "float64"),
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
    # the last: one sample, and D's weights of a few hundred: logits in the hundreds
    for n, k, d, lr, scale in ((5, 3, 4, 0.1, 1.0), (3, 2, 6, 0.25, 1.0), (1, 2, 3, 0.05, 300.0)):
        cases.append(
            Case(
                (
                    rng.standard_normal((n, k)),
                    rng.standard_normal((k, d)),
                    rng.standard_normal(d) * 0.1,
                    rng.standard_normal(d) * scale,
                    float(rng.standard_normal()),
                    lr,
                ),
                label=f"z of shape {(n, k)}, samples of size {d}, lr={lr}"
                + (f", D's weights of about {scale:g}" if scale > 1 else ""),
            )
        )
    return cases


def _generator_step_mistakes(args):
    z, Wg, bg, Wd, bd, lr = args
    return [
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


def _unchanged_problem(position: int) -> str:
    """What is said of an input changed by the call: D's weights, or the others."""
    name = ("z", "Wg", "bg", "Wd", "bd")[position]
    if position >= 3:  # the discriminator's weights, unchanged
        return f"the discriminator's {name} was changed: the generator step must only update Wg and bg"
    return (  # new arrays, the caller's kept
        f"the function changed its input `{name}` in place; the task asks for new arrays "
        "(write `Wg = Wg - lr * dWg` instead of `Wg -= lr * dWg`)"
    )


_AFTER_ORDER = (3, 4, 0, 1, 2)  # D's weights first


def _public_generator_step(case) -> dict:
    """What check() needs: the new (Wg, bg), and every array input as it was."""
    after = [
        {"arg": p, "expected": case.args[p].copy(), "tolerance": 0.0, "problem": _unchanged_problem(p)}
        for p in _AFTER_ORDER
        if isinstance(case.args[p], np.ndarray)  # a float bd cannot change in place
    ]
    return {
        "expected": generator_step(*case.args),
        "mistakes": _generator_step_mistakes(case.args),
        "factors": {},
        "extra": {"after": after},
    }


def _judge_generator_step(case, got):
    if not isinstance(got, dict) or "out" not in got:
        return "the grader could not read the result"
    args = case.args
    wrong = _generator_step_mistakes(args)
    problem = compare_outputs(got["out"], generator_step(*args), ("Wg", "bg"), wrong)
    if problem:
        return problem
    after = got.get("args_after") or ()
    for position in _AFTER_ORDER:
        before = args[position]
        if len(after) > position and (
            after[position].shape != before.shape or not np.array_equal(after[position], before)
        ):
            return _unchanged_problem(position)
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
        public=_public_generator_step,
        public_kind="call_and_inputs",
        outputs=("Wg", "bg"),
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
            "Wg or bg updated in place (the task asks for new arrays)",
        ),
    )
)


# ---------------------------------------------------------------- a broken GAN step, repaired
def gan_step(x_real, z_d, z_g, params, lr):
    """One alternating GAN step on 1-D data, as GANTrainer does: G(z) = a z + c, D's logit
    l = w x + b. The discriminator step (real 1, fake 0, G only forward) updates w, b; the
    generator step, with fresh noise z_g and the *updated* D, updates a, c on the
    non-saturating loss. Returns (a, c, w, b, loss_d, loss_g), the losses before each update."""
    return _gan_step(x_real, z_d, z_g, params, lr, ())


# the four bugs of the step the task shows (its cell holds them all)
GAN_STEP_BUGS = {
    "labels": "the discriminator's labels are flipped: real samples are labelled 1 "
    "(softplus(-l_real)), fakes 0 (softplus(l_fake))",
    "leak": "the discriminator step moves the generator too: a and c must change only in the "
    "generator step (G only runs forward while D learns)",
    "stale": "the generator step scores the fakes with the discriminator from before its step; "
    "the alternating step uses the updated w and b",
    "saturating": "the generator step uses the saturating loss mean(log(1 - D(G(z)))); use the "
    "non-saturating mean(softplus(-l)), whose gradient is -sigmoid(-l) / n",
}


def _gan_step(x_real, z_d, z_g, params, lr, bugs):
    a, c, w, b = params
    sign = -1.0 if "labels" in bugs else 1.0  # -1: real labelled 0, fake 1
    fake = a * z_d + c
    l_real, l_fake = w * x_real + b, w * fake + b
    loss_d = np.mean(_softplus(-sign * l_real)) + np.mean(_softplus(sign * l_fake))
    d_real = -sign * _sigmoid(-sign * l_real) / len(x_real)
    d_fake = sign * _sigmoid(sign * l_fake) / len(z_d)
    w_new = w - lr * (np.sum(d_real * x_real) + np.sum(d_fake * fake))
    b_new = b - lr * (np.sum(d_real) + np.sum(d_fake))
    if "leak" in bugs:  # the fakes' gradient carried on into G
        a, c = a - lr * np.sum(d_fake * w * z_d), c - lr * np.sum(d_fake * w)
    w_g, b_g = (w, b) if "stale" in bugs else (w_new, b_new)
    l_g = w_g * (a * z_g + c) + b_g
    if "saturating" in bugs:
        loss_g, dl = -np.mean(_softplus(l_g)), -_sigmoid(l_g) / len(z_g)
    else:
        loss_g, dl = np.mean(_softplus(-l_g)), -_sigmoid(-l_g) / len(z_g)
    a_new, c_new = a - lr * np.sum(dl * w_g * z_g), c - lr * np.sum(dl * w_g)
    return a_new, c_new, w_new, b_new, loss_d, loss_g


def _gan_step_cases(rng):
    cases = []
    for n_real, n_d, n_g, lr in ((8, 6, 5, 0.1), (4, 7, 3, 0.3)):  # lr not always the chapter's
        params = (
            float(rng.uniform(0.5, 1.5)),
            float(rng.normal()),
            float(rng.normal()),
            float(rng.normal() * 0.5),
        )
        cases.append(
            Case(
                (
                    rng.normal(2.0, 0.5, n_real),
                    rng.standard_normal(n_d),
                    rng.standard_normal(n_g),
                    params,
                    lr,
                ),
                label=f"{n_real} real samples, {n_d} fakes for D, {n_g} for G, lr={lr}",
            )
        )
    # a confident discriminator, w = 150: logits in the hundreds, where log(sigmoid) is -inf
    # unless every softplus is a logaddexp; one fake for D. The fakes are fixed so that the
    # losses are large, not about 1e-90 (where a right answer differs from the reference in
    # every digit)
    cases.append(
        Case(
            (
                rng.normal(2.0, 0.5, 3),
                np.array([1.5]),  # the fake 2.2, D's logit about 330: softplus(330), not log(0)
                np.array([-1.2, 0.4]),  # G's logits about -75 and 165
                (1.0, 0.7, 150.0, 0.5),
                0.001,
            ),
            label="3 real samples, 1 fake for D, 2 for G, D's weight w = 150 (logits in the hundreds), lr=0.001",
        )
    )
    return cases


function_exercise(
    "gan_step",
    CHAPTER,
    2,
    "gan_step",
    "A broken GAN training step, repaired",
    _gan_step_cases,
    gan_step,
    ("a", "c", "w", "b", "loss_d", "loss_g"),
    mistakes=(
        (
            "this is the step as given, all four bugs still in it: read it against the two steps "
            "of the chapter's Section 2",
            lambda x, z_d, z_g, params, lr: _gan_step(x, z_d, z_g, params, lr, tuple(GAN_STEP_BUGS)),
        ),
    )
    + tuple(
        (
            f"{hint} (the other three bugs are fixed)",
            lambda x, z_d, z_g, params, lr, bug=bug: _gan_step(x, z_d, z_g, params, lr, (bug,)),
        )
        for bug, hint in GAN_STEP_BUGS.items()
    ),
    forbids=("minidl.gallery.gan", "minidl.nn.losses", "minidl.nn.optim", "minidl.training"),
    dtypes=("number", "number", "number", "number", "number", "number"),
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

_NOT_EMPTY = "the losses are means over the samples: with none they have no value"
declare_edges("hinge_gan_losses", ("size_one", "ties"), {"empty": _NOT_EMPTY})
declare_edges(
    "generator_step",
    ("size_one", "non_square", "extreme_magnitude", "varied_settings"),
    {"empty": _NOT_EMPTY},
)
declare_edges("gan_step", ("size_one", "extreme_magnitude", "varied_settings"), {"empty": _NOT_EMPTY})
