"""Chapter 20, contrastive learning, CLIP and guidance: CLIP's symmetric loss with its gradients
(temperature included), retrieval recall@k with ties broken at random, derived in expectation
(McSherry and Najork, 2008, "Computing information retrieval performance measures efficiently in
the presence of tied scores"), and a guided DDIM step to repair."""

import math

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "20_contrastive"


# ---------------------------------------------------------------- CLIP's loss and its gradients
def _diagonal_cross_entropy(scores):
    """Each row's softmax cross-entropy against the diagonal: (losses (N,), softmax - I)."""
    top = scores.max(axis=1)
    log_total = np.log(np.exp(scores - top[:, None]).sum(axis=1)) + top
    losses = log_total - np.diag(scores)
    return losses, np.exp(scores - log_total[:, None]) - np.eye(len(scores))


def clip_loss_grad(a, b, tau):
    """L = (mean_i CE(S_i., i) + mean_j CE(S_.j, j)) / 2 with S = a b^T / tau (no normalising).

    a, b (N, D); tau > 0. Returns (loss, dL/da, dL/db, dL/dtau)."""
    n = len(a)
    scores = a @ b.T / tau
    rows, g_rows = _diagonal_cross_entropy(scores)
    cols, g_cols = _diagonal_cross_entropy(scores.T)
    g = (g_rows + g_cols.T) / (2 * n)  # dL/dS
    return (
        float((rows.mean() + cols.mean()) / 2),
        g @ b / tau,
        g.T @ a / tau,
        float(-(g * scores).sum() / tau),
    )


def _one_direction(a, b, tau):
    """Images -> texts only: the rows' cross-entropy, the columns' forgotten."""
    n = len(a)
    scores = a @ b.T / tau
    rows, g = _diagonal_cross_entropy(scores)
    g = g / n
    return float(rows.mean()), g @ b / tau, g.T @ a / tau, float(-(g * scores).sum() / tau)


def _no_inner_tau(a, b, tau):
    """dL/da and dL/db without the chain rule's 1/tau (S = a b^T / tau)."""
    loss, da, db, dtau = clip_loss_grad(a, b, tau)
    return loss, da * tau, db * tau, dtau


def _tau_sign(a, b, tau):
    """dL/dtau with the wrong sign: d(1/tau)/dtau = -1/tau^2."""
    loss, da, db, dtau = clip_loss_grad(a, b, tau)
    return loss, da, db, -dtau


def _summed(a, b, tau):
    """The two directions summed, not averaged: every output doubled."""
    return tuple(2 * v for v in clip_loss_grad(a, b, tau))


def _clip_cases(rng):
    cases = []
    for n, d, tau in ((4, 3, 0.1), (5, 5, 1.0), (1, 2, 0.5), (6, 2, 0.07)):
        a = rng.standard_normal((n, d))
        b = a + 0.5 * rng.standard_normal((n, d)) if n > 1 else rng.standard_normal((n, d))
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        b /= np.linalg.norm(b, axis=1, keepdims=True)
        cases.append(Case((a, b, tau), label=f"N = {n} pairs of unit {d}-D embeddings, tau = {tau}"))
    big = rng.standard_normal((3, 4))
    big[0, 0] = 3.5  # an entry of 105 after the scale below: scores far beyond exp's range
    cases.append(
        Case(
            (30.0 * big, 30.0 * big[::-1].copy(), 0.1),
            label="large scores (|S| ~ 1000), partners far apart: a softmax that overflows, a probability that underflows",
        )
    )
    return cases


function_exercise(
    "clip_loss_grad",
    CHAPTER,
    3,
    "clip_loss_grad",
    "CLIP's symmetric loss, and its gradients with respect to both towers and the temperature",
    _clip_cases,
    clip_loss_grad,
    ("loss", "da", "db", "dtau"),
    mistakes=(
        (
            "this is one direction (images -> texts) only: CLIP averages it with the texts -> images "
            "direction, a softmax over each column",
            _one_direction,
        ),
        ("dL/da and dL/db miss the factor 1/tau: the scores are a b^T / tau", _no_inner_tau),
        ("dL/dtau has the wrong sign: d(1/tau)/dtau = -1/tau^2", _tau_sign),
        ("the two directions are summed: the loss is their mean", _summed),
    ),
    catches=(
        "a softmax without its maximum subtracted: the large-score case overflows",
        "log of a softmax probability that underflows to 0 (log-sum-exp keeps it finite)",
    ),
    forbids=("minidl.nn.losses",),
    dtypes=("number", "float64", "float64", "number"),
)


