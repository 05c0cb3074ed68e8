"""Chapter 21, speech: delta features (the least-squares slope, derived) and a per-utterance
normalisation to repair around the chapter's log-mel spectrogram, and dynamic time warping between
two utterances."""

import numpy as np

from ..judge.registry import Case, declare_edges, function_exercise

CHAPTER = "21_speech"


# ---------------------------------------------------------------- delta features
def delta_features(features, width):
    """Deltas over time of features (T, F), as HTK and librosa define them:
    d_t = sum_{n=1..width} n (c_{t+n} - c_{t-n}) / (2 sum_{n=1..width} n^2),
    frames beyond either end replaced by the first or the last frame."""
    t = features.shape[0]
    padded = np.concatenate(
        [np.repeat(features[:1], width, axis=0), features, np.repeat(features[-1:], width, axis=0)]
    )
    numerator = sum(
        n * (padded[width + n : width + n + t] - padded[width - n : width - n + t])
        for n in range(1, width + 1)
    )
    return numerator / (2 * sum(n * n for n in range(1, width + 1)))


def _delta_zero_pad(features, width):
    t = features.shape[0]
    padded = np.pad(features, ((width, width), (0, 0)))
    numerator = sum(
        n * (padded[width + n : width + n + t] - padded[width - n : width - n + t])
        for n in range(1, width + 1)
    )
    return numerator / (2 * sum(n * n for n in range(1, width + 1)))


def _delta_outermost(features, width):
    t = features.shape[0]
    index = np.arange(t)
    later = features[np.minimum(index + width, t - 1)]
    earlier = features[np.maximum(index - width, 0)]
    return (later - earlier) / (2 * width)


def _delta_cases(rng):
    return [
        Case((rng.standard_normal((9, 4)), 2), label="features (9, 4), width 2"),
        Case((rng.standard_normal((6, 3)) + 5.0, 1), label="features (6, 3) around 5, width 1"),
        Case((rng.standard_normal((12, 2)), 3), label="features (12, 2), width 3"),
        # no single frame: every delta is exactly 0 there, and a right least-squares fit leaves
        # rounding (1e-16) that the relative error against an all-zero answer would reject
        Case(
            (rng.standard_normal((2, 3)), 2),
            label="features (2, 3): two frames, width 2 (windows past both ends)",
        ),
        Case((rng.standard_normal((7, 1)), 1), label="features (7, 1): a single band, width 1"),
    ]


function_exercise(
    "delta_features",
    CHAPTER,
    2,
    "delta_features",
    "Delta features: the slope of each band over time",
    _delta_cases,
    delta_features,
    ("deltas",),
    mistakes=(
        (
            "the frames beyond the ends are zeros; they are copies of the first and last "
            "frame (with zeros the deltas at the ends jump by the features' level)",
            _delta_zero_pad,
        ),
        (
            "the normaliser is missing its factor 2: divide by 2 * sum(n**2)",
            lambda f, w: 2 * delta_features(f, w),
        ),
        (
            "the slope is taken from the window's two outermost frames only; the least-squares "
            "line weighs every frame of the window by its offset n",
            _delta_outermost,
        ),
    ),
    factors=lambda f, w: {"2": 2.0},
    forbids=("minidl.datasets.audio", "minidl.datasets.speech"),
    dtypes="float64",
    equivalent_mutants={
        "delta_features: const: 1 -> 0": "a sum from n = 0: its term is 0 * (...) = 0",
        "delta_features: const: 1 -> 0 #5": "a sum of n * n from n = 0: its term is 0",
    },
)


# ---------------------------------------------------------------- masked normalisation
def masked_cmvn(features, lengths):
    """Per-utterance mean and variance normalisation of a padded batch (N, T, F): each
    utterance n uses only its first lengths[n] frames; padded frames come back as 0."""
    out = np.zeros_like(features)
    for n, length in enumerate(lengths):
        valid = features[n, :length]
        out[n, :length] = (valid - valid.mean(axis=0)) / valid.std(axis=0)
    return out


def _cmvn_padding_counted(features, lengths):
    mean = features.mean(axis=1, keepdims=True)
    std = features.std(axis=1, keepdims=True)
    out = (features - mean) / std
    for n, length in enumerate(lengths):
        out[n, length:] = 0.0
    return out


