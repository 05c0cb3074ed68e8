"""``keras.layers.TextVectorization`` and ``keras.layers.Normalization`` through the door.

TextVectorization's vocabulary order and ids follow Keras 3's rules (checked by hand on a
small corpus, and against Keras where its TextVectorization runs: it needs TensorFlow);
Normalization equals Keras 3's after ``adapt`` (PyTorch backend) and its backward passes the
finite-difference check in float64.
"""

import importlib.util
import os

import minidl_keras as keras
import numpy as np
import pytest
from minidl_keras import layers
from minidl_keras.missing import KerasFeatureMissing

import minidl as mdl
from minidl.nn.gradcheck import numerical_gradient, rel_error

HAVE_KERAS = importlib.util.find_spec("keras") is not None and importlib.util.find_spec("torch") is not None
HAVE_TF = importlib.util.find_spec("tensorflow") is not None

CORPUS = [
    "The cat sat on the mat.",
    "The dog ate my homework!",
    "A cat, a dog; THE end?",
    "Ünïcode Straße stays",
]
# counts: the 4; a, cat, dog 2; the rest 1. Ties by descending token (code points, as UTF-8
# bytes): "Ünïcode" (its Ü is not lower-cased: Keras lowers ASCII only) before "straße".
VOCABULARY = ["", "[UNK]", "the", "dog", "cat", "a", "Ünïcode", "straße", "stays", "sat", "on",
              "my", "mat", "homework", "end", "ate"]  # fmt: skip


def real_keras():
    if not HAVE_KERAS:
        pytest.skip("Keras 3 with the PyTorch backend is not installed")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras as real

    return real


def test_vocabulary_in_keras_order():
    vectorize = layers.TextVectorization()
    vectorize.adapt(CORPUS)
    assert vectorize.get_vocabulary() == VOCABULARY
    assert vectorize.get_vocabulary(include_special_tokens=False) == VOCABULARY[2:]
    assert vectorize.vocabulary_size() == 16


def test_ids_padding_truncation_and_unknown_tokens():
    vectorize = layers.TextVectorization(max_tokens=6, output_sequence_length=7)
    vectorize.adapt(np.array(CORPUS))
    assert vectorize.get_vocabulary() == VOCABULARY[:6]
    ids = vectorize(["The cat ate the dog!!", "a a a a a a a a a a"])
    np.testing.assert_array_equal(ids, [[2, 4, 1, 2, 3, 0, 0], [5] * 7])
    assert ids.dtype == np.int64
    ragged = layers.TextVectorization(vocabulary=["b", "a"])  # no length: the batch's longest row
    np.testing.assert_array_equal(ragged(np.array([["a b c"], ["b"]])), [[3, 2, 1], [2, 0, 0]])
    assert ragged.get_vocabulary() == ["", "[UNK]", "b", "a"]


def test_standardize_and_split_options():
    keep_case = layers.TextVectorization(standardize=None, split="whitespace")
    keep_case.adapt(["Hi hi, hi"])
    assert keep_case.get_vocabulary() == ["", "[UNK]", "hi,", "hi", "Hi"]
    characters = layers.TextVectorization(split="character")
    characters.adapt(["abba"])
    assert characters.get_vocabulary() == ["", "[UNK]", "b", "a"]
    with pytest.raises(KerasFeatureMissing, match="output_mode"):
        layers.TextVectorization(output_mode="tf_idf")
    with pytest.raises(ValueError, match="output_sequence_length must not be set"):
        layers.TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="expected strings of shape"):
        keep_case(np.array([["a", "b"]]))


def test_multi_hot_and_count_rows():
    """Keras's IndexLookup in these modes: no padding entry, "[UNK]" is column 0."""
    count = layers.TextVectorization(max_tokens=5, output_mode="count")
    count.adapt(CORPUS)
    assert count.get_vocabulary() == ["[UNK]", "the", "dog", "cat", "a"]
    rows = count(["the cat saw the cat", "dog dog homework"])
    np.testing.assert_array_equal(rows, [[1, 2, 0, 2, 0], [1, 0, 2, 0, 0]])
    assert rows.dtype == np.float32
    multi_hot = layers.TextVectorization(max_tokens=8, output_mode="multi_hot", pad_to_max_tokens=True)
    multi_hot.set_vocabulary(["the", "dog"])
    np.testing.assert_array_equal(multi_hot("The dog, the end"), [1, 1, 1, 0, 0, 0, 0, 0])
    inputs = keras.Input(shape=(1,), dtype="string")
    assert multi_hot(inputs).shape == (None, 8)


