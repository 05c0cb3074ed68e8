"""Chapter 20's (contrastive learning, CLIP, guidance) wrong answers and right answers written
differently, in the ``wrong()/right()`` form of ``wrong_answers.py`` (the catalogue reads every
``wrong_answers_*.py``): an independent TA's answers, written from the tasks alone."""

from __future__ import annotations

from tests.grader.specs.wrong_answers import right, wrong


def wrong_variants(name: str, template: str, right_slots: dict, table: tuple) -> None:
    """One wrong answer per ``(label, slots)``: the template filled as the right answer fills it
    but for the slots the mistake changes (local: the catalogue's own helpers are wrong/right)."""
    for label, slots in table:
        wrong(name, label, template.format(**{**right_slots, **slots}))


# ------------------------------------------------------------------ CLIP's loss and its gradients
CLIP = """
def clip_loss_grad(a, b, tau):
    n = len(a)
    s = a @ b.T / tau
    {softmax}
    lp_rows = log_soft(s, 1)
    lp_cols = log_soft(s, 0)
    loss = -({rows_weight} * np.diag(lp_rows).mean() + {cols_weight} * np.diag(lp_cols).mean())
    g = ({rows_weight} * (np.exp(lp_rows) - np.eye(n)) + {cols_weight} * (np.exp(lp_cols) - np.eye(n))) / n
    return float(loss), g @ b {inner}, g.T @ a {inner}, float({sign} np.sum(g * s) / tau)
"""
STABLE = (
    "log_soft = lambda m, ax: (m - m.max(axis=ax, keepdims=True)) - "
    "np.log(np.exp(m - m.max(axis=ax, keepdims=True)).sum(axis=ax, keepdims=True))"
)
CLIP_RIGHT = dict(softmax=STABLE, rows_weight="0.5", cols_weight="0.5", inner="/ tau", sign="-")
right("clip_loss_grad", "log-softmax by axis, weights 1/2 on each direction", CLIP.format(**CLIP_RIGHT))
wrong_variants(
    "clip_loss_grad",
    CLIP,
    CLIP_RIGHT,
    (
        ("images -> texts only", dict(rows_weight="1.0", cols_weight="0.0")),
        ("the two directions summed", dict(rows_weight="1.0", cols_weight="1.0")),
        ("da and db without 1/tau", dict(inner="* 1.0")),
        ("dtau with the wrong sign", dict(sign="+")),
        ("dtau forgotten (zero)", dict(sign="0 *")),
        (
            "a log-softmax without its maximum subtracted",
            dict(softmax="log_soft = lambda m, ax: m - np.log(np.exp(m).sum(axis=ax, keepdims=True))"),
        ),
        (
            "the log of softmax probabilities: a probability that underflows to 0 gives -inf",
            dict(
                softmax="log_soft = lambda m, ax: np.log(np.exp(m - m.max(axis=ax, keepdims=True)) / "
                "np.exp(m - m.max(axis=ax, keepdims=True)).sum(axis=ax, keepdims=True))"
            ),
        ),
    ),
)
right(
    "clip_loss_grad",
    "log-sum-exp per direction, dtau by the chain rule through 1/tau",
    """
def clip_loss_grad(a, b, tau):
    n = a.shape[0]
    raw = a @ b.T
    s = raw / tau
    def direction(m):
        top = m.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(m - top).sum(axis=1))
        return np.mean(lse - np.diag(m)), (np.exp(m - lse[:, None]) - np.eye(n)) / n
    l1, g1 = direction(s)
    l2, g2 = direction(s.T)
    d_s = 0.5 * (g1 + g2.T)
    d_inv_tau = np.sum(d_s * raw)
    return 0.5 * (l1 + l2), d_s @ b / tau, d_s.T @ a / tau, -d_inv_tau / tau**2
""",
)

