"""Keras's masks and recurrent states through ``minidl_keras`` (issue 43).

* ``Embedding(mask_zero=True)`` and ``Masking`` make a mask that reaches SimpleRNN, LSTM, GRU,
  ``Bidirectional`` and ``GlobalAveragePooling1D`` through Dense, Dropout, Activation and
  TimeDistributed, in Sequential, functional and subclassed models;
* ``mask=`` and ``initial_state=`` on layer calls, ``return_state=True``, and the gradient
  into an initial state (an encoder's states feeding a decoder);
* every graph passes a float64 finite-difference check; outputs, the masked loss and one
  training step equal Keras 3's with the same weights (skipped without Keras).
"""

import warnings

import minidl_keras as keras
import numpy as np
import pytest
from minidl_keras import layers

import minidl as mdl
from minidl.nn.gradcheck import numerical_gradient, rel_error
from tests.keras.keras_oracle import real_keras as _real_keras
from tests.keras.test_functional import check_model_gradients

# right padding, left padding, a hole: every case Keras's loop handles
IDS = np.array([[3, 5, 2, 0, 0, 0], [0, 0, 4, 4, 1, 7], [6, 0, 2, 9, 0, 1]], dtype="int64")


def real_keras():
    real = _real_keras()
    warnings.simplefilter("ignore", DeprecationWarning)  # Keras on NumPy 2
    return real


def move_weights(ours, theirs):
    """Keras's weights into ours: they move unchanged (a GRU's too: ``minidl_keras.weights``)."""
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])


def text_model(K, cell="LSTM", bidirectional=False, pool=False, sequences=False):
    inputs = K.Input(shape=(None,), dtype="int64")
    x = K.layers.Embedding(10, 4, mask_zero=True)(inputs)
    rnn = getattr(K.layers, cell)(5, return_sequences=sequences or pool)
    x = (K.layers.Bidirectional(rnn) if bidirectional else rnn)(x)
    if pool:
        x = K.layers.GlobalAveragePooling1D()(x)
    if sequences and not pool:
        x = K.layers.Dropout(0.5)(K.layers.Dense(3)(x))
        return K.Model(inputs, K.layers.TimeDistributed(K.layers.Dense(2))(K.layers.Activation("tanh")(x)))
    return K.Model(inputs, K.layers.Dense(1, activation="sigmoid")(x))


CASES = [
    (cell, bidirectional, pool, sequences)
    for cell in ("SimpleRNN", "LSTM", "GRU")
    for bidirectional in (False, True)
    for pool, sequences in ((False, False), (True, False), (False, True))
]


def _case_id(case):
    cell, bidirectional, pool, sequences = case
    return f"{'Bi' if bidirectional else ''}{cell}-{'pool' if pool else 'seq' if sequences else 'last'}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_masked_models_equal_keras(case):
    real = real_keras()
    real.utils.set_random_seed(0)  # the same Keras weights whatever ran before in this process
    theirs = text_model(real, *case)
    mdl.seed(0)
    ours = text_model(keras, *case)
    move_weights(ours, theirs)
    for mine, other in zip(ours.get_weights(), theirs.get_weights(), strict=True):  # and back, unchanged
        np.testing.assert_array_equal(mine, np.asarray(other))
    np.testing.assert_allclose(ours.predict(IDS), theirs.predict(IDS, verbose=0), rtol=1e-5, atol=1e-6)
    unmasked = ours.predict(np.where(IDS == 0, 8, IDS))  # the mask matters: id 8 is not padding
    assert np.abs(unmasked - ours.predict(IDS)).max() > 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_masked_models_pass_gradient_checks(case):
    mdl.seed(0)
    model = text_model(keras, *case)
    model.predict(IDS)
    for leaf in model.leaf_layers():
        leaf.astype(np.float64)
    for layer in model.layers:
        if type(layer).__name__ == "Dropout":
            layer.rate = 0.0  # (the same mask each call is not what a finite difference needs)
    check_model_gradients(model, [IDS])


def _sequential(K, cell="LSTM"):
    return K.Sequential(
        [
            K.layers.Embedding(10, 4, mask_zero=True),
            K.layers.Bidirectional(getattr(K.layers, cell)(5, return_sequences=True)),
            K.layers.Dense(6, activation="relu"),
            K.layers.GlobalAveragePooling1D(),
            K.layers.Dense(1, activation="sigmoid"),
        ]
    )


