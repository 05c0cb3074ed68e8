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

# ------------------------------------------------------------------ recall@k with ties
RECALL = """
def recall_at_k(similarity, query_labels, gallery_labels, k):
    order = {order}
    top = order[:, :{k}]
    matches = gallery_labels[top] == query_labels[:, None]
    return float(matches.{reduce}(axis=1).mean())
"""
RECALL_RIGHT = dict(order='np.argsort(-similarity, axis=1, kind="stable")', k="k", reduce="any")
right("recall_at_k", "a stable argsort of the negated scores", RECALL.format(**RECALL_RIGHT))
wrong_variants(
    "recall_at_k",
    RECALL,
    RECALL_RIGHT,
    (
        ("precision@k: the mean of the matches", dict(reduce="mean")),
        ("the first k - 1", dict(k="k - 1")),
        (
            "ascending order: the least similar first",
            dict(order='np.argsort(similarity, axis=1, kind="stable")'),
        ),
        (
            "a reversed ascending sort: ties by the higher index",
            dict(order='np.argsort(similarity, axis=1, kind="stable")[:, ::-1]'),
        ),
    ),
)
right(
    "recall_at_k",
    "lexsort on (index, -score)",
    """
def recall_at_k(similarity, query_labels, gallery_labels, k):
    hits = 0
    index = np.arange(similarity.shape[1])
    for row, label in zip(similarity, query_labels):
        ranked = np.lexsort((index, -row))
        hits += int(np.any(gallery_labels[ranked[:k]] == label))
    return hits / len(similarity)
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