# ------------------------------------------------------------------ recall@k, ties broken at random
RECALL = """
def expected_recall_at_k(similarity, query_labels, gallery_labels, k):
    from math import comb
    total = 0.0
    for row, label in zip(similarity, query_labels):
        match = gallery_labels == label
        kth = np.sort(row)[::-1][{place}]
        above, tied = row > kth, row == kth
        if match[above].any():
            total += 1.0
            continue
        t, m, r = int(tied.sum()), int(match[tied].sum()), k - int(above.sum())
        total += {chance}
    return total / len(similarity)
"""
RECALL_RIGHT = dict(place="k - 1", chance="1.0 - comb(t - m, r) / comb(t, r)")
right("expected_recall_at_k", "cut at the k-th score, a hypergeometric tie", RECALL.format(**RECALL_RIGHT))
wrong_variants(
    "expected_recall_at_k",
    RECALL,
    RECALL_RIGHT,
    (
        ("draws with replacement: 1 - (1 - m / t)^r", dict(chance="1.0 - (1 - m / t) ** r")),
        ("the expected number of matches r m / t", dict(chance="r * m / t")),
        ("one place's chance m / t", dict(chance="m / t")),
        ("optimistic: any match in the tie counts", dict(chance="float(m > 0)")),
        (
            "pessimistic: a match counts only if the non-matches cannot fill the places",
            dict(chance="float(t - m < r)"),
        ),
        ("the tie's share r / t of the matches m", dict(chance="min(1.0, m * r / t) if m else 0.0")),
        (
            "the tie fills k places: the items above it forgotten",
            dict(chance="1.0 - comb(t - m, min(k, t)) / comb(t, min(k, t))"),
        ),
        ("the choices counted as C(t, m) / C(t, r)", dict(chance="1.0 - comb(t, m) / comb(t, r)")),
    ),
)
wrong(
    "expected_recall_at_k",
    "the chapter's rule: ties by the lower gallery index",
    """
def expected_recall_at_k(similarity, query_labels, gallery_labels, k):
    top = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return float(np.mean((gallery_labels[top] == query_labels[:, None]).any(axis=1)))
""",
)
wrong(
    "expected_recall_at_k",
    "sampled: 2,000 random tie orders per query",
    """
def expected_recall_at_k(similarity, query_labels, gallery_labels, k):
    rng = np.random.default_rng(0)
    found = 0.0
    for row, label in zip(similarity, query_labels):
        hits = [np.any(gallery_labels[np.lexsort((rng.random(row.size), -row))[:k]] == label) for _ in range(2000)]
        found += np.mean(hits)
    return found / len(similarity)
""",
)
wrong(
    "expected_recall_at_k",
    "the tie compared with a tolerance that merges neighbouring grid values",
    """
def expected_recall_at_k(similarity, query_labels, gallery_labels, k):
    from math import comb
    total = 0.0
    for row, label in zip(similarity, query_labels):
        match = gallery_labels == label
        kth = np.sort(row)[::-1][k - 1]
        tied = np.abs(row - kth) <= 0.1
        above = (row > kth) & ~tied
        if match[above].any():
            total += 1.0
            continue
        t, m, r = int(tied.sum()), int(match[tied].sum()), k - int(above.sum())
        total += 1.0 - comb(t - m, r) / comb(t, r)
    return total / len(similarity)
""",
)
right(
    "expected_recall_at_k",
    "the chance of no match as a product of r ratios",
    """
def expected_recall_at_k(similarity, query_labels, gallery_labels, k):
    found = []
    for i in range(similarity.shape[0]):
        s = similarity[i]
        is_match = gallery_labels == query_labels[i]
        v = -np.sort(-s)[k - 1]
        n_above = np.count_nonzero(s > v)
        if np.count_nonzero(is_match & (s > v)):
            found.append(1.0)
            continue
        t = np.count_nonzero(s == v)
        m = np.count_nonzero(is_match & (s == v))
        miss = 1.0
        for j in range(k - n_above):
            miss *= (t - m - j) / (t - j)
        found.append(1.0 - max(miss, 0.0))
    return float(np.mean(found))
""",
)

# ------------------------------------------------------------------ a guided DDIM step, repaired
GUIDED = """
def guided_ddim_step(x_t, eps_cond, eps_uncond, w, ab_t, ab_s):
    eps = {eps}
    x0 = (x_t - np.sqrt(1 - {x0_ab}) * eps) / np.sqrt({x0_ab})
    return np.sqrt(ab_s) * x0 + np.sqrt(1 - {noise_ab}) * eps
"""
GUIDED_RIGHT = dict(eps="(1 + w) * eps_cond - w * eps_uncond", x0_ab="ab_t", noise_ab="ab_s")
right("guided_ddim_step", "the three bugs repaired", GUIDED.format(**GUIDED_RIGHT))
wrong_variants(
    "guided_ddim_step",
    GUIDED,
    GUIDED_RIGHT,
    (
        (
            "the student's weighting kept: w eps_c + (1 - w) eps_u",
            dict(eps="w * eps_cond + (1 - w) * eps_uncond"),
        ),
        ("x0 from step s's alpha_bar", dict(x0_ab="ab_s")),
        ("the noise weighted at step t", dict(noise_ab="ab_t")),
        ("guidance toward the unconditional model", dict(eps="(1 + w) * eps_uncond - w * eps_cond")),
        ("the conditional model alone, w ignored", dict(eps="eps_cond")),
    ),
)
right(
    "guided_ddim_step",
    "the step written as x_t rescaled plus the noise's change",
    """
def guided_ddim_step(x_t, eps_cond, eps_uncond, w, ab_t, ab_s):
    eps = eps_cond + w * (eps_cond - eps_uncond)
    scale = np.sqrt(ab_s / ab_t)
    return scale * x_t + (np.sqrt(1 - ab_s) - scale * np.sqrt(1 - ab_t)) * eps
""",
)
