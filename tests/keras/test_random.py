"""keras.random: Keras's random draws, repeatable by an int seed or a SeedGenerator stream."""

import minidl_keras as keras
import numpy as np
import pytest


def test_an_int_seed_repeats_and_a_generator_moves_on():
    assert np.array_equal(keras.random.normal((2, 3), seed=4), keras.random.normal((2, 3), seed=4))
    stream = keras.random.SeedGenerator(9)
    first, second = keras.random.normal((5,), seed=stream), keras.random.normal((5,), seed=stream)
    assert not np.array_equal(first, second)
    assert keras.random.SeedGenerator(9).get_config() == {"seed": 9}


def test_each_draw_has_its_range_shape_and_dtype():
    u = keras.random.uniform((1000,), minval=-2.0, maxval=3.0, seed=0)
    assert u.dtype == np.float32 and u.min() >= -2.0 and u.max() < 3.0
    t = keras.random.truncated_normal((4000,), mean=1.0, stddev=0.5, seed=0, dtype="float64")
    assert t.dtype == np.float64 and np.abs(t - 1.0).max() <= 1.0 + 1e-12  # within two stddevs
    assert abs(t.std() - 0.5 * 0.88) < 0.03  # a normal cut at 2 sigma keeps ~0.88 of its spread
    k = keras.random.randint((3, 4), 2, 5, seed=1)
    assert k.shape == (3, 4) and k.dtype == np.int32 and set(np.unique(k)) <= {2, 3, 4}
    assert keras.random.normal(6, seed=0).shape == (6,)  # a bare int is a length


def test_shuffle_permutes_one_axis_and_leaves_its_input():
    x = np.arange(12).reshape(3, 4)
    y = keras.random.shuffle(x, axis=1, seed=2)
    assert sorted(y[0]) == [0, 1, 2, 3] and np.array_equal(np.sort(y, axis=1), x)
    assert np.array_equal(x, np.arange(12).reshape(3, 4))


def test_a_seed_of_another_kind_is_refused_in_keras_words():
    with pytest.raises(ValueError, match="SeedGenerator"):
        keras.random.normal((2,), seed="seven")
