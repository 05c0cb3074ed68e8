"""Keras's small reshaping and merging layers (``RepeatVector``, ``Permute``, ``UpSampling1D``,
``ZeroPadding1D``, ``Cropping1D``/``2D``, ``Maximum``, ``Minimum``, ``Dot``): float64 gradient
checks of their hand-written backward, Keras's shapes and numbers where Keras 3 is installed,
and a functional model built of them that predicts as Keras with Keras's weights."""

import minidl_keras as keras
import numpy as np
import pytest
from minidl_keras import layers

import minidl as mdl
from minidl.nn.gradcheck import check_layer
from tests.keras.keras_oracle import HAVE_KERAS, real_keras
from tests.keras.test_functional import check_model_gradients

SINGLE = [
    ("RepeatVector", (3,), {}, (2, 4)),
    ("Permute", ((2, 1),), {}, (2, 3, 4)),
    ("Permute", ((3, 1, 2),), {}, (2, 3, 4, 5)),
    ("UpSampling1D", (3,), {}, (2, 3, 4)),
    ("ZeroPadding1D", ((1, 2),), {}, (2, 3, 4)),
    ("Cropping1D", ((1, 2),), {}, (2, 6, 3)),
    ("Cropping2D", (((1, 0), (0, 2)),), {}, (2, 5, 6, 3)),
    ("Cropping2D", (1,), {"data_format": "channels_first"}, (2, 3, 5, 6)),
]


@pytest.mark.parametrize("name, args, kwargs, shape", SINGLE, ids=lambda v: str(v))
def test_reshaping_layers_pass_gradient_checks_and_say_their_shape(name, args, kwargs, shape):
    layer = getattr(layers, name)(*args, **kwargs)
    x = np.random.default_rng(0).normal(size=shape)
    report = check_layer(layer, x)
    assert report.passed, report
    assert layer.forward(x).shape[1:] == tuple(layer.compute_output_shape(shape[1:]))


@pytest.mark.parametrize("name, args, kwargs, shape", SINGLE, ids=lambda v: str(v))
def test_reshaping_layers_compute_what_keras_computes(name, args, kwargs, shape):
    real = real_keras()
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    theirs = real.ops.convert_to_numpy(getattr(real.layers, name)(*args, **kwargs)(x))
    np.testing.assert_array_equal(getattr(layers, name)(*args, **kwargs).forward(x), theirs)


MERGES = [
    ("Maximum", (), {}, [(4, 5)] * 3),
    ("Minimum", (), {}, [(4, 5)] * 2),
    ("Dot", (1,), {}, [(4, 5), (4, 5)]),
    ("Dot", (1,), {"normalize": True}, [(4, 5), (4, 5)]),
    ("Dot", ((2, 2),), {}, [(4, 3, 5), (4, 6, 5)]),
    ("Dot", ((1, 1),), {"normalize": True}, [(4, 3, 5), (4, 3, 2)]),
]


@pytest.mark.parametrize("name, args, kwargs, shapes", MERGES, ids=lambda v: str(v))
def test_merges_pass_gradient_checks(name, args, kwargs, shapes):
    mdl.seed(0)
    inputs = [keras.Input(s[1:], dtype="float64") for s in shapes]
    merged = getattr(layers, name)(*args, **kwargs)([layers.Dense(shapes[0][-1])(inputs[0])] + inputs[1:])
    model = keras.Model(inputs, layers.Dense(2)(layers.Flatten()(merged)))
    rng = np.random.default_rng(2)
    check_model_gradients(model, [rng.normal(size=s) for s in shapes])


@pytest.mark.parametrize("name, args, kwargs, shapes", MERGES, ids=lambda v: str(v))
def test_merges_compute_what_keras_computes(name, args, kwargs, shapes):
    real = real_keras()
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=s).astype(np.float32) for s in shapes]
    theirs = real.ops.convert_to_numpy(getattr(real.layers, name)(*args, **kwargs)(xs))
    ours = getattr(layers, name)(*args, **kwargs).forward(xs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_maximum_sends_the_gradient_to_the_input_it_picked():
    layer = layers.Maximum()
    a, b = np.array([[1.0, 5.0, 2.0]]), np.array([[3.0, 4.0, 2.0]])
    np.testing.assert_array_equal(layer.forward([a, b]), [[3.0, 5.0, 2.0]])
    da, db = layer.backward(np.ones((1, 3)))
    np.testing.assert_array_equal(da, [[0.0, 1.0, 1.0]])  # a tie goes to the first input
    np.testing.assert_array_equal(db, [[1.0, 0.0, 0.0]])


def test_bad_arguments_name_what_was_expected():
    with pytest.raises(ValueError, match="RepeatVector n must be a positive integer, got 0"):
        layers.RepeatVector(0)
    with pytest.raises(ValueError, match=r"Permute dims must reorder 1..2, got \(1, 3\)"):
        layers.Permute((1, 3))
    with pytest.raises(ValueError, match="leaves no step of a sequence of 3"):
        layers.Cropping1D((2, 1)).forward(np.zeros((1, 3, 2)))
    with pytest.raises(ValueError, match="one shape along axes"):
        layers.Dot(1)([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(NotImplementedError, match="inputs of different ranks"):
        layers.Dot((2, 1))([np.zeros((2, 3, 4)), np.zeros((2, 4))])
    with pytest.raises(NotImplementedError, match="over the batch axis"):
        layers.Dot(0)([np.zeros((2, 3)), np.zeros((2, 3))])


PROGRAM_LAYERS = """
def build(keras, layers):
    tokens = keras.Input((6, 4))
    query = keras.Input((5,))
    steps = layers.Dense(5)(tokens)
    scores = layers.Dot(axes=(2, 2))([steps, layers.Reshape((1, 5))(layers.Dense(5)(query))])  # (N, 6, 1)
    repeated = layers.RepeatVector(6)(layers.Dense(4)(query))               # (N, 6, 4)
    both = layers.Maximum()([tokens, repeated])
    swapped = layers.Permute((2, 1))(layers.ZeroPadding1D((1, 1))(both))   # (N, 4, 8)
    cut = layers.Cropping1D((1, 0))(layers.UpSampling1D(2)(swapped))       # (N, 7, 8)
    cosine = layers.Dot(axes=1, normalize=True)([query, layers.Dense(5)(query)])
    joined = layers.Concatenate()([layers.Flatten()(cut), layers.Flatten()(scores), cosine])
    return keras.Model([tokens, query], layers.Dense(3)(joined))
"""


def test_a_model_of_these_layers_predicts_as_keras_with_its_weights(tmp_path):
    namespace: dict = {}
    exec(PROGRAM_LAYERS, namespace)
    mdl.seed(0)
    keras.backend.clear_session()
    ours = namespace["build"](keras, layers)
    rng = np.random.default_rng(4)
    xs = [rng.normal(size=(3, 6, 4)).astype(np.float32), rng.normal(size=(3, 5)).astype(np.float32)]
    assert ours.predict(xs, verbose=0).shape == (3, 3)
    ours.save(tmp_path / "m.keras")
    np.testing.assert_array_equal(
        keras.models.load_model(tmp_path / "m.keras").predict(xs, verbose=0), ours.predict(xs, verbose=0)
    )
    if not HAVE_KERAS:
        return
    real = real_keras()
    real.utils.set_random_seed(0)
    theirs = namespace["build"](real, real.layers)
    assert ours.count_params() == theirs.count_params()
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(
        ours.predict(xs, verbose=0), theirs.predict(xs, verbose=0), rtol=1e-4, atol=1e-5
    )