def _cmvn_wrong_axis(features, lengths):
    out = np.zeros_like(features)
    for n, length in enumerate(lengths):
        valid = features[n, :length]
        out[n, :length] = (valid - valid.mean(axis=1, keepdims=True)) / valid.std(axis=1, keepdims=True)
    return out


def _cmvn_padding_normalised(features, lengths):
    out = np.empty_like(features)
    for n, length in enumerate(lengths):
        valid = features[n, :length]
        out[n] = (features[n] - valid.mean(axis=0)) / valid.std(axis=0)
    return out


def _cmvn_cases(rng):
    cases = []
    for n, t, f in ((3, 8, 4), (2, 10, 3), (1, 6, 3)):  # the last: a batch of one utterance
        lengths = [t] + [int(v) for v in rng.integers(3, t, n - 1)]
        x = rng.standard_normal((n, t, f)) * 2.0 + 3.0
        for i, length in enumerate(lengths):
            x[i, length:] = 0.0  # the padding, as a batch carries it
        cases.append(Case((x, lengths), label=f"batch {(n, t, f)}, lengths {lengths}"))
    return cases


function_exercise(
    "masked_cmvn",
    CHAPTER,
    2,
    "masked_cmvn",
    "Mean and variance normalisation of a padded batch",
    _cmvn_cases,
    masked_cmvn,
    ("normalised",),
    mistakes=(
        (
            "the padded frames are counted in the mean and the standard deviation: their "
            "zeros pull the mean towards 0; use each utterance's first lengths[n] frames only",
            _cmvn_padding_counted,
        ),
        (
            "the statistics are taken over the bands of each frame (axis 1 of an utterance's "
            "(T, F)); CMVN normalises each band over the utterance's real frames (axis 0)",
            _cmvn_wrong_axis,
        ),
        (
            "the padded frames come back normalised (the mean subtracted, divided by the standard "
            "deviation); they must come back as 0",
            _cmvn_padding_normalised,
        ),
    ),
    forbids=("minidl.datasets.audio", "minidl.datasets.speech"),
    dtypes="float64",
)


# ---------------------------------------------------------------- dynamic time warping
def _dtw(a, b, squared=False, diagonal=True, free_start=False, per_step=False):
    cost = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1)  # (Ta, Tb)
    cost = cost if squared else np.sqrt(cost)
    ta, tb = cost.shape
    total = np.full((ta + 1, tb + 1), np.inf)
    if free_start:
        total[0, :], total[:, 0] = 0.0, 0.0
    total[0, 0] = 0.0
    for i in range(1, ta + 1):
        for j in range(1, tb + 1):
            best = min(total[i - 1, j], total[i, j - 1])
            if diagonal:
                best = min(best, total[i - 1, j - 1])
            total[i, j] = cost[i - 1, j - 1] + best
    return total[ta, tb] / (ta + tb) if per_step else total[ta, tb]


def dtw_distance(a, b):
    """The cost of the cheapest alignment of a (Ta, F) with b (Tb, F): a monotone path from frame
    pair (0, 0) to (Ta - 1, Tb - 1) in steps (1, 0), (0, 1), (1, 1), each pair it visits costing
    the Euclidean distance between the two frames (Sakoe and Chiba, 1978)."""
    return _dtw(a, b)


