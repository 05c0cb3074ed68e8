"""``keras.layers.MultiHeadAttention`` through the door: chapter 13's layer under Keras's call
and weight layout. Gradients are checked in float64 in every way of calling it (self-,
cross-attention, a separate key, masks, Keras's causal mask with Tq != Tk, dropout with its
mask held fixed); where Keras 3 (PyTorch backend) is installed, the outputs and attention
scores equal Keras's after ``set_weights``, eagerly and inside a functional model.
"""

import minidl_keras as keras
import numpy as np
import pytest
from minidl_keras import layers, ops
from minidl_keras.missing import KerasFeatureMissing

import minidl as mdl
from minidl.nn.gradcheck import numerical_gradient, rel_error
from tests.keras.keras_oracle import real_keras

TOL = 1e-6


def _inputs(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    query = rng.standard_normal((2, 4, 6)).astype(dtype)
    value = rng.standard_normal((2, 5, 3)).astype(dtype)
    key = rng.standard_normal((2, 5, 7)).astype(dtype)
    mask = rng.random((2, 4, 5)) > 0.3
    return query, value, key, mask


CALLS = {
    "self": lambda q, v, k, m: ((q, q), {}),
    "cross": lambda q, v, k, m: ((q, v), {}),
    "separate key": lambda q, v, k, m: ((q, v, k), {}),
    "mask and causal, Tq != Tk": lambda q, v, k, m: ((q, v), {"attention_mask": m, "use_causal_mask": True}),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_gradients_of_every_call(call):
    mdl.seed(0)
    query, value, key, mask = _inputs()
    args, kwargs = CALLS[call](query, value, key, mask)
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, output_shape=5)
    mha(*args, **kwargs)
    mha.astype(np.float64)
    dy = np.random.default_rng(1).standard_normal((2, 4, 5))

    def f():
        return mha(*args, **kwargs)

    f()
    grads = mha.backward(dy)
    inputs = [query] if args[1] is query else list(args)
    grads = grads[: len(inputs)]
    for x, analytic in zip(inputs, grads):
        assert rel_error(analytic, numerical_gradient(f, x, dy)) < TOL
    for name, w in mha.params.items():
        if name != "bk":  # zero by construction: softmax ignores a constant added to a row
            assert rel_error(mha.grads[name], numerical_gradient(f, w, dy)) < TOL, name


def test_dropout_on_the_weights_gradients_and_inference():
    query, value, _, _ = _inputs(2)
    mha = layers.MultiHeadAttention(2, 3, dropout=0.5)
    mha(query, value)
    mha.astype(np.float64)
    dy = np.random.default_rng(3).standard_normal((2, 4, 6))

    def f():
        mdl.seed(7)  # the same dropout mask on every call
        return mha(query, value, training=True)

    y = f()
    d_query, d_value = mha.backward(dy)
    assert rel_error(d_query, numerical_gradient(f, query, dy)) < TOL
    assert rel_error(d_value, numerical_gradient(f, value, dy)) < TOL
    assert rel_error(mha.grads["Wv"], numerical_gradient(f, mha.params["Wv"], dy)) < TOL
    inference = mha(query, value)
    assert not np.allclose(y, inference), "dropout acts in training"
    np.testing.assert_array_equal(inference, mha(query, value, training=False))


def test_keras_layout_of_the_weights():
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, output_shape=5)
    query, value, key, _ = _inputs(dtype=np.float32)
    mha(query, value, key)
    shapes = [w.shape for w in mha.get_weights()]
    assert shapes == [(6, 2, 3), (2, 3), (7, 2, 3), (2, 3), (3, 2, 4), (2, 4), (2, 4, 5), (5,)]
    weights = [np.random.default_rng(i).standard_normal(s).astype(np.float32) for i, s in enumerate(shapes)]
    mha.set_weights(weights)
    np.testing.assert_array_equal(mha.params["Wq"], weights[0].reshape(6, 6))
    np.testing.assert_array_equal(mha.params["Wo"], weights[6].reshape(8, 5))
    for ours, given in zip(mha.get_weights(), weights):
        np.testing.assert_array_equal(ours, given)
    with pytest.raises(ValueError, match="set_weights"):
        mha.set_weights(weights[:-1])