def test_a_sequential_passes_the_mask_as_keras_does():
    real = real_keras()
    theirs = _sequential(real)
    theirs.build((None, 6))
    mdl.seed(0)
    ours = _sequential(keras)
    ours.predict(IDS)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(IDS), theirs.predict(IDS, verbose=0), rtol=1e-5, atol=1e-6)


def test_a_subclassed_model_passes_the_mask_and_states():
    real = real_keras()

    def make(K):
        class Encoder(K.Model):
            def __init__(self):
                super().__init__()
                self.embed = K.layers.Embedding(10, 4, mask_zero=True)
                self.rnn = K.layers.GRU(5, return_sequences=True, return_state=True)
                self.head = K.layers.Dense(2)

            def call(self, ids):
                x = self.embed(ids)
                sequence, state = self.rnn(x)
                return self.head(K.layers.GlobalAveragePooling1D()(sequence) + state)

        return Encoder()

    theirs = make(real)
    theirs(IDS)
    mdl.seed(0)
    ours = make(keras)
    ours.predict(IDS)
    move_weights(ours, theirs)
    np.testing.assert_allclose(ours.predict(IDS), theirs.predict(IDS, verbose=0), rtol=1e-5, atol=1e-6)


def test_masking_layer_equals_keras():
    real = real_keras()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    x[0, 3:] = 0.0
    x[2, :2] = 0.0

    def build(K):
        inputs = K.Input((5, 2))
        return K.Model(inputs, K.layers.LSTM(3)(K.layers.Masking(0.0)(inputs)))

    theirs = build(real)
    ours = build(keras)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    # float64 finite differences at the real steps (nudging a padding zero would unmask it)
    model = build(keras)
    x64 = x.astype(np.float64)
    model.predict(x64)
    for leaf in model.leaf_layers():
        leaf.astype(np.float64)
    r = rng.normal(size=(3, 3))
    model.forward(x64, training=True)
    dx = model.backward(r)
    assert np.all(dx[x == 0] == 0)
    real_steps = np.any(x != 0, axis=-1)

    def loss():
        return float((model.forward(x64, training=True) * r).sum())

    numeric = numerical_gradient(loss, x64)
    assert rel_error(dx[real_steps], numeric[real_steps]) < 1e-6
    lstm = model.layers[-1]
    analytic = {k: g.copy() for k, g in lstm.grads.items()}
    for key, p in lstm.params.items():
        assert rel_error(analytic[key], numerical_gradient(loss, p)) < 1e-6, key


def test_explicit_mask_and_initial_state_on_layer_calls_equal_keras():
    """``gru(x, mask=m)`` and ``lstm(x, initial_state=[h, c])``, symbolic and eager."""
    real = real_keras()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 6, 2)).astype("float32")
    mask = IDS != 0
    h, c = rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(3, 4)).astype("float32")

    def build(K):
        seq, m = K.Input((6, 2)), K.Input((6,), dtype="bool")
        h0, c0 = K.Input((4,)), K.Input((4,))
        a = K.layers.GRU(4, return_sequences=True)(seq, mask=m)
        b, hT, cT = K.layers.LSTM(4, return_state=True)(seq, initial_state=[h0, c0])
        return K.Model([seq, m, h0, c0], [a, K.layers.Concatenate()([b, hT, cT])])

    theirs = build(real)
    ours = build(keras)
    move_weights(ours, theirs)
    inputs = [x, mask, h, c]
    for mine, other in zip(ours.predict(inputs), theirs.predict(inputs, verbose=0)):
        np.testing.assert_allclose(mine, other, rtol=1e-5, atol=1e-6)
    # eager calls on arrays compute the same
    lstm = next(layer for layer in ours.layers if type(layer).__name__ == "LSTM")
    gru = next(layer for layer in ours.layers if type(layer).__name__ == "GRU")
    np.testing.assert_allclose(gru(x, mask=mask), ours.predict(inputs)[0], rtol=1e-6)
    y, hT, cT = lstm(x, initial_state=[h, c])
    np.testing.assert_allclose(np.concatenate([y, hT, cT], -1), ours.predict(inputs)[1], rtol=1e-6)