# ---------------------------------------------------------------- recall@k, ties broken at random
def expected_recall_at_k(similarity, query_labels, gallery_labels, k):
    """Recall@k averaged over every order of the tied items (McSherry and Najork, 2008).

    similarity (Q, G); a query's items ranked by decreasing similarity, the items that tie with
    its k-th highest score in an order drawn uniformly at random. A query is found for sure when
    a match scores above its k-th score; otherwise with the chance that the r = k - (items above)
    places left, filled from the t tied items of which m match, take at least one match:
    1 - C(t - m, r) / C(t, r) (a hypergeometric draw)."""
    found = 0.0
    for scores, label in zip(similarity, query_labels):
        kth = np.sort(scores)[::-1][k - 1]
        above = scores > kth
        if np.any(gallery_labels[above] == label):
            found += 1.0
            continue
        tied = scores == kth
        t, m, r = int(np.sum(tied)), int(np.sum(gallery_labels[tied] == label)), k - int(np.sum(above))
        found += 1.0 - math.comb(t - m, r) / math.comb(t, r)
    return found / len(query_labels)


def _recall_tie_rule(similarity, query_labels, gallery_labels, k, rule):
    """Recall@k with ties broken by a fixed rule instead of averaged: "index" (the lower gallery
    index first), "optimistic" (matches first), "pessimistic" (matches last)."""
    found = 0
    for scores, label in zip(similarity, query_labels):
        match = gallery_labels == label
        second = {"index": np.arange(scores.size), "optimistic": ~match, "pessimistic": match}[rule]
        order = np.lexsort((second, -scores))
        found += bool(np.any(match[order[:k]]))
    return found / len(query_labels)


def _recall_tie_chance(similarity, query_labels, gallery_labels, k, chance):
    """The tie at the k-th place with a mistaken chance of a match among the r places it fills."""
    found = 0.0
    for scores, label in zip(similarity, query_labels):
        kth = np.sort(scores)[::-1][k - 1]
        above = scores > kth
        if np.any(gallery_labels[above] == label):
            found += 1.0
            continue
        tied = scores == kth
        t, m, r = int(np.sum(tied)), int(np.sum(gallery_labels[tied] == label)), k - int(np.sum(above))
        found += chance(t, m, r)
    return found / len(query_labels)


def _recall_cases(rng):
    cases = []
    for q, g, k, labels in (
        (6, 10, 1, 3),
        (8, 12, 3, 4),
        (5, 7, 7, 3),
        (4, 9, 2, 9),
        (1, 6, 2, 3),
        (12, 40, 5, 4),
    ):
        sim = np.round(rng.uniform(-1, 1, (q, g)), 1)  # coarse: ties within a row
        sim[0, :] = 0.5  # one query ties with everything
        gallery = rng.integers(0, labels, g)
        queries = rng.integers(0, labels, q)
        gallery[0] = queries[0] = labels  # whose only match is the first item
        cases.append(
            Case(
                (sim, queries, gallery, k),
                label=f"{q} queries, a gallery of {g}, k = {k}, similarities rounded to 0.1 (ties), "
                "one query tied with the whole gallery whose only match is the first item",
            )
        )
    # the k-th place inside a tie: a match above it; no match in the tie; matches tied in front of
    # and behind non-matches; the tie filling every place left (r = t)
    similarity = np.array(
        [
            [0.9, 0.5, 0.5, 0.5, 0.5, 0.1],
            [0.9, 0.5, 0.5, 0.5, 0.5, 0.1],
            [0.9, 0.5, 0.5, 0.5, 0.5, 0.1],
            [0.9, 0.9, 0.5, 0.5, 0.2, 0.1],
            [0.3, 0.3, 0.3, 0.3, 0.3, 0.3],
        ]
    )
    cases.append(
        Case(
            (similarity, np.array([0, 1, 2, 3, 4]), np.array([0, 1, 2, 1, 2, 4]), 3),
            label="k = 3 inside a tie of four: a match above it, two of four tied items match, none "
            "in the tie (the match last), the tie taken whole, a row all tied whose match is last",
        )
    )
    # a collapsed embedding: every similarity equal, one match per query among 300
    cases.append(
        Case(
            (np.full((4, 300), 0.25), np.arange(4), np.repeat(np.arange(75), 4), 10),
            label="a collapsed embedding: 4 queries tied with a gallery of 300, 4 matches each, k = 10",
        )
    )
    return cases