@pytest.mark.parametrize("call", list(CALLS))
def test_same_outputs_and_scores_as_keras(call):
    real = real_keras()
    query, value, key, mask = _inputs(dtype=np.float32)
    args, kwargs = CALLS[call](query, value, key, mask)
    theirs = real.layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, output_shape=5)
    ours = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, output_shape=5)
    y_theirs, scores_theirs = theirs(*args, **kwargs, return_attention_scores=True)
    ours(*args, **kwargs)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    y, scores = ours(*args, **kwargs, return_attention_scores=True)
    np.testing.assert_allclose(y, y_theirs.detach().numpy(), atol=2e-6)
    np.testing.assert_allclose(scores, scores_theirs.detach().numpy(), atol=1e-6)


CROSS_ATTENTION = """
import numpy as np
import keras
from keras import layers

tokens = keras.Input(shape=(4, 6))
memory = keras.Input(shape=(5, 3))
mask = keras.Input(shape=(4, 5), dtype="bool")
x = layers.MultiHeadAttention(num_heads=2, key_dim=3)(tokens, memory, attention_mask=mask, use_causal_mask=True)
x = layers.LayerNormalization()(x + tokens)
outputs = layers.Dense(1)(layers.GlobalAveragePooling1D()(x))
model = keras.Model([tokens, memory, mask], outputs)
model.compile(optimizer="adam", loss="mse")
"""


def test_cross_attention_in_a_functional_model_as_keras():
    real = real_keras()
    ns_theirs: dict = {}
    exec(CROSS_ATTENTION, ns_theirs)
    ns: dict = {}
    exec(CROSS_ATTENTION.replace("import keras\n", "import minidl_keras as keras\n").replace(
        "from keras import", "from minidl_keras import"), ns)  # fmt: skip
    assert ns["model"].count_params() == ns_theirs["model"].count_params()
    ns["model"].set_weights(ns_theirs["model"].get_weights())
    query, value, _, mask = _inputs(4, np.float32)
    mask[:, :, 0] = True
    xs = [query, value, mask]
    np.testing.assert_allclose(
        ns["model"].predict(xs, verbose=0), ns_theirs["model"].predict(xs, verbose=0), atol=2e-6
    )
    y = np.ones((2, 1), np.float32)
    assert ns["model"].evaluate(xs, y, verbose=0) == pytest.approx(
        ns_theirs["model"].evaluate(xs, y, verbose=0), rel=1e-5
    )
    assert real.__version__.startswith("3")


def test_a_functional_model_backpropagates_to_both_sequences():
    mdl.seed(0)
    tokens, memory = keras.Input((4, 6)), keras.Input((5, 3))
    y = layers.MultiHeadAttention(2, 3)(tokens, memory, use_causal_mask=True)
    model = keras.Model([tokens, memory], y)
    query, value, _, _ = _inputs()
    model.forward([query.astype(np.float32), value.astype(np.float32)])
    for layer in model.leaf_layers():
        layer.astype(np.float64)
    dy = np.random.default_rng(5).standard_normal((2, 4, 6))

    def f():
        return model.forward([query, value])

    f()
    d_query, d_value = model.backward(dy)
    assert rel_error(d_query, numerical_gradient(f, query, dy)) < TOL
    assert rel_error(d_value, numerical_gradient(f, value, dy)) < TOL


class PositionEmbedding(layers.Layer):
    def __init__(self, maxlen, dim):
        super().__init__()
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=dim)

    def call(self, x):
        positions = ops.arange(start=0, stop=ops.shape(x)[1], step=1)
        return x + self.pos_emb(positions)