def seq2seq(K, latent=6, tokens=5):
    """keras.io's character-level seq2seq: the encoder's final states start the decoder."""
    encoder_inputs = K.Input(shape=(None, tokens))
    _, state_h, state_c = K.layers.LSTM(latent, return_state=True)(encoder_inputs)
    decoder_inputs = K.Input(shape=(None, tokens))
    decoder_outputs, _, _ = K.layers.LSTM(latent, return_sequences=True, return_state=True)(
        decoder_inputs, initial_state=[state_h, state_c]
    )
    decoder_outputs = K.layers.Dense(tokens, activation="softmax")(decoder_outputs)
    return K.Model([encoder_inputs, decoder_inputs], decoder_outputs)


def _seq2seq_data(n=12, steps=4, tokens=5, seed=0):
    rng = np.random.default_rng(seed)
    source = np.eye(tokens, dtype="float32")[rng.integers(0, tokens, size=(n, steps))]
    target = source[:, ::-1]  # learn to reverse
    decoder_in = np.concatenate([np.zeros_like(target[:, :1]), target[:, :-1]], axis=1)
    return source, decoder_in, target


@pytest.mark.slow
def test_seq2seq_states_carry_gradients_and_pass_a_gradient_check():
    mdl.seed(0)
    source, decoder_in, _ = _seq2seq_data()
    model = seq2seq(keras)
    xs = [source.astype(np.float64), decoder_in.astype(np.float64)]
    model.predict(xs)
    for leaf in model.leaf_layers():
        leaf.astype(np.float64)
    check_model_gradients(model, xs)
    encoder = next(layer for layer in model.layers if getattr(layer, "return_sequences", True) is False)
    assert np.abs(encoder.grads["Wx"]).max() > 0, "the encoder learns through the states"


def test_seq2seq_trains_like_keras():
    real = real_keras()
    source, decoder_in, target = _seq2seq_data()
    theirs = seq2seq(real)
    mdl.seed(0)
    ours = seq2seq(keras)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(
        ours.predict([source, decoder_in]),
        theirs.predict([source, decoder_in], verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )
    for model, K in ((ours, keras), (theirs, real)):
        model.compile(optimizer=K.optimizers.SGD(0.5), loss="categorical_crossentropy")
    ours_losses = [ours.train_on_batch([source, decoder_in], target) for _ in range(3)]
    theirs_losses = [float(theirs.train_on_batch([source, decoder_in], target)) for _ in range(3)]
    np.testing.assert_allclose(ours_losses, theirs_losses, rtol=1e-4)
    assert ours_losses[-1] < ours_losses[0]
    for mine, other in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, np.asarray(other), rtol=1e-4, atol=1e-5)


def _tagger(K):
    """A masked sequence output: the loss and the metrics average over the real steps."""
    inputs = K.Input(shape=(None,), dtype="int64")
    x = K.layers.Embedding(10, 4, mask_zero=True)(inputs)
    x = K.layers.LSTM(5, return_sequences=True)(x)
    return K.Model(inputs, K.layers.Dense(3, activation="softmax")(x))


