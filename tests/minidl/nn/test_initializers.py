"""Weight initialisers: each scheme's variance or bound, seeding, orthogonality, ``get``."""

import math

import numpy as np
import pytest

import minidl as mdl
from minidl.nn import initializers as I

FAN_IN, FAN_OUT = 400, 100
SHAPE = (FAN_IN, FAN_OUT)  # 40,000 draws: the sample std is within 2 % of the true one


@pytest.mark.parametrize(
    "name, std",
    [
        ("glorot_normal", math.sqrt(2 / (FAN_IN + FAN_OUT))),
        ("he_normal", math.sqrt(2 / FAN_IN)),
        ("lecun_normal", math.sqrt(1 / FAN_IN)),
        ("normal", 0.05),
        ("random_normal", 0.05),
        ("glorot_uniform", math.sqrt(6 / (FAN_IN + FAN_OUT)) / math.sqrt(3)),
        ("he_uniform", math.sqrt(6 / FAN_IN) / math.sqrt(3)),
        ("lecun_uniform", math.sqrt(3 / FAN_IN) / math.sqrt(3)),
        ("random_uniform", 0.05 / math.sqrt(3)),
    ],
)
def test_every_scheme_draws_with_its_standard_deviation(name, std):
    mdl.seed(0)
    w = I.get(name)(SHAPE, FAN_IN, FAN_OUT)
    assert w.shape == SHAPE and w.dtype == np.float32
    assert abs(w.mean()) < 0.05 * std
    assert w.std() == pytest.approx(std, rel=0.02)
    if name.endswith("uniform"):
        assert np.abs(w).max() <= std * math.sqrt(3) * (1 + 1e-6)


@pytest.mark.parametrize(
    "mode, n", [("fan_in", FAN_IN), ("fan_out", FAN_OUT), ("fan_avg", (FAN_IN + FAN_OUT) / 2)]
)
@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_variance_scaling_uses_the_named_fan(mode, n, distribution):
    mdl.seed(1)
    w = I.variance_scaling(3.0, mode, distribution)(SHAPE, FAN_IN, FAN_OUT, np.float64)
    assert w.dtype == np.float64
    assert w.var() == pytest.approx(3.0 / n, rel=0.04)


@pytest.mark.parametrize(
    "name, args",
    [
        ("glorot_uniform", (1.0, "fan_avg", "uniform")),
        ("glorot_normal", (1.0, "fan_avg", "normal")),
        ("he_uniform", (2.0, "fan_in", "uniform")),
        ("he_normal", (2.0, "fan_in", "normal")),
        ("lecun_uniform", (1.0, "fan_in", "uniform")),
        ("lecun_normal", (1.0, "fan_in", "normal")),
    ],
)
def test_a_named_scheme_draws_what_variance_scaling_draws(name, args):
    mdl.seed(2)
    named = I.get(name)(SHAPE, FAN_IN, FAN_OUT)
    mdl.seed(2)
    assert np.array_equal(named, I.variance_scaling(*args)(SHAPE, FAN_IN, FAN_OUT))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "fan_sum"}, "mode must be 'fan_in', 'fan_out' or 'fan_avg', got 'fan_sum'"),
        ({"distribution": "cauchy"}, "distribution must be 'normal' or 'uniform', got 'cauchy'"),
        ({"scale": 0.0}, "scale must be positive, got 0.0"),
    ],
)
def test_variance_scaling_names_a_bad_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        I.variance_scaling(**kwargs)


def test_the_same_seed_draws_the_same_weights():
    mdl.seed(7)
    a = I.he_normal((5, 3), 5, 3)
    mdl.seed(7)
    np.testing.assert_array_equal(a, I.he_normal((5, 3), 5, 3))
    assert not np.array_equal(a, I.he_normal((5, 3), 5, 3))


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 2, 2)])
def test_orthogonal_rows_or_columns_are_orthonormal_times_the_gain(shape):
    q = I.orthogonal(shape, gain=2.0, rng=np.random.default_rng(0)).reshape(shape[0], -1).astype(np.float64)
    small = min(q.shape)
    gram = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-5)


def test_orthogonal_needs_a_matrix():
    with pytest.raises(ValueError, match=r"at least 2 axes, got \(5,\)"):
        I.orthogonal((5,))


def test_zeros_and_ones_fill_in_the_dtype():
    assert I.zeros((2, 2), dtype=np.float64).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert I.ones((3,)).dtype == np.float32 and I.ones((3,)).sum() == 3


class FilledWith(I.Initializer):  # not "Constant": the Keras door registers one
    def __init__(self, value=0.5):
        self.value = value

    def draw(self, shape, fan_in, fan_out, dtype):
        return np.full(shape, self.value, dtype)


def test_an_initializer_object_draws_saves_and_is_made_again():
    init = FilledWith(0.25)
    w = init([2, 3], 2, 3, "float64")
    assert w.shape == (2, 3) and w.dtype == np.float64 and np.all(w == 0.25)
    saved = {"class": "FilledWith", "config": init.get_config()}
    assert I.get(saved) == init and I.from_saved(saved) == init
    assert I.from_saved("he_normal") == "he_normal"  # a name is kept as given


def test_get_passes_callables_and_names_the_known_schemes():
    assert I.get(I.zeros) is I.zeros
    assert I.get("random_normal") is I.normal
    with pytest.raises(ValueError, match=r"unknown initializer 'kaiming'; expected one of \['glorot_normal'"):
        I.get("kaiming")
    with pytest.raises(ValueError, match="unknown initializer class 'Nope'"):
        I.get({"class": "Nope", "config": {}})
