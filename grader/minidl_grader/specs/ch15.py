"""Chapter 15, pretraining and fine-tuning: DoRA's backward derived, BERT's masking rule
repaired, patches of non-square images."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "15_pretraining"


# ---------------------------------------------------------------- DoRA's backward
def dora_backward(x, W, m, A, B, dy, alpha):
    """y = x W' with W'[:, j] = m[j] V[:, j] / ||V[:, j]|| and V = W + s A B, s = alpha / r,
    r = A.shape[1]; W frozen. The exact gradient (the column norms differentiated, not held
    constant). Returns (dx, dm, dA, dB)."""
    return _dora_backward(x, W, m, A, B, dy, alpha / A.shape[1])


def _dora_backward(
    x, W, m, A, B, dy, s, *, norm_constant=False, dm_plain=False, dx_frozen=False, unscaled=False
):
    V = W + s * (A @ B)
    norms = np.linalg.norm(V, axis=0)  # (D_out,)
    direction = V / norms
    G = x.T @ dy  # dL/dW'
    radial = np.einsum("ij,ij->j", G, direction)  # G's component along each column
    dV = m / norms * (G if norm_constant else G - direction * radial)
    dm = G.sum(axis=0) if dm_plain else radial
    dx = dy @ (W if dx_frozen else direction * m).T
    k = 1.0 if unscaled else s
    return dx, dm, k * (dV @ B.T), k * (A.T @ dV)


def _dora_cases(rng):
    cases = []
    # the second: D_in = D_out, where a norm over the wrong axis still has the right shape
    for n, d_in, d_out, r, alpha in (
        (5, 6, 4, 2, 3.0),
        (3, 4, 4, 3, 12.0),
        (4, 5, 7, 2, 8.0),
        (1, 3, 2, 1, 2.0),
    ):  # last: one sample, rank 1
        cases.append(
            Case(
                (
                    rng.standard_normal((n, d_in)),
                    rng.standard_normal((d_in, d_out)),
                    rng.uniform(0.5, 2.0, d_out),
                    rng.standard_normal((d_in, r)),
                    rng.standard_normal((r, d_out)),
                    rng.standard_normal((n, d_out)),
                    alpha,
                ),
                label=f"x of shape {(n, d_in)}, D_out={d_out}, rank {r}, alpha={alpha}",
            )
        )
    return cases


def _dora_mistake(**bug):
    return lambda x, W, m, A, B, dy, alpha: _dora_backward(x, W, m, A, B, dy, alpha / A.shape[1], **bug)


function_exercise(
    "dora_backward",
    CHAPTER,
    3,
    "dora_backward",
    "DoRA's backward, a LoRA that trains each column's length",
    _dora_cases,
    dora_backward,
    ("dx", "dm", "dA", "dB"),
    mistakes=(
        (
            "the column norms were held constant (DoRA's memory-saving shortcut): the task asks for "
            "the exact gradient. If V[:, j] is stretched along itself, does W'[:, j] change?",
            _dora_mistake(norm_constant=True),
        ),
        (
            "m[j] multiplies a column of length 1, not V[:, j] itself: what is dW'[:, j] / dm[j]?",
            _dora_mistake(dm_plain=True),
        ),
        (
            "dx went through the frozen W: which weight does the layer multiply x by?",
            _dora_mistake(dx_frozen=True),
        ),
        (
            "the scale is missing from dA and dB: V holds s A B, not A B",
            _dora_mistake(unscaled=True),
        ),
    ),
    factors=lambda x, W, m, A, B, dy, alpha: {"the scale alpha / r": alpha / A.shape[1]},
    forbids=("minidl.nn.layers.LoRA", "minidl.nn.layers.lora", "minidl.nn.gradcheck"),
    dtypes="float64",
)


# ---------------------------------------------------------------- BERT's masking rule, repaired
def bert_mask(ids, u_choose, u_kind, random_ids, rate, mask_id, n_special):
    """BERT's rule with its random draws given: a token is chosen when it is not special
    (id >= n_special) and u_choose < rate; a chosen token becomes mask_id when u_kind < 0.8,
    random_ids at its place when 0.8 <= u_kind < 0.9, and stays otherwise.
    Returns (inputs, chosen): new arrays, ids left as they were."""
    return _bert_mask(ids, u_choose, u_kind, random_ids, rate, mask_id, n_special, ())


BERT_MASK_BUGS = {
    "specials": "padding and the special tokens are chosen too: only ids >= n_special may be "
    "chosen (a <pad> has no word to predict)",
    "unchanged": "no chosen token is left unchanged: 0.8 <= u_kind < 0.9 takes a random token and "
    "u_kind >= 0.9 keeps the token as it is (the rule's last 10 %)",
    "split": "the 80 / 10 / 10 split is read from the wrong end: u_kind < 0.8 is <mask>, then "
    "0.8 <= u_kind < 0.9 is the random token",
}


def _bert_mask(ids, u_choose, u_kind, random_ids, rate, mask_id, n_special, bugs):
    chosen = u_choose < rate
    if "specials" not in bugs:
        chosen = chosen & (ids >= n_special)
    inputs = ids.copy()
    if "split" in bugs:
        to_mask, to_swap = u_kind >= 0.2, u_kind < 0.1
    else:
        # the swap excludes the masked tokens explicitly (not by overwriting them afterwards), so
        # that a tie u_kind = 0.8 read as <mask> changes the result
        to_mask = u_kind < 0.8
        to_swap = ~to_mask & (u_kind < 0.9)
    if "unchanged" in bugs:
        to_swap = ~to_mask
    inputs[chosen & to_mask] = mask_id
    swap = chosen & to_swap
    inputs[swap] = random_ids[swap]
    return inputs, chosen


def _bert_cases(rng):
    cases = []
    for n, t, vocab, rate, n_special in ((4, 9, 30, 0.5, 4), (3, 12, 50, 0.3, 3), (1, 8, 20, 0.5, 3)):
        ids = rng.integers(n_special, vocab, size=(n, t)).astype(np.int64)
        ids[:, 0] = n_special - 1  # a <cls>-like special token first
        ids[:, 1] = n_special  # the first word id: chosen like any word (>=, not >)
        for row in range(n):
            ids[row, t - int(rng.integers(1, 4)) :] = 0  # padding at the end
        u_choose, u_kind = rng.random((n, t)), rng.random((n, t))
        u_choose[:, :3] = (0.0, 0.0, rate)  # <cls> and the first word drawn, one draw at the rate exactly
        u_choose[:, -1] = 0.0  # padding drawn too: it must not be chosen
        u_choose[:, 3:6] = 0.0  # three words certainly chosen, split at the edges of 80 / 10 / 10
        u_kind[:, 3:6] = (0.8, 0.9, 0.0)
        cases.append(
            Case(
                (
                    ids,
                    u_choose,
                    u_kind,
                    rng.integers(n_special, vocab, size=(n, t)).astype(np.int64),
                    rate,
                    2,
                    n_special,
                ),
                label=f"ids of shape {(n, t)} with padding, rate={rate}, {n_special} special ids",
            )
        )
    return cases


function_exercise(
    "bert_mask",
    CHAPTER,
    2,
    "bert_mask",
    "A broken BERT masking rule, repaired",
    _bert_cases,
    bert_mask,
    ("inputs", "chosen"),
    mistakes=(
        (
            "this is the rule as given, its bugs still in it: read it against BERT's rule in "
            "the chapter's section 3",
            lambda ids, u_c, u_k, rand, rate, mask_id, n_sp: _bert_mask(
                ids, u_c, u_k, rand, rate, mask_id, n_sp, tuple(BERT_MASK_BUGS)
            ),
        ),
    )
    + tuple(
        (
            f"{hint} (the other bugs are fixed)",
            lambda ids, u_c, u_k, rand, rate, mask_id, n_sp, bug=bug: _bert_mask(
                ids, u_c, u_k, rand, rate, mask_id, n_sp, (bug,)
            ),
        )
        for bug, hint in BERT_MASK_BUGS.items()
    ),
    forbids=("minidl.datasets", "minidl.nn.layers"),
    dtypes=("int", "bool"),
)


# ---------------------------------------------------------------- patches of a non-square image
def patchify(x, ph, pw):
    """(N, C, H, W) -> (N, (H/ph)(W/pw), C*ph*pw): patches in row-major order (left to right,
    then top to bottom), each flattened channel first, then its rows, then its columns."""
    N, C, H, W = x.shape
    out = np.empty((N, (H // ph) * (W // pw), C * ph * pw), dtype=x.dtype)
    for i in range(H // ph):
        for j in range(W // pw):
            patch = x[:, :, i * ph : (i + 1) * ph, j * pw : (j + 1) * pw]
            # the size named, not -1: NumPy infers any negative size, so -1 -> -2 would not show
            out[:, i * (W // pw) + j] = patch.reshape(N, C * ph * pw)
    return out


def _patchify_channels_last(x, ph, pw):
    N, C, H, W = x.shape
    p = x.reshape(N, C, H // ph, ph, W // pw, pw).transpose(0, 2, 4, 3, 5, 1)
    return p.reshape(N, (H // ph) * (W // pw), -1)


def _patchify_column_major(x, ph, pw):
    N, C, H, W = x.shape
    p = x.reshape(N, C, H // ph, ph, W // pw, pw).transpose(0, 4, 2, 1, 3, 5)
    return p.reshape(N, (H // ph) * (W // pw), -1)


def _patch_cases(rng):
    return [
        Case((rng.standard_normal((2, 3, 4, 6)), 2, 3), label="x of shape (2, 3, 4, 6), patches 2x3"),
        Case((rng.standard_normal((1, 2, 6, 4)), 3, 2), label="x of shape (1, 2, 6, 4), patches 3x2"),
        Case((rng.standard_normal((2, 1, 6, 10)), 2, 5), label="x of shape (2, 1, 6, 10), patches 2x5"),
    ]


function_exercise(
    "patchify",
    CHAPTER,
    2,
    "patchify",
    "Patches of a non-square image",
    _patch_cases,
    patchify,
    ("patches",),
    mistakes=(
        (
            "each patch is flattened with the channel last (rows, columns, channels); flatten it "
            "channel first, as x[n, :, rows, columns].ravel() does",
            _patchify_channels_last,
        ),
        (
            "the patches are in column-major order (top to bottom first); number them left to "
            "right along a row of patches, then the next row",
            _patchify_column_major,
        ),
    ),
    forbids=("minidl.nn.layers.patches", "minidl.nn.layers.PatchEmbedding"),
    dtypes="float64",
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

declare_edges(
    "dora_backward",
    ("size_one", "non_square", "varied_settings"),
    {"empty": "the task takes at least one sample, and a rank of at least 1"},
)
declare_edges(
    "bert_mask",
    ("size_one", "non_square", "repeated_indices", "varied_settings"),
    {"empty": "a batch holds at least one sequence, which starts with a special token"},
)
declare_edges(
    "patchify",
    ("size_one", "non_square", "varied_settings"),
    {
        "empty": "the image holds at least one patch",
        "long_sequence": "its loops run over the patches of an image, each alike: their number changes nothing",
    },
)