def test_a_position_embedding_of_ops_arange_trains():
    """``ops.arange`` inside a recorded ``call`` is a graph constant: the embedding applied to
    it is a node of the graph (trained), not a number computed once."""
    mdl.seed(0)
    inputs = keras.Input((5, 4))
    model = keras.Model(inputs, layers.Dense(1)(PositionEmbedding(5, 4)(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    table = model.layers[1].pos_emb.params["W"]
    before = table.copy()
    x = np.random.default_rng(0).standard_normal((8, 5, 4)).astype(np.float32)
    model.train_on_batch(x, np.ones((8, 5, 1), np.float32))
    assert not np.allclose(table, before)
    assert isinstance(ops.arange(3), np.ndarray) and ops.arange(3).dtype == np.int32


def test_what_is_not_here_says_so():
    tokens = keras.Input((4, 6))
    mha = layers.MultiHeadAttention(2, 3)
    with pytest.raises(KerasFeatureMissing, match="return_attention_scores"):
        mha(tokens, tokens, return_attention_scores=True)
    with pytest.raises(KerasFeatureMissing, match="attention_mask"):
        mha(tokens, tokens, query_mask=tokens)
    with pytest.raises(KerasFeatureMissing, match="attention_axes"):
        layers.MultiHeadAttention(2, 3, attention_axes=(1, 2))
    with pytest.raises(ValueError, match="dropout"):
        layers.MultiHeadAttention(2, 3, dropout=1.5)


def test_a_functional_model_with_attention_saves_and_loads(tmp_path):
    mdl.seed(0)
    tokens, memory = keras.Input((4, 6)), keras.Input((5, 3))
    y = layers.MultiHeadAttention(2, 3, value_dim=2)(tokens, memory, use_causal_mask=True)
    model = keras.Model([tokens, memory], layers.Dense(1)(y))
    query, value, _, _ = _inputs(dtype=np.float32)
    expected = model.predict([query, value], verbose=0)
    model.save(tmp_path / "attention.keras")
    loaded = keras.models.load_model(tmp_path / "attention.keras")
    np.testing.assert_array_equal(loaded.predict([query, value], verbose=0), expected)
    assert [w.shape for w in loaded.get_weights()] == [w.shape for w in model.get_weights()]


# ---------------------------------------------------------------------- keras.layers.Attention
def _attention_inputs(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    query = rng.standard_normal((2, 4, 5)).astype(dtype)
    value = rng.standard_normal((2, 6, 3)).astype(dtype)
    key = rng.standard_normal((2, 6, 5)).astype(dtype)
    value_mask = rng.random((2, 6)) > 0.3
    value_mask[:, 0] = True
    query_mask = np.array([[True, False, True, True], [True, True, True, False]])
    return query, value, key, [query_mask, value_mask]


ATTENTION_CALLS = {
    "[query, value]": lambda q, v, k, m: ([q, k], {}),
    "[query, value, key]": lambda q, v, k, m: ([q, v, k], {}),
    "causal": lambda q, v, k, m: ([q, v, k], {"use_causal_mask": True}),
    "masks": lambda q, v, k, m: ([q, v, k], {"mask": m}),
}


@pytest.mark.parametrize("use_scale", [False, True])
@pytest.mark.parametrize("call", list(ATTENTION_CALLS))
def test_attention_gradients(call, use_scale):
    query, value, key, mask = _attention_inputs()
    inputs, kwargs = ATTENTION_CALLS[call](query, value, key, mask)
    layer = layers.Attention(use_scale=use_scale, dropout=0.3)
    layer(inputs, **kwargs)
    layer.astype(np.float64)
    if use_scale:
        layer.params["scale"][...] = 0.7
    dy = np.random.default_rng(1).standard_normal((2, 4, inputs[1].shape[-1]))

    def f():
        mdl.seed(5)  # the same dropout mask on every call
        return layer(inputs, training=True, **kwargs)

    f()
    grads = layer.backward(dy)
    for x, analytic in zip(inputs, grads):
        assert rel_error(analytic, numerical_gradient(f, x, dy)) < TOL
    if use_scale:
        numeric = numerical_gradient(f, layer.params["scale"].reshape(1), dy)  # a view: perturbs the scale
        assert rel_error(layer.grads["scale"].reshape(1), numeric) < TOL


@pytest.mark.parametrize("call", list(ATTENTION_CALLS))
def test_attention_as_keras(call):
    real = real_keras()
    query, value, key, mask = _attention_inputs(dtype=np.float32)
    inputs, kwargs = ATTENTION_CALLS[call](query, value, key, mask)
    theirs, ours = real.layers.Attention(use_scale=True), layers.Attention(use_scale=True)
    theirs(inputs, **kwargs)
    theirs.set_weights([np.array(0.7, np.float32)])
    ours(inputs, **kwargs)
    ours.params["scale"][...] = 0.7
    y_theirs, scores_theirs = theirs(inputs, return_attention_scores=True, **kwargs)
    y, scores = ours(inputs, return_attention_scores=True, **kwargs)
    np.testing.assert_allclose(y, y_theirs.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(scores, scores_theirs.detach().numpy(), atol=1e-6)


def test_attention_in_a_functional_model():
    mdl.seed(0)
    tokens, memory = keras.Input((4, 5)), keras.Input((6, 5))
    attended = layers.Attention(use_scale=True)([tokens, memory], use_causal_mask=True)
    model = keras.Model([tokens, memory], layers.Dense(1)(layers.GlobalAveragePooling1D()(attended)))
    assert model.count_params() == 1 + 5 + 1
    query, _, key, _ = _attention_inputs(dtype=np.float32)
    model.compile(optimizer="sgd", loss="mse")
    before = model.layers[2].params["scale"].copy()
    model.fit([query, key], np.ones((2, 1), np.float32), epochs=2, verbose=0)
    assert model.layers[2].params["scale"] != before
    with pytest.raises(KerasFeatureMissing, match="mask"):
        layers.Attention()([tokens, memory], mask=[None, None])
    with pytest.raises(KerasFeatureMissing, match="score_mode"):
        layers.Attention(score_mode="concat")


class TinyTransformerBlock(layers.Layer):
    """keras.io's TransformerBlock (no dropout): attention, a held keras.Sequential, two norms."""

    def __init__(self, embed_dim, num_heads, ff_dim):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)

    def call(self, inputs):
        out1 = self.layernorm1(inputs + self.att(inputs, inputs))
        return self.layernorm2(out1 + self.ffn(out1))


@pytest.mark.slow
def test_gradients_through_a_transformer_block_of_custom_layers():
    """Every weight of the block -- the attention's, the held Sequential's (trained since this
    change), the norms' -- and the input get finite-difference gradients through the tape."""
    mdl.seed(0)
    inputs = keras.Input((4, 6))
    model = keras.Model(inputs, PositionEmbedding(4, 6)(TinyTransformerBlock(6, 2, 5)(inputs)))
    x = np.random.default_rng(0).standard_normal((2, 4, 6))
    model.forward(x.astype(np.float32))
    for layer in model.leaf_layers():
        layer.astype(np.float64)
    block = model.layers[1]
    assert [key for key in block.params if key.startswith("ffn.")] == [
        "ffn.0.W",
        "ffn.0.b",
        "ffn.1.W",
        "ffn.1.b",
    ]
    dy = np.random.default_rng(1).standard_normal((2, 4, 6))

    def f():
        return model.forward(x)

    f()
    dx = model.backward(dy)
    assert rel_error(dx, numerical_gradient(f, x, dy)) < TOL
    checked = 0
    for layer in model.leaf_layers():
        for key, w in layer.params.items():
            if key.endswith("bk"):
                continue  # zero by construction
            assert rel_error(layer.grads[key], numerical_gradient(f, w, dy)) < TOL, key
            checked += 1
    assert checked == 8 - 1 + 4 + 4 + 1  # attention (less bk), ffn, two norms, positions


def test_output_shape_of_one_axis_as_keras_spells_it_and_more_axes_refused():
    query = _inputs()[0]
    as_int = layers.MultiHeadAttention(num_heads=2, key_dim=3, output_shape=5)
    as_tuple = layers.MultiHeadAttention(num_heads=2, key_dim=3, output_shape=(5,))
    expected = as_int(query, query)
    as_tuple(query, query)
    as_tuple.set_weights(as_int.get_weights())
    assert expected.shape == (2, 4, 5)
    np.testing.assert_array_equal(as_tuple(query, query), expected)
    with pytest.raises(KerasFeatureMissing, match=r"output_shape=\(2, 3\)\) of more than one axis"):
        layers.MultiHeadAttention(num_heads=2, key_dim=3, output_shape=[2, 3])