function_exercise(
    "expected_recall_at_k",
    CHAPTER,
    2,
    "expected_recall_at_k",
    "Recall@k with ties broken at random, in expectation",
    _recall_cases,
    expected_recall_at_k,
    ("recall",),
    forbids=("minidl.training.metrics", "sklearn.metrics", "scipy.stats"),
    mistakes=(
        (
            "a tie broken by the gallery's order is one draw of the random order, not its average: "
            "the chapter's rule rewards a gallery whose matches happen to come first",
            lambda s, q, g, k: _recall_tie_rule(s, q, g, k, "index"),
        ),
        (
            "this counts a tie at the k-th place as a hit whenever it holds a match (ties broken in "
            "the matches' favour): a collapsed embedding would score 1",
            lambda s, q, g, k: _recall_tie_rule(s, q, g, k, "optimistic"),
        ),
        (
            "this counts a tie at the k-th place as a hit only when its matches fit whatever the order "
            "(ties broken against the matches)",
            lambda s, q, g, k: _recall_tie_rule(s, q, g, k, "pessimistic"),
        ),
        (
            "the r places are filled without replacement: an item drawn cannot be drawn again, so the "
            "chance of no match is C(t - m, r) / C(t, r), not (1 - m / t)^r",
            lambda s, q, g, k: _recall_tie_chance(s, q, g, k, lambda t, m, r: 1 - (1 - m / t) ** r),
        ),
        (
            "r m / t is the expected number of matches among the r places, not the chance of at least one",
            lambda s, q, g, k: _recall_tie_chance(s, q, g, k, lambda t, m, r: r * m / t),
        ),
        (
            "m / t is the chance that one place holds a match; the tie fills r places",
            lambda s, q, g, k: _recall_tie_chance(s, q, g, k, lambda t, m, r: m / t),
        ),
        (
            "this is precision@k, the fraction of the first k that match; recall@k asks whether any does",
            lambda s, q, g, k: float(
                np.mean((g[np.argsort(-s, axis=1, kind="stable")[:, :k]] == q[:, None]).mean(axis=1))
            ),
        ),
        (
            "off by one: the first k items, not k - 1",
            lambda s, q, g, k: expected_recall_at_k(s, q, g, k - 1) if k > 1 else 0.0,
        ),
    ),
    equivalent_mutants={
        "expected_recall_at_k: augassign: found += 1.0 - math.comb(t - m, r) / math.comb(t, r)"
        " -> found = found + (1.0 - math.comb(t - m, r) / math.comb(t, r))": "found is a float: += and = + add the same number",
        "expected_recall_at_k: augassign: found += 1.0 -> found = found + 1.0": "found is a float: += and = + add the same number",
    },
    dtypes="number",
)


# ---------------------------------------------------------------- one guided DDIM step, repaired
def guided_ddim_step(x_t, eps_cond, eps_uncond, w, ab_t, ab_s):
    """eps = (1 + w) eps_cond - w eps_uncond; x0 = (x_t - sqrt(1 - ab_t) eps) / sqrt(ab_t);
    x_s = sqrt(ab_s) x0 + sqrt(1 - ab_s) eps."""
    eps = (1.0 + w) * eps_cond - w * eps_uncond
    x0 = (x_t - np.sqrt(1.0 - ab_t) * eps) / np.sqrt(ab_t)
    return np.sqrt(ab_s) * x0 + np.sqrt(1.0 - ab_s) * eps


def _step_with(eps, x_t, ab_t, ab_s, x0_ab=None, noise_ab=None):
    x0_ab = ab_t if x0_ab is None else x0_ab
    noise_ab = ab_s if noise_ab is None else noise_ab
    x0 = (x_t - np.sqrt(1.0 - x0_ab) * eps) / np.sqrt(x0_ab)
    return np.sqrt(ab_s) * x0 + np.sqrt(1.0 - noise_ab) * eps


def _guided_cases(rng):
    cases = []
    for shape, w, ab_t, ab_s in (
        ((3, 4), 2.0, 0.3, 0.6),
        ((2, 1, 3, 3), 0.0, 0.1, 0.5),
        ((4, 2), 7.5, 0.5, 0.95),
    ):
        cases.append(
            Case(
                tuple(rng.standard_normal(shape) for _ in range(3)) + (w, ab_t, ab_s),
                label=f"x_t of shape {shape}, w = {w}, alpha_bar {ab_t} -> {ab_s}",
            )
        )
    return cases


function_exercise(
    "guided_ddim_step",
    CHAPTER,
    2,
    "guided_ddim_step",
    "One DDIM step with classifier-free guidance, repaired",
    _guided_cases,
    guided_ddim_step,
    ("x_s",),
    mistakes=(
        (
            "the guided noise is (1 + w) eps_cond - w eps_uncond: with w = 0 it is the conditional "
            "model's, not w eps_cond + (1 - w) eps_uncond",
            lambda x, c, u, w, a, b: _step_with(w * c + (1 - w) * u, x, a, b),
        ),
        (
            "x0 is estimated at step t, the step x_t is at: alpha_bar_t, not alpha_bar_s",
            lambda x, c, u, w, a, b: _step_with((1 + w) * c - w * u, x, a, b, x0_ab=b),
        ),
        (
            "the noise's weight in x_s is that of step s: sqrt(1 - alpha_bar_s)",
            lambda x, c, u, w, a, b: _step_with((1 + w) * c - w * u, x, a, b, noise_ab=a),
        ),
    ),
    forbids=("minidl.gallery.diffusion",),
    dtypes="float64",
)


declare_edges(
    "clip_loss_grad",
    ("size_one", "non_square", "extreme_magnitude", "varied_settings"),
    {
        "empty": "a batch without pairs has no loss",
        "ties": "the loss and its gradient are smooth in the scores: equal scores need no rule",
    },
)
declare_edges(
    "expected_recall_at_k",
    ("size_one", "non_square", "ties", "repeated_indices", "long_sequence", "varied_settings"),
    {"empty": "recall is a mean over the queries: with none it has no value"},
)
declare_edges(
    "guided_ddim_step",
    ("size_one", "non_square", "varied_settings"),
    {"empty": "the step is elementwise: no length of an axis is special"},
)