def _dtw_cases(rng):
    a = rng.standard_normal((7, 3))
    cases = [Case((a, rng.standard_normal((5, 3))), label="a (7, 3), b (5, 3)")]
    # the same word said more slowly: every frame held for 1 to 3 frames, and a little noise
    word = rng.standard_normal((5, 4)) * 3.0
    slow = np.repeat(word, rng.integers(1, 4, size=5), axis=0) + 0.01 * rng.standard_normal((1, 4))
    cases.append(Case((word, slow), label=f"a (5, 4), b = a said slower {slow.shape}"))
    cases.append(
        Case((rng.standard_normal((1, 4)), rng.standard_normal((6, 4))), label="a of one frame, b (6, 4)")
    )
    cases.append(
        Case((rng.standard_normal((6, 2)), rng.standard_normal((9, 2)) + 1.0), label="a (6, 2), b (9, 2)")
    )
    # the cheapest first step (a frame of a held) leads to a dearer path: greedy steps cost 7, DTW 4
    trap_a, trap_b = np.array([[0.0], [3.0], [0.0], [2.0]]), np.array([[0.0], [1.0], [1.0], [1.0]])
    cases.append(Case((trap_a, trap_b), label="a = [0, 3, 0, 2], b = [0, 1, 1, 1] (F = 1)"))
    # every path needs all three steps: b holds a's frames 1 and 3 twice, and a its frame 5 twice
    a = np.array([[0.0], [4.0], [8.0], [12.0], [16.0], [16.0]])
    b = np.array([[0.0], [4.0], [4.0], [8.0], [12.0], [12.0], [16.0]])
    cases.append(Case((a, b), label="a = 0, 4, 8, 12, 16, 16 against b = 0, 4, 4, 8, 12, 12, 16 (F = 1)"))
    cases.append(
        Case((rng.standard_normal((5, 3)), rng.standard_normal((1, 3))), label="a (5, 3), b of one frame")
    )
    # each ends with the frame the other starts with: a path may not start anywhere but (0, 0)
    cases.append(
        Case(
            (np.array([[2.0], [2.0], [3.0]]), np.array([[3.0], [2.0]])),
            label="a = [2, 2, 3], b = [3, 2] (F = 1)",
        )
    )
    long = rng.standard_normal((70, 2))
    slow = np.repeat(long, rng.integers(1, 3, size=70), axis=0)[:100] + 0.05 * rng.standard_normal((1, 2))
    cases.append(Case((long, slow), label=f"a (70, 2), b = a said slower, cut to {slow.shape}"))
    return cases


function_exercise(
    "dtw_distance",
    CHAPTER,
    2,
    "dtw_distance",
    "Dynamic time warping: the distance between two utterances",
    _dtw_cases,
    dtw_distance,
    ("distance",),
    mistakes=tuple(
        (hint, lambda a, b, change=change: _dtw(a, b, **change))
        for hint, change in (
            (
                "each visited pair costs the Euclidean distance between the frames, the square root "
                "of the summed squares",
                {"squared": True},
            ),
            (
                "the diagonal step (1, 1) is missing: a path must be able to advance in both "
                "sequences at once",
                {"diagonal": False},
            ),
            (
                "the path must start at the pair (0, 0): only the corner of the table starts at 0, "
                "the rest of its first row and column is unreachable (infinity) or accumulated",
                {"free_start": True},
            ),
            ("the task asks for the path's total cost, not the cost per step", {"per_step": True}),
        )
    ),
    forbids=("minidl.datasets.audio", "minidl.datasets.speech"),
    catches=("a sequence of a single frame: the path runs along one edge of the table",),
    dtypes=("number",),
    equivalent_mutants={
        "dtw_distance > _dtw: const: 1 -> 2 #4": "a table one row larger: the cost is read at [Ta, Tb]",
        "dtw_distance > _dtw: const: 1 -> 2 #5": "a table one column larger: the cost is read at [Ta, Tb]",
    },
)


# ---------------------------------------------------------------- edge cases
# the classes of edge cases each exercise's cases cover (judge/edges.py detects them in the
# generated cases), and why each other class that could arise does not apply

declare_edges(
    "delta_features",
    ("size_one", "non_square", "varied_settings"),
    {
        "empty": "an utterance has at least one frame",
        "long_sequence": "its loop runs over the width (at most 3), not the frames",
    },
)
declare_edges(
    "masked_cmvn",
    ("size_one", "non_square"),
    {
        "empty": "an utterance has at least one frame: a mean over none has no value",
        "repeated_indices": "the lengths are one per utterance: two equal lengths are two utterances alike",
        "long_sequence": "its loop runs over the utterances of a batch, a few",
    },
)
declare_edges(
    "dtw_distance",
    ("size_one", "non_square", "long_sequence"),
    {
        "empty": "each sequence has at least one frame: an alignment of nothing has no cost",
        "ties": "the min over the three predecessors is a value: which one attains it does not matter",
        "inf_or_nan_input": "the frames are finite: the inf of the table's border is made inside the function",
    },
)