def test_ids_feed_a_model_as_keras_io_does():
    """keras.io's preprocessing-step use: vectorize the texts, then fit a model on the ids."""
    mdl.seed(0)
    vectorize = layers.TextVectorization(max_tokens=20, output_sequence_length=6)
    texts = ["good movie", "bad movie", "really good", "really bad"] * 8
    vectorize.adapt(texts)
    x, y = vectorize(texts), np.array([1, 0, 1, 0] * 8, dtype=np.float32)
    inputs = keras.Input(shape=(6,), dtype="int64")
    h = layers.GlobalAveragePooling1D()(layers.Embedding(20, 8)(inputs))
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(h))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05), loss="binary_crossentropy")
    history = model.fit(x, y, epochs=30, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_first_layer_of_a_model_on_string_inputs(tmp_path):
    """keras.io's end-to-end form: ``keras.Input(shape=(1,), dtype="string")`` into the layer."""
    mdl.seed(0)
    texts = np.array(["good movie", "bad movie", "really good", "really bad"] * 8)
    vectorize = layers.TextVectorization(max_tokens=20, output_sequence_length=6)
    vectorize.adapt(texts)
    inputs = keras.Input(shape=(1,), dtype="string")
    ids = vectorize(inputs)
    assert (ids.shape, ids.dtype, inputs.dtype) == ((None, 6), "int64", "string")
    h = layers.GlobalAveragePooling1D()(layers.Embedding(20, 8)(ids))
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(h))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05), loss="binary_crossentropy")
    y = np.array([1, 0, 1, 0] * 8, dtype=np.float32)
    history = model.fit(texts[:, None], y, epochs=30, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert model.count_params() == 20 * 8 + 8 + 1
    probe = np.array([["good"], ["bad"]])
    good, bad = model.predict(probe, verbose=0)[:, 0]
    assert good > 0.5 > bad
    model.save(tmp_path / "text.keras")
    loaded = keras.models.load_model(tmp_path / "text.keras")
    np.testing.assert_array_equal(loaded.predict(probe, verbose=0), model.predict(probe, verbose=0))
    with pytest.raises(TypeError, match="reads strings"):
        vectorize(keras.Input(shape=(1,)))


@pytest.mark.skipif(not HAVE_TF, reason="Keras's TextVectorization needs TensorFlow")
def test_same_vocabulary_and_ids_as_keras():
    real = real_keras()
    theirs = real.layers.TextVectorization(max_tokens=10, output_sequence_length=5)
    theirs.adapt(CORPUS)
    ours = layers.TextVectorization(max_tokens=10, output_sequence_length=5)
    ours.adapt(CORPUS)
    assert ours.get_vocabulary() == theirs.get_vocabulary()
    np.testing.assert_array_equal(ours(CORPUS), np.asarray(theirs(CORPUS)))


# ---------------------------------------------------------------------- Normalization
@pytest.mark.parametrize(
    "shape, axis", [((20, 5), -1), ((10, 4, 3), -1), ((10, 4, 3), (1, 2)), ((10, 4, 3), None)]
)
def test_normalization_as_keras(shape, axis):
    real = real_keras()
    x = (np.random.default_rng(0).normal(size=shape) * 3 + 2).astype(np.float32)
    theirs, ours = real.layers.Normalization(axis=axis), layers.Normalization(axis=axis)
    theirs.adapt(x)
    ours.adapt(x)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), atol=1e-6)
    for a, b in zip([ours.buffers[k] for k in ("mean", "variance", "count")], theirs.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-6)
    given = real.layers.Normalization(mean=[1, 2, 3], variance=[1, 4, 9], invert=True)
    np.testing.assert_allclose(
        layers.Normalization(mean=[1, 2, 3], variance=[1, 4, 9], invert=True)(x[..., -3:]),
        np.asarray(given(x[..., -3:])),
        atol=1e-6,
    )


@pytest.mark.parametrize("invert", [False, True])
def test_normalization_gradients(invert):
    x = np.random.default_rng(1).normal(size=(6, 4)) * 2 + 1
    layer = layers.Normalization(invert=invert)
    layer.adapt(x)
    for key in ("mean", "variance"):
        layer.buffers[key] = layer.buffers[key].astype(np.float64)
    dy = np.random.default_rng(2).normal(size=x.shape)

    def f():
        return layer.forward(x, training=True)

    y = f()
    if not invert:
        np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-6)
        np.testing.assert_allclose(y.std(axis=0), 1, atol=1e-6)
    assert rel_error(layer.backward(dy), numerical_gradient(f, x, dy)) < 1e-7


def test_normalization_in_a_model_has_keras_weights():
    x = np.random.default_rng(3).normal(size=(32, 3)).astype(np.float32) * 5
    norm = layers.Normalization()
    norm.adapt(x)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, layers.Dense(1)(norm(inputs)))
    assert [w.shape for w in model.get_weights()] == [(3,), (3,), (), (3, 1), (1,)]
    assert model.count_params() == 3 + 3 + 1 + 3 + 1
    model.compile(optimizer="sgd", loss="mse")
    before = norm.buffers["mean"].copy()
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    np.testing.assert_array_equal(norm.buffers["mean"], before)  # statistics are not trained