def test_the_loss_of_a_masked_sequence_is_over_real_steps_as_keras():
    real = real_keras()
    tags = np.random.default_rng(2).integers(0, 3, size=IDS.shape)
    theirs = _tagger(real)
    mdl.seed(0)
    ours = _tagger(keras)
    ours.set_weights(theirs.get_weights())
    for model, K in ((ours, keras), (theirs, real)):
        model.compile(
            optimizer=K.optimizers.SGD(0.3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
    mine, other = ours.evaluate(IDS, tags, verbose=0), theirs.evaluate(IDS, tags, verbose=0)
    np.testing.assert_allclose(mine, other, rtol=1e-5)
    for _ in range(2):
        np.testing.assert_allclose(
            ours.train_on_batch(IDS, tags), [float(v) for v in theirs.train_on_batch(IDS, tags)], rtol=1e-5
        )  # [loss, accuracy] of the batch before the step, as Keras
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-6)


def test_a_layer_that_would_use_the_mask_differently_raises_and_droppers_warn():
    inputs = keras.Input(shape=(None,), dtype="int64")
    x = layers.Embedding(10, 4, mask_zero=True)(inputs)
    for layer in (layers.Softmax(), layers.Add()):
        model = keras.Model(inputs, layer(x) if isinstance(layer, layers.Softmax) else layer([x, x]))
        with pytest.raises(NotImplementedError, match="mask"):
            model.predict(IDS)
    pooled = keras.Model(inputs, layers.GlobalMaxPooling1D()(x))
    with pytest.warns(UserWarning, match="does not support masking"):
        y = pooled.predict(IDS)
    np.testing.assert_allclose(y, pooled.layers[1].forward(IDS).max(axis=1))  # padding counted, as Keras
    with pytest.raises(ValueError, match="sample 0 has no unmasked step"):
        keras.Model(inputs, layers.GlobalAveragePooling1D()(x)).predict(np.zeros((2, 3), "int64"))


def test_custom_layers_drop_the_mask_unless_they_support_masking():
    class Scale(keras.layers.Layer):
        def call(self, x):
            return x * 2.0

    class ScaleKeepingMask(Scale):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

    inputs = keras.Input(shape=(None,), dtype="int64")
    embedded = layers.Embedding(10, 4, mask_zero=True)(inputs)
    kept = keras.Model(inputs, layers.LSTM(3)(ScaleKeepingMask()(embedded)))
    dropped = keras.Model(inputs, layers.LSTM(3)(Scale()(embedded)))
    dropped.set_weights(kept.get_weights())
    with pytest.warns(UserWarning, match="does not support masking"):
        unmasked = dropped.predict(IDS)
    masked = kept.predict(IDS)
    np.testing.assert_allclose(masked[1], kept.predict(IDS[1:2, 2:])[0], rtol=1e-6)  # padding skipped
    assert np.abs(masked - unmasked).max() > 1e-4  # the dropped mask: padding read as words


def test_masked_models_save_and_load_and_state_passing_ones_say_they_do_not(tmp_path):
    mdl.seed(0)
    sequential = keras.Sequential(
        [layers.Embedding(10, 4, mask_zero=True), layers.LSTM(5), layers.Dense(1, activation="sigmoid")]
    )
    sequential.compile("adam", "binary_crossentropy")
    sequential.predict(IDS)
    sequential.save(tmp_path / "s.keras")
    loaded = keras.models.load_model(tmp_path / "s.keras")
    np.testing.assert_array_equal(loaded.predict(IDS), sequential.predict(IDS))
    functional = text_model(keras, "GRU", bidirectional=False, pool=True)
    functional.save(tmp_path / "f.keras")
    loaded = keras.models.load_model(tmp_path / "f.keras")
    np.testing.assert_array_equal(loaded.predict(IDS), functional.predict(IDS))
    with pytest.raises(NotImplementedError, match="initial_state"):
        seq2seq(keras).save(tmp_path / "seq2seq.keras")


def test_bidirectional_with_a_given_backward_layer_equals_keras():
    real = real_keras()

    def build(K):
        inputs = K.Input(shape=(None,), dtype="int64")
        x = K.layers.Embedding(10, 4, mask_zero=True)(inputs)
        x = K.layers.Bidirectional(
            K.layers.LSTM(5, return_sequences=True),
            backward_layer=K.layers.GRU(5, return_sequences=True, go_backwards=True),
            merge_mode="sum",
        )(x)
        return K.Model(inputs, K.layers.GlobalAveragePooling1D()(x))

    theirs = build(real)
    mdl.seed(0)
    ours = build(keras)
    move_weights(ours, theirs)
    np.testing.assert_allclose(ours.predict(IDS), theirs.predict(IDS, verbose=0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="go_backwards"):
        layers.Bidirectional(layers.LSTM(5), backward_layer=layers.LSTM(5))


@pytest.mark.slow
def test_a_subclassed_encoder_decoder_passes_states_and_a_gradient_check():
    class Seq2Seq(keras.Model):
        def __init__(self):
            super().__init__()
            self.embed = layers.Embedding(10, 4, mask_zero=True)
            self.encoder = layers.GRU(6, return_state=True)
            self.decoder = layers.LSTM(6, return_sequences=True)
            self.head = layers.Dense(3)

        def call(self, inputs):
            source, target = inputs
            _, state = self.encoder(self.embed(source))
            return self.head(self.decoder(target, initial_state=[state, state]))

    mdl.seed(0)
    model = Seq2Seq()
    target = np.random.default_rng(3).normal(size=(3, 4, 2))
    model.predict([IDS, target])
    for leaf in model.leaf_layers():
        leaf.astype(np.float64)
    check_model_gradients(model, [IDS, target])
    assert np.abs(model.encoder.grads["Wx"]).max() > 0


def test_a_masked_bidirectional_returns_both_directions_states_as_keras():
    real = real_keras()

    def build(K):
        inputs = K.Input(shape=(None,), dtype="int64")
        x = K.layers.Embedding(10, 4, mask_zero=True)(inputs)
        y, *states = K.layers.Bidirectional(K.layers.LSTM(5, return_state=True))(x)
        return K.Model(inputs, K.layers.Concatenate()([y, *states]))

    theirs = build(real)
    mdl.seed(0)
    ours = build(keras)
    move_weights(ours, theirs)
    np.testing.assert_allclose(ours.predict(IDS), theirs.predict(IDS, verbose=0), rtol=1e-5, atol=1e-6)
    model = build(keras)
    model.predict(IDS)
    for leaf in model.leaf_layers():
        leaf.astype(np.float64)
    check_model_gradients(model, [IDS])


def test_a_bidirectional_initial_state_is_split_between_the_directions_as_keras():
    """Keras 3 splits the states half and half, and (a call with several tensor arguments)
    gives the layer no implicit mask: pass mask= to use one."""
    real = real_keras()
    rng = np.random.default_rng(4)
    states = [rng.normal(size=(3, 5)).astype("float32") for _ in range(4)]

    def build(K):
        inputs = K.Input(shape=(None,), dtype="int64")
        given = [K.Input((5,)) for _ in range(4)]
        x = K.layers.Embedding(10, 4, mask_zero=True)(inputs)
        y = K.layers.Bidirectional(K.layers.LSTM(5, return_sequences=True))(x, initial_state=given)
        explicit = K.layers.LSTM(5, return_sequences=True)(
            x, initial_state=given[:2], mask=K.ops.not_equal(inputs, 0)
        )
        return K.Model([inputs, *given], [K.layers.GlobalAveragePooling1D()(y), explicit])

    theirs = build(real)
    mdl.seed(0)
    ours = build(keras)
    move_weights(ours, theirs)
    xs = [IDS, *states]
    with pytest.warns(UserWarning, match="does not use that mask"):  # Keras 3's rule, kept
        mine = ours.predict(xs)
    for a, b in zip(mine, theirs.predict(xs, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    model = build(keras)
    xs64 = [IDS, *(s.astype(np.float64) for s in states)]
    model.predict(xs64)
    for leaf in model.leaf_layers():
        leaf.astype(np.float64)
    check_model_gradients(model, xs64)  # the four states' gradients included


def test_a_masked_output_among_several_has_its_loss_over_real_steps_as_keras():
    real = real_keras()
    rng = np.random.default_rng(5)
    tags, labels = rng.integers(0, 3, size=IDS.shape), rng.integers(0, 2, size=(3, 1)).astype("float32")

    def build(K):
        inputs = K.Input(shape=(None,), dtype="int64")
        x = K.layers.Embedding(10, 4, mask_zero=True)(inputs)
        sequence = K.layers.LSTM(5, return_sequences=True)(x)
        tagged = K.layers.Dense(3, activation="softmax", name="tags")(sequence)
        label = K.layers.Dense(1, activation="sigmoid", name="label")(
            K.layers.GlobalAveragePooling1D()(sequence)
        )
        model = K.Model(inputs, [tagged, label])
        model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "binary_crossentropy"])
        return model

    theirs = build(real)
    mdl.seed(0)
    ours = build(keras)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(
        ours.evaluate(IDS, [tags, labels], verbose=0),
        theirs.evaluate(IDS, [tags, labels], verbose=0),
        rtol=1e-5,
    )
    ours.compile(
        optimizer="sgd",
        loss=["sparse_categorical_crossentropy", "binary_crossentropy"],
        metrics=[["accuracy"], []],
    )
    with pytest.raises(NotImplementedError, match="one of them masked"):
        ours.evaluate(IDS, [tags, labels], verbose=0)
