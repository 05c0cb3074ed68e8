"""Chapter 18, GANs: WGAN-GP's gradient penalty derived, one generator step, a broken training
step repaired."""

import numpy as np

from ..judge.feedback import compare_outputs
from ..judge.registry import Case, Exercise, declare_edges, function_exercise, register

CHAPTER = "18_gans"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softplus(z):
    return np.logaddexp(0.0, z)


# ---------------------------------------------------------------- WGAN-GP's gradient penalty
def gradient_penalty(x_real, x_fake, eps, W, c, v, lam):
    """WGAN-GP's penalty for the critic f(x) = tanh(x W + c) . v, at the interpolates
    x_hat = eps x_real + (1 - eps) x_fake (one eps per row):
    P = lam * mean over rows of (||grad_x f(x_hat)|| - 1)^2, and its gradients with respect to
    the critic's parameters. Returns (penalty, dW, dc, dv)."""
    return _gradient_penalty(x_real, x_fake, eps, W, c, v, lam)


def _gradient_penalty(
    x_real, x_fake, eps, W, c, v, lam, *, through_h=True, at_real=False, batch_norm=False, one_sided=False
):
    e = eps[:, None]
    x_hat = x_real if at_real else e * x_real + (1.0 - e) * x_fake
    h = np.tanh(x_hat @ W + c)  # (N, H)
    slope = 1.0 - h * h  # tanh' at each hidden unit
    a = v * slope  # (N, H): df/dz
    g = a @ W.T  # (N, D): df/dx, one row per sample
    n = x_hat.shape[0]
    norms = np.full(n, np.linalg.norm(g)) if batch_norm else np.linalg.norm(g, axis=1)
    gap = (norms - 1.0) * (norms > 1.0) if one_sided else norms - 1.0
    penalty = lam * np.sum(gap * gap) / n
    dg = (2.0 * lam / n) * (gap / norms)[:, None] * g  # dP/dg
    da = dg @ W  # (N, H)
    dz = da * v * (-2.0 * h * slope) if through_h else np.zeros_like(da)  # d(1 - h^2)/dz = -2 h (1 - h^2)
    dW = dg.T @ a + x_hat.T @ dz  # W twice: in g = a W^T, and inside h
    return penalty, dW, dz.sum(axis=0), np.sum(da * slope, axis=0)


def _gp_cases(rng):
    cases = []
    # (N, D, H, lam); the last: one sample
    for n, d, k, lam in ((6, 3, 4, 10.0), (5, 4, 4, 1.0), (4, 2, 6, 5.0), (1, 3, 2, 10.0)):
        x_real, x_fake = rng.standard_normal((n, d)) + 1.0, rng.standard_normal((n, d)) - 1.0
        eps = rng.random(n)
        if n > 2:
            eps[:2] = (1.0, 0.0)  # the ends: a real sample itself, a fake itself
        W, c = rng.standard_normal((d, k)), rng.standard_normal(k) * 0.5
        v = rng.standard_normal(k)
        # v scaled so that some gradient norms are below 1 and some above (the penalty is
        # two-sided), none of them exactly 1; the norms are proportional to v, as h does not
        # depend on it
        x_hat = eps[:, None] * x_real + (1.0 - eps[:, None]) * x_fake
        norms = np.linalg.norm((v * (1.0 - np.tanh(x_hat @ W + c) ** 2)) @ W.T, axis=1)
        v = v * (1.6 if n == 1 else 1.0) / float(np.quantile(norms, 0.45))
        cases.append(
            Case(
                (x_real, x_fake, eps, W, c, v, lam),
                label=f"{n} pair{'s' * (n > 1)} of samples of size {d}, {k} hidden units, lam={lam}",
            )
        )
    return cases


def _gp_mistake(**bug):
    return lambda *args: _gradient_penalty(*args, **bug)


function_exercise(
    "gradient_penalty",
    CHAPTER,
    3,
    "gradient_penalty",
    "WGAN-GP's gradient penalty, and its gradient",
    _gp_cases,
    gradient_penalty,
    ("penalty", "dW", "dc", "dv"),
    mistakes=(
        (
            "W enters grad_x f twice: as the factor in front, and inside tanh(x W + c), whose "
            "slope 1 - h^2 changes with W and c too (dc is not zero)",
            _gp_mistake(through_h=False),
        ),
        (
            "the penalty is taken at the real samples: where does WGAN-GP evaluate the critic's gradient?",
            _gp_mistake(at_real=True),
        ),
        (
            "one norm for the whole batch: the constraint is on each sample's own gradient",
            _gp_mistake(batch_norm=True),
        ),
        (
            "a gradient norm below 1 is penalised as well: (||g|| - 1)^2 is two-sided",
            _gp_mistake(one_sided=True),
        ),
    ),
    factors=lambda x_real, x_fake, eps, W, c, v, lam: {"the batch size N": x_real.shape[0], "lam": lam},
    forbids=("minidl.gallery.gan", "minidl.nn.layers", "minidl.nn.gradcheck", "minidl.nn.losses"),
    dtypes=("number", "float64", "float64", "float64"),
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
declare_edges(
    "gradient_penalty",
    ("size_one", "non_square", "varied_settings"),
    {
        "empty": "the penalty is a mean over the interpolates: with none it has no value",
        "extreme_magnitude": "a critic saturated at an interpolate (|x W + c| in the tens) has an input "
        "gradient of norm 0 there, where the penalty's derivative through the norm is not defined; the "
        "task's cases keep every norm away from 0",
    },
)
declare_edges(
    "generator_step",
    ("size_one", "non_square", "extreme_magnitude", "varied_settings"),
    {"empty": _NOT_EMPTY},
)
declare_edges("gan_step", ("size_one", "extreme_magnitude", "varied_settings"), {"empty": _NOT_EMPTY})
