"""keras.initializers: Keras's fans, the truncated normal, seeded draws that repeat, each class's
distribution, Keras's errors, and the serialized form."""

import math

import numpy as np
import pytest
from minidl_keras import initializers as I
from minidl_keras.missing import KerasFeatureMissing


def test_kerass_fans_for_vectors_matrices_and_kernels():
    assert I.fans(()) == (1, 1) and I.fans((7,)) == (7, 7) and I.fans((3, 5)) == (3, 5)
    assert I.fans((3, 3, 4, 8)) == (36, 72)  # a Conv2D kernel (KH, KW, C, F)


def test_the_truncated_normal_stays_within_two_standard_deviations():
    z = I.truncated_normal(0.5, (20_000,), np.float64, np.random.default_rng(0))
    assert np.abs(z).max() < 1.0 and z.std() == pytest.approx(0.5 * 0.8796, rel=0.03)


def test_a_seeded_initializer_draws_the_same_values_at_every_call():
    init = I.RandomNormal(mean=1.0, stddev=0.1, seed=3)
    a, b = init((50, 40)), init((50, 40))
    np.testing.assert_array_equal(a, b)
    assert (
        a.dtype == np.float32
        and a.mean() == pytest.approx(1.0, abs=0.01)
        and a.std() == pytest.approx(0.1, rel=0.05)
    )
    assert not np.array_equal(a, I.RandomNormal(mean=1.0, stddev=0.1, seed=4)((50, 40)))
    assert init((2, 2), "float64").dtype == np.float64  # Keras's positional order: (shape, dtype)
    with pytest.raises(ValueError, match="`seed` argument should be an integer or None. Received: seed=1.5"):
        I.RandomNormal(seed=1.5)


@pytest.mark.parametrize(
    "init, std",
    [
        (I.GlorotUniform(seed=0), math.sqrt(2 / (400 + 100))),
        (I.HeNormal(seed=0), math.sqrt(2 / 400)),
        (I.LecunNormal(seed=0), math.sqrt(1 / 400)),
        (I.VarianceScaling(3.0, "fan_out", "untruncated_normal", seed=0), math.sqrt(3 / 100)),
        (I.VarianceScaling(1.0, "fan_avg", "uniform", seed=0), math.sqrt(1 / 250)),
        (I.RandomUniform(-0.3, 0.3, seed=0), 0.3 / math.sqrt(3)),
        (I.TruncatedNormal(stddev=0.2, seed=0), 0.2 * 0.8796),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, float) else "",
)
def test_each_class_draws_with_its_variance(init, std):
    w = init((400, 100))
    assert w.std() == pytest.approx(std, rel=0.03)


def test_variance_scaling_refuses_what_keras_refuses():
    with pytest.raises(ValueError, match="Argument `scale` must be positive float. Received: scale=0"):
        I.VarianceScaling(scale=0)
    with pytest.raises(ValueError, match="Invalid `mode` argument: fan_sum"):
        I.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="Invalid `distribution` argument: cauchy"):
        I.VarianceScaling(distribution="cauchy")
    with pytest.raises(KerasFeatureMissing, match=r"input_axes=, output_axes="):
        I.VarianceScaling(input_axes=[0])
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['axes'\]"):
        I.VarianceScaling(axes=None)


def test_constant_identity_and_orthogonal():
    assert I.Constant(2.5)((2, 2)).tolist() == [[2.5, 2.5], [2.5, 2.5]] and I.Zeros()((3,)).sum() == 0
    assert I.Ones()((2,), "float64").dtype == np.float64
    np.testing.assert_array_equal(I.Identity(gain=3.0)((2, 3)), 3.0 * np.eye(2, 3))
    with pytest.raises(ValueError, match="can only be used for 2D matrices. Received: shape=\\(2, 2, 2\\)"):
        I.Identity()((2, 2, 2))
    q = I.Orthogonal(gain=2.0, seed=1)((3, 3, 2, 4))  # Keras's layout: the 4 outputs are orthonormal
    flat = q.reshape(-1, 4).astype(np.float64)
    np.testing.assert_allclose(flat.T @ flat, 4.0 * np.eye(4), atol=1e-5)
    with pytest.raises(ValueError, match="at least two-dimensional"):
        I.Orthogonal()((4,))


def test_serialized_as_keras_and_made_again():
    init = I.HeUniform(seed=7)
    spec = I.serialize(init)
    assert spec["class_name"] == "HeUniform" and spec["module"] == "keras.initializers"
    again = I.deserialize(spec)
    assert type(again) is I.HeUniform
    np.testing.assert_array_equal(again((3, 2)), init((3, 2)))
    glorot = I.serialize("glorot_uniform")  # a minidl name shows as Keras's class and defaults
    assert glorot["class_name"] == "GlorotUniform" and glorot["config"]["seed"] is None
    assert I.serialize(np.zeros) is np.zeros
    assert I.get("HeNormal").__class__ is I.HeNormal and I.get(spec).__class__ is I.HeUniform
    config = {"kernel_initializer": init, "units": 3}
    assert I.deserialized_config(I.serialized_config(config))["kernel_initializer"].__class__ is I.HeUniform
    with pytest.raises(ValueError, match="unknown initializer class 'Kaiming'; minidl_keras has Constant"):
        I.deserialize({"class_name": "Kaiming"})
    with pytest.raises(KerasFeatureMissing, match="keras.initializers.STFT is not in minidl_keras"):
        I.STFT  # noqa: B018
