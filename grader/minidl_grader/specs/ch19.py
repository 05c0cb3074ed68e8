"""Chapter 19, VAEs and diffusion: a KL between two Gaussians, the forward process from raw betas,
one step of DDIM's family with its noise scale eta, and an importance-weighted estimate of
log p(x) (a repair)."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "19_generative_models"


# ---------------------------------------------------------------- KL between two diagonal Gaussians
def gaussian_kl_general(mu_q, logvar_q, mu_p, logvar_p):
    """Mean over the N rows of KL(N(mu_q, e^logvar_q) || N(mu_p, e^logvar_p)), summed over D.

    All four inputs (N, D). Returns (kl, d_mu_q, d_logvar_q, d_mu_p, d_logvar_p)."""
    return _gaussian_kl(mu_q, logvar_q, mu_p, logvar_p)


def _gaussian_kl(mu_q, logvar_q, mu_p, logvar_p, *, spread_of_q=True, scale="p"):
    """The KL and its gradients; ``spread_of_q=False``: E_q[(z - mu_p)^2] taken as
    (mu_q - mu_p)^2 (q's own variance left out); ``scale="q"``: that expectation divided by
    q's variance instead of p's."""
    n = mu_q.shape[0]
    var_q, var_p = np.exp(logvar_q), np.exp(logvar_p)
    diff = mu_q - mu_p
    second = (var_q if spread_of_q else 0.0) + diff**2  # E_q[(z - mu_p)^2]
    if scale == "q":  # d/dl_p of logvar_p alone; the quadratic term moves with l_q instead
        per_element = 0.5 * (logvar_p - logvar_q + second / var_q - 1.0)
        d_logvar_q = 0.5 * (-1.0 - diff**2 / var_q) / n
        d_logvar_p = np.full_like(diff, 0.5 / n)
        d_mu_q = diff / var_q / n
    else:
        per_element = 0.5 * (logvar_p - logvar_q + second / var_p - 1.0)
        d_logvar_q = 0.5 * ((var_q if spread_of_q else 0.0) / var_p - 1.0) / n
        d_logvar_p = 0.5 * (1.0 - second / var_p) / n
        d_mu_q = diff / var_p / n
    return float(per_element.sum() / n), d_mu_q, d_logvar_q, -d_mu_q, d_logvar_p


def _kl_against_standard_normal(mu_q, logvar_q, mu_p, logvar_p):
    """The chapter's formula, the prior taken as N(0, I) whatever it is."""
    zeros = np.zeros_like(mu_q)
    kl, d_mu, d_lv, _, _ = gaussian_kl_general(mu_q, logvar_q, zeros, zeros)
    return kl, d_mu, d_lv, np.zeros_like(mu_p), np.zeros_like(logvar_p)


def _kl_reversed(mu_q, logvar_q, mu_p, logvar_p):
    """KL(p || q): the arguments of the divergence swapped."""
    kl, d_mu_p, d_lv_p, d_mu_q, d_lv_q = gaussian_kl_general(mu_p, logvar_p, mu_q, logvar_q)
    return kl, d_mu_q, d_lv_q, d_mu_p, d_lv_p


def _kl_per_variance(mu_q, logvar_q, mu_p, logvar_p):
    """Derivatives with respect to the variances, not the log-variances (the chain rule's e^l missing)."""
    kl, d_mu_q, d_lv_q, d_mu_p, d_lv_p = gaussian_kl_general(mu_q, logvar_q, mu_p, logvar_p)
    return kl, d_mu_q, d_lv_q / np.exp(logvar_q), d_mu_p, d_lv_p / np.exp(logvar_p)


def _kl_cases(rng):
    cases = []
    for n, d in ((4, 3), (3, 5), (1, 1)):  # the last: one row of one coordinate
        cases.append(
            Case(
                (
                    rng.standard_normal((n, d)),
                    0.8 * rng.standard_normal((n, d)),
                    rng.standard_normal((n, d)),
                    0.8 * rng.standard_normal((n, d)),
                ),
                label=f"{n} row(s) of {d}-D Gaussians, neither standard",
            )
        )
    return cases


function_exercise(
    "gaussian_kl_general",
    CHAPTER,
    3,
    "gaussian_kl_general",
    "The KL divergence between two diagonal Gaussians, and its four gradients",
    _kl_cases,
    gaussian_kl_general,
    ("kl", "d_mu_q", "d_logvar_q", "d_mu_p", "d_logvar_p"),
    mistakes=(
        (
            "this is the chapter's KL against N(0, I): here the prior has its own mean and "
            "log-variance, which enter the divergence and receive gradients",
            _kl_against_standard_normal,
        ),
        (
            "this is KL(p || q): the divergence is not symmetric; the first argument, q, is the one "
            "the expectation is taken under",
            _kl_reversed,
        ),
        (
            "the log-variance gradients are derivatives with respect to the variances: by the chain "
            "rule d/dl = e^l d/d(sigma^2)",
            _kl_per_variance,
        ),
        (
            "E_q[(z - mu_p)^2] is not (mu_q - mu_p)^2: under q, z also varies around mu_q (write "
            "z - mu_p as (z - mu_q) + (mu_q - mu_p))",
            lambda *a: _gaussian_kl(*a, spread_of_q=False),
        ),
        (
            "the quadratic term of log p(z) is divided by p's variance, whatever the expectation is "
            "taken under",
            lambda *a: _gaussian_kl(*a, scale="q"),
        ),
        (
            "the gradients are missing the 1/N: the KL is a mean over the N rows",
            lambda *a: (
                gaussian_kl_general(*a)[0],
                *(g * a[0].shape[0] for g in gaussian_kl_general(*a)[1:]),
            ),
        ),
    ),
    factors=lambda mu_q, *rest: {"the number of rows N": mu_q.shape[0]},
    forbids=("minidl.nn.losses", "minidl.nn.layers.gaussian", "minidl.gallery.vae", "minidl.nn.gradcheck"),
    dtypes=("number", "float64", "float64", "float64", "float64"),
)


# ---------------------------------------------------------------- a jump along the forward process
def q_jump_from_betas(betas, x_s, s, t, noise):
    """x_t drawn from q(x_t | x_s) in one go: x_t = sqrt(k) x_s + sqrt(1 - k) noise.

    The one-step process is x_r = sqrt(1 - beta_r) x_{r-1} + sqrt(beta_r) eps_r (steps from 0,
    x_{-1} clean), so k = prod_{r = s+1}^{t} (1 - beta_r) = alpha_bar_t / alpha_bar_s.
    betas (T,); x_s and noise (N, ...); s (N,) in [-1, T-1), t (N,) with s < t < T.
    Returns (x_t, keep) with keep (N,) the k used for each row."""
    alpha_bar = np.concatenate([[1.0], np.cumprod(1.0 - betas)])  # alpha_bar[r + 1] for step r
    keep = alpha_bar[t + 1] / alpha_bar[s + 1]
    # the size named, not -1: NumPy infers any negative size, so -1 -> -2 would not show
    shape = (x_s.shape[0],) + (1,) * (x_s.ndim - 1)
    x_t = np.sqrt(keep).reshape(shape) * x_s + np.sqrt(1.0 - keep).reshape(shape) * noise
    return x_t, keep


def _jump_with(keep, x_s, noise, noise_weight=np.sqrt):
    shape = (-1,) + (1,) * (x_s.ndim - 1)
    return np.sqrt(keep).reshape(shape) * x_s + noise_weight(1.0 - keep).reshape(shape) * noise, keep


def _cumulative(betas):
    return np.concatenate([[1.0], np.cumprod(1.0 - betas)])


def _jump_cases(rng):
    cases = []
    for steps, shape in ((10, (5, 1, 2, 3)), (25, (6, 4)), (1000, (4, 2))):
        betas = np.sort(rng.uniform(0.01, 0.3, steps)) if steps < 1000 else np.linspace(1e-4, 0.02, steps)
        s = rng.integers(-1, steps - 1, size=shape[0])
        t = np.minimum(s + 1 + rng.integers(0, steps, size=shape[0]), steps - 1)
        s[0], t[0] = -1, steps - 1  # from the clean image to the last step
        s[1], t[1] = steps // 2, steps // 2 + 1  # a single step
        s[2], t[2] = -1, 0  # the first step alone
        cases.append(
            Case(
                (betas, rng.standard_normal(shape), s, t, rng.standard_normal(shape)),
                label=f"T = {steps} increasing betas, x_s of shape {shape}; jumps from the clean image "
                "(s = -1) to T-1 and to 0, one single step, others of random length"
                + (" (DDPM's linear schedule)" if steps == 1000 else ""),
            )
        )
    return cases


function_exercise(
    "q_jump_from_betas",
    CHAPTER,
    2,
    "q_jump_from_betas",
    "A jump along the forward process, q(x_t | x_s), from a raw schedule of betas",
    _jump_cases,
    q_jump_from_betas,
    ("x_t", "keep"),
    mistakes=(
        (
            "the jump keeps the factors of the steps after s only: from s+1 to t, not from 0 to t "
            "(x_s has already been through steps 0 to s)",
            lambda b, x, s, t, e: _jump_with(_cumulative(b)[t + 1], x, e),
        ),
        (
            "off by one step: step s is already behind x_s, so the product starts at s+1 and ends "
            "with step t included",
            lambda b, x, s, t, e: _jump_with(_cumulative(b)[t + 1] / _cumulative(b)[np.maximum(s, 0)], x, e),
        ),
        (
            "the signal's weight over the jump is a ratio alpha_bar_t / alpha_bar_s, not a difference",
            lambda b, x, s, t, e: _jump_with(1.0 - (_cumulative(b)[s + 1] - _cumulative(b)[t + 1]), x, e),
        ),
        (
            "the noise's weight is a standard deviation, sqrt(1 - k), not the variance 1 - k",
            lambda b, x, s, t, e: _jump_with(
                _cumulative(b)[t + 1] / _cumulative(b)[s + 1], x, e, noise_weight=lambda v: v
            ),
        ),
    ),
    forbids=("minidl.gallery.diffusion",),
    dtypes="float64",
)


# ---------------------------------------------------------------- one step of DDIM with eta
def ddim_step_eta(x_t, x0_hat, alpha_bar_t, alpha_bar_s, eta, noise):
    """One step of Song et al.'s family from step t to an earlier step s (alpha_bar_s > alpha_bar_t):

    eps_hat = (x_t - sqrt(ab_t) x0_hat) / sqrt(1 - ab_t)
    sigma   = eta sqrt((1 - ab_s) / (1 - ab_t)) sqrt(1 - ab_t / ab_s)
    x_s     = sqrt(ab_s) x0_hat + sqrt(1 - ab_s - sigma^2) eps_hat + sigma noise
    Returns (x_s, sigma)."""
    eps_hat = (x_t - np.sqrt(alpha_bar_t) * x0_hat) / np.sqrt(1.0 - alpha_bar_t)
    sigma = (
        eta * np.sqrt((1.0 - alpha_bar_s) / (1.0 - alpha_bar_t)) * np.sqrt(1.0 - alpha_bar_t / alpha_bar_s)
    )
    x_s = np.sqrt(alpha_bar_s) * x0_hat + np.sqrt(1.0 - alpha_bar_s - sigma**2) * eps_hat + sigma * noise
    return x_s, float(sigma)


def _ddim_keep_direction(x_t, x0_hat, ab_t, ab_s, eta, noise):
    """The noise added on top of the deterministic step: the direction's weight not reduced by sigma^2."""
    x_det, sigma = ddim_step_eta(x_t, x0_hat, ab_t, ab_s, 0.0, noise)
    return x_det + sigma_of(ab_t, ab_s, eta) * noise, sigma_of(ab_t, ab_s, eta)


def sigma_of(ab_t, ab_s, eta):
    return float(eta * np.sqrt((1.0 - ab_s) / (1.0 - ab_t)) * np.sqrt(1.0 - ab_t / ab_s))


def _ddim_sigma_without_ratio(x_t, x0_hat, ab_t, ab_s, eta, noise):
    """sigma without its second factor sqrt(1 - ab_t / ab_s)."""
    sigma = float(eta * np.sqrt((1.0 - ab_s) / (1.0 - ab_t)))
    eps_hat = (x_t - np.sqrt(ab_t) * x0_hat) / np.sqrt(1.0 - ab_t)
    return np.sqrt(ab_s) * x0_hat + np.sqrt(max(1.0 - ab_s - sigma**2, 0.0)) * eps_hat + sigma * noise, sigma


def _ddim_cases(rng):
    cases = []
    for shape, ab_t, ab_s, eta in (
        ((3, 4), 0.3, 0.7, 1.0),
        ((2, 1, 3, 3), 0.05, 0.4, 0.5),
        ((4, 2), 0.5, 0.9, 0.0),
    ):
        cases.append(
            Case(
                (
                    rng.standard_normal(shape),
                    rng.uniform(-1, 1, shape),
                    ab_t,
                    ab_s,
                    eta,
                    rng.standard_normal(shape),
                ),
                label=f"x_t of shape {shape}, alpha_bar {ab_t} -> {ab_s}, eta = {eta}",
            )
        )
    return cases


function_exercise(
    "ddim_step_eta",
    CHAPTER,
    3,
    "ddim_step_eta",
    "One step of DDIM's family, with the noise scale eta",
    _ddim_cases,
    ddim_step_eta,
    ("x_s", "sigma"),
    mistakes=(
        (
            "this is the chapter's deterministic step (eta = 0) whatever eta is: with eta > 0 part of "
            "the predicted noise's weight goes to fresh noise, sigma * noise",
            lambda x_t, x0, ab_t, ab_s, eta, e: (
                ddim_step_eta(x_t, x0, ab_t, ab_s, 0.0, e)[0],
                sigma_of(ab_t, ab_s, eta),
            ),
        ),
        (
            "the fresh noise is added on top of the deterministic step: the predicted noise's weight "
            "must shrink to sqrt(1 - alpha_bar_s - sigma^2) so that the variance stays 1 - alpha_bar_s",
            _ddim_keep_direction,
        ),
        (
            "sigma is missing its factor sqrt(1 - alpha_bar_t / alpha_bar_s), the variance of the "
            "forward step from s to t",
            _ddim_sigma_without_ratio,
        ),
    ),
    forbids=("minidl.gallery.diffusion",),
    dtypes=("float64", "number"),
)


# ---------------------------------------------------------------- log p(x) by importance weighting (a repair)
# Issue 72: a given, plausible function with four bugs (q's quadratic term divided by the
# variance before squaring, q's normaliser without its log-variance, the K weights summed instead
# of averaged, and exp of log-likelihoods of -800 nats underflowing to 0).
def importance_log_likelihood(log_lik, z, mu, logvar):
    """log (1/K) sum_k p(x | z_k) p(z_k) / q(z_k | x) for each of the N images (Burda et al.'s
    importance-weighted estimate), with p(z) = N(0, I) and q(z | x) = N(mu, diag e^logvar).

    log_lik (N, K) = log p(x_n | z_nk); z (N, K, D), K codes per image drawn from q; mu and
    logvar (N, D). Returns (N,)."""
    return _importance_estimate(log_lik, z, mu, logvar)


def _importance_estimate(
    log_lik, z, mu, logvar, *, square_first=True, log_det=True, average=True, shift=True, inside=True
):
    """The reference and its mistakes: ``square_first=False`` divides z - mu by the variance
    before squaring; ``log_det=False`` drops q's log-variance; ``average=False`` sums the K
    weights; ``shift=False`` takes exp of the log-weights as they are; ``inside=False`` averages
    the log-weights (the ELBO's estimate)."""
    var = np.exp(logvar[:, None])
    gap = z - mu[:, None]
    quadratic = gap**2 / var if square_first else (gap / var) ** 2
    log_prior = -0.5 * (z**2).sum(axis=-1)  # the log(2 pi) of p and of q cancel
    log_q = -0.5 * (quadratic + (logvar[:, None] if log_det else 0.0)).sum(axis=-1)
    log_w = log_lik + log_prior - log_q  # (N, K)
    if not inside:
        return log_w.mean(axis=1)
    top = log_w.max(axis=1) if shift else np.zeros(len(log_w))
    with np.errstate(divide="ignore", under="ignore"):  # shift=False: exp(-800) is 0
        total = np.exp(log_w - top[:, None]).sum(axis=1)
        return top + np.log(total / log_w.shape[1] if average else total)


def _importance_scales(log_lik, z, mu, logvar):
    """Per image, the sum of the magnitudes of the terms of a log-weight (the log 2 pi of both
    densities included), the largest over its codes: the error a right answer's rounding is
    measured against, image by image (an easy image near -50 is not hidden by one near -1000)."""
    var = np.exp(logvar[:, None])
    constant = 0.5 * np.log(2.0 * np.pi) * z.shape[-1]
    log_prior = 0.5 * (z**2).sum(axis=-1) + constant
    log_q = 0.5 * ((z - mu[:, None]) ** 2 / var + np.abs(logvar[:, None])).sum(axis=-1) + constant
    return (np.abs(log_lik) + log_prior + log_q).max(axis=1)


def _importance_case(rng, n, k, d, base):
    """n images with K codes each from their q; the decoder's log-likelihoods are each image's
    ``base`` give or take a few nats from code to code."""
    mu = rng.standard_normal((n, d))
    logvar = rng.uniform(-3.0, 0.5, (n, d))  # an encoder's variances: mostly below 1
    z = mu[:, None] + np.exp(logvar[:, None] / 2) * rng.standard_normal((n, k, d))
    log_lik = np.asarray(base, dtype=np.float64)[:, None] + 3.0 * rng.standard_normal((n, k))
    return [log_lik, z, mu, logvar]


def _importance_cases(rng):
    cases = []
    args = _importance_case(rng, 3, 8, 2, -rng.uniform(100.0, 200.0, 3))
    cases.append(
        Case(tuple(args), label="3 images, 8 codes of 2-D each, log-likelihoods of -100 to -200 nats")
    )
    args = _importance_case(
        rng, 4, 20, 5, [-rng.uniform(850.0, 1000.0), -50.0, -900.0, -rng.uniform(850.0, 1000.0)]
    )
    args[0][2, 3] = -1800.0  # one code that decodes to another digit
    cases.append(
        Case(
            tuple(args),
            label="4 images, 20 codes of 5-D each: log-likelihoods of -850 to -1000 nats (MNIST's size), "
            "one image near -50, one code of one image at -1800",
        )
    )
    args = _importance_case(rng, 2, 1, 3, -rng.uniform(100.0, 800.0, 2))
    cases.append(Case(tuple(args), label="2 images, K = 1 code each (3-D)"))
    args = _importance_case(rng, 1, 50, 16, [-800.0])
    cases.append(Case(tuple(args), label="1 image, 50 codes of 16-D, log-likelihoods near -800"))
    return cases


function_exercise(
    "importance_log_likelihood",
    CHAPTER,
    2,
    "importance_log_likelihood",
    "An importance-weighted estimate of log p(x), repaired",
    _importance_cases,
    importance_log_likelihood,
    ("log_px",),
    mistakes=(
        (
            "q's quadratic term is (z - mu)^2 / sigma^2, the squared distance divided by the variance "
            "once; ((z - mu) / sigma^2)^2 divides by it twice",
            lambda *a: _importance_estimate(*a, square_first=False),
        ),
        (
            "q's normalising constant is missing its log-variance: log N(z; mu, e^l) = "
            "-(log 2 pi + l + (z - mu)^2 e^-l) / 2, and l differs from image to image and from the prior's 0",
            lambda *a: _importance_estimate(*a, log_det=False),
        ),
        (
            "the K weights are summed: the estimate is the log of their mean, so log K is too many",
            lambda *a: _importance_estimate(*a, average=False),
        ),
        (
            "exp of a log-likelihood of -800 nats is 0 in float64 (below about -745): take the largest "
            "log-weight of each image out before exp, and add it back after the log",
            lambda *a: _importance_estimate(*a, shift=False),
        ),
        (
            "this is the mean of the log-weights, the ELBO's estimate: the estimate asked for is the log "
            "of the mean of the weights (Jensen's inequality puts the ELBO below it)",
            lambda *a: _importance_estimate(*a, inside=False),
        ),
    ),
    forbids=("minidl.nn.losses", "minidl.nn.layers.gaussian", "minidl.gallery.vae"),
    catches=(
        "the log-sum-exp shifted by one maximum over the whole batch: an image 700 nats below another "
        "underflows to -inf",
        "the shift by the smallest log-weight: a code 900 nats worse than the others overflows",
    ),
    dtypes="float64",
    scales=_importance_scales,
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

declare_edges(
    "gaussian_kl_general",
    ("size_one", "non_square"),
    {
        "empty": "the KL is a mean over the rows: with none it has no value",
        "extreme_magnitude": "log-variances of a few units, as an encoder gives: the task computes exp(logvar) itself",
    },
)
declare_edges(
    "q_jump_from_betas",
    ("size_one", "non_square", "repeated_indices", "long_sequence"),
    {"empty": "a schedule has at least one step, and the batch at least one sample"},
)
declare_edges(
    "ddim_step_eta",
    ("size_one", "non_square", "varied_settings"),
    {"empty": "the step is elementwise: no length of an axis is special"},
)
declare_edges(
    "importance_log_likelihood",
    ("size_one", "non_square", "extreme_magnitude"),
    {
        "empty": "the estimate is a mean over at least one code, for at least one image",
        "ties": "the largest log-weight is only a shift that cancels: which of two equal ones is "
        "taken does not change the value",
    },
)
