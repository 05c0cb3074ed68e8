"""``CategoryEncoding`` and ``Discretization`` (``minidl_keras/preprocessing.py``): Keras's
outputs, shapes inside a model, no gradient, the errors; compared with Keras where installed."""

import minidl_keras as keras
import numpy as np
import pytest

from tests.keras.keras_oracle import HAVE_KERAS, real_keras

layers = keras.layers

CASES = [
    ("one_hot", np.array([[0], [2], [1]])),
    ("one_hot", np.array([0, 2, 1])),
    ("multi_hot", np.array([[0, 2], [1, 1], [2, 2]])),
    ("count", np.array([[0, 2], [1, 1], [2, 2]])),
]


@pytest.mark.parametrize(("mode", "ids"), CASES)
def test_category_encoding_matches_keras(mode, ids):
    ours = np.asarray(layers.CategoryEncoding(num_tokens=3, output_mode=mode)(ids))
    expected = {
        "one_hot": np.eye(3, dtype=np.float32)[ids.reshape(-1)],
        "multi_hot": np.array([[1, 0, 1], [0, 1, 0], [0, 0, 1]], np.float32),
        "count": np.array([[1, 0, 1], [0, 2, 0], [0, 0, 2]], np.float32),
    }[mode]
    np.testing.assert_array_equal(ours, expected)
    assert ours.dtype == np.float32
    if HAVE_KERAS:
        theirs = real_keras().layers.CategoryEncoding(num_tokens=3, output_mode=mode)(ids)
        np.testing.assert_array_equal(ours, real_keras().ops.convert_to_numpy(theirs))


def test_discretization_matches_keras_on_the_boundaries():
    values = np.array([[-1.0, 0.0, 0.5], [1.0, 2.0, 9.0]], np.float32)
    ours = np.asarray(layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])(values))
    np.testing.assert_array_equal(ours, [[0, 1, 1], [2, 3, 3]])  # a boundary goes to the bin above
    if HAVE_KERAS:
        theirs = real_keras().layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])(values)
        np.testing.assert_array_equal(ours, real_keras().ops.convert_to_numpy(theirs))


def test_in_a_model_the_shapes_follow_and_no_gradient_flows():
    ids = keras.Input((1,), dtype="int32")
    age = keras.Input((1,))
    features = layers.concatenate(
        [layers.CategoryEncoding(4, output_mode="one_hot")(ids), layers.Discretization([0.0])(age)]
    )
    assert features.shape == (None, 5)
    model = keras.Model([ids, age], layers.Dense(1)(features))
    model.compile(optimizer="sgd", loss="mse")
    x = [np.array([[0], [3]]), np.array([[-1.0], [1.0]], np.float32)]
    history = model.fit(x, np.ones((2, 1), np.float32), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def test_the_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="outside 0..2"):
        layers.CategoryEncoding(3, output_mode="one_hot")(np.array([[3]]))
    with pytest.raises(ValueError, match="output_mode"):
        layers.CategoryEncoding(3, output_mode="tf_idf")
    with pytest.raises(NotImplementedError, match="bin_boundaries"):
        layers.Discretization(num_bins=4)
