"""keras.io-style programs that use the functional API, shared layers, skip connections,
subclassed models and custom layers, run through ``minidl_keras`` with only their imports
changed -- and, where Keras 3 is installed (PyTorch backend), run in Keras as written, to
check that both report the same parameter counts and the same names in ``history``.

The programs follow keras.io's "The Functional API" guide (the ticket classifier with three
inputs and two outputs, the toy ResNet, shared layers), "Making new layers and models via
subclassing" (``Linear``, ``MLPBlock``), "Bidirectional LSTM on IMDB", "Text classification
with Transformer" and "Image classification from scratch" (augmentation layers), at a small size.
"""

import re
import textwrap

import minidl_keras
import numpy as np
import pytest

import minidl as mdl
from tests.keras.keras_oracle import HAVE_KERAS, real_keras

pytestmark = pytest.mark.slow  # whole programs trained in minidl and in Keras: make test, not make test-unit


@pytest.fixture
def channels_last():
    previous = minidl_keras.config.image_data_format()
    minidl_keras.config.set_image_data_format("channels_last")
    yield
    minidl_keras.config.set_image_data_format(previous)


def as_minidl(source: str) -> str:
    source = re.sub(r"^(\s*)import keras$", r"\1import minidl_keras as keras", source, flags=re.M)
    return re.sub(r"^(\s*)from keras(\.| )", r"\1from minidl_keras\2", source, flags=re.M)


def run(source: str, real: bool = False) -> dict:
    """Execute a program; ``real=True`` runs it in Keras 3 as written (skipped without Keras)."""
    source = textwrap.dedent(source)
    # A program starts as a script does: no names made before it (Keras counts unnamed layers
    # and metrics per process: an `AUC()` made by an earlier test would make this one "auc_2")
    if real:
        real_keras().backend.clear_session()
        real_keras().utils.set_random_seed(0)
    else:
        source = as_minidl(source)
        minidl_keras.backend.clear_session()
        mdl.seed(0)
    namespace: dict = {}
    exec(compile(source, "<keras program>", "exec"), namespace)
    return namespace


def same_report(source, keys=("params", "names"), loss_falls_to=1.0):
    """Run in minidl, which must train (its last epoch's loss below ``loss_falls_to`` times its
    first's), and, where installed, in Keras: the same counts and log names."""
    ours = run(source)
    losses = ours["history"].history["loss"]
    assert losses[-1] < loss_falls_to * losses[0], losses
    if HAVE_KERAS:
        theirs = run(source, real=True)
        for key in keys:
            assert ours[key] == theirs[key], key
    return ours


TICKETS = """
import numpy as np
import keras
from keras import layers

num_tags = 12  # Number of unique issue tags
num_words = 100  # Size of vocabulary obtained when preprocessing text data
num_departments = 4  # Number of departments for predictions

title_input = keras.Input(shape=(None,), name="title", dtype="int32")  # Variable-length sequence of ints
body_input = keras.Input(shape=(None,), name="body", dtype="int32")  # Variable-length sequence of ints
tags_input = keras.Input(shape=(num_tags,), name="tags")  # Binary vectors of size `num_tags`

# Embed each word in the title into a 16-dimensional vector
title_features = layers.Embedding(num_words, 16)(title_input)
# Embed each word in the text into a 16-dimensional vector
body_features = layers.Embedding(num_words, 16)(body_input)

# Reduce sequence of embedded words in the title into a single 32-dimensional vector
title_features = layers.LSTM(32)(title_features)
# Reduce sequence of embedded words in the body into a single 8-dimensional vector
body_features = layers.LSTM(8)(body_features)

# Merge all available features into a single large vector via concatenation
x = layers.concatenate([title_features, body_features, tags_input])

# Stick a logistic regression for priority prediction on top of the features
priority_pred = layers.Dense(1, name="priority")(x)
# Stick a department classifier on top of the features
department_pred = layers.Dense(num_departments, name="department")(x)

# Instantiate an end-to-end model predicting both priority and department
model = keras.Model(
    inputs=[title_input, body_input, tags_input],
    outputs={"priority": priority_pred, "department": department_pred},
)

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "priority": keras.losses.BinaryCrossentropy(from_logits=True),
        "department": keras.losses.CategoricalCrossentropy(from_logits=True),
    },
    loss_weights={"priority": 1.0, "department": 0.2},
)

# Dummy input data
rng = np.random.default_rng(0)
title_data = rng.integers(0, num_words, size=(128, 10))
body_data = rng.integers(0, num_words, size=(128, 20))
tags_data = rng.integers(0, 2, size=(128, num_tags)).astype("float32")

# Dummy target data
priority_targets = (tags_data[:, :1] > 0.5).astype("float32")
department_targets = keras.utils.to_categorical(tags_data[:, 1:3].sum(axis=1), num_departments)

history = model.fit(
    {"title": title_data, "body": body_data, "tags": tags_data},
    {"priority": priority_targets, "department": department_targets},
    epochs=3,
    batch_size=32,
    verbose=0,
)
params = model.count_params()
names = sorted(history.history)
"""


def test_ticket_classifier_three_inputs_two_outputs():
    ns = same_report(TICKETS)
    predictions = ns["model"].predict(
        {"title": ns["title_data"], "body": ns["body_data"], "tags": ns["tags_data"]}
    )
    assert [p.shape for p in predictions] == [(128, 1), (128, 4)]


TOY_RESNET = """
import numpy as np
import keras
from keras import layers

inputs = keras.Input(shape=(16, 16, 3), name="img")
x = layers.Conv2D(8, 3, activation="relu")(inputs)
x = layers.Conv2D(16, 3, activation="relu")(x)
block_1_output = layers.MaxPooling2D(2)(x)

x = layers.Conv2D(16, 3, activation="relu", padding="same")(block_1_output)
x = layers.Conv2D(16, 3, activation="relu", padding="same")(x)
block_2_output = layers.add([x, block_1_output])

x = layers.Conv2D(16, 3, activation="relu", padding="same")(block_2_output)
x = layers.Conv2D(16, 3, activation="relu", padding="same")(x)
block_3_output = layers.add([x, block_2_output])

x = layers.Conv2D(16, 3, activation="relu")(block_3_output)
x = layers.GlobalAveragePooling2D()(x)
x = layers.Dense(32, activation="relu")(x)
x = layers.Dropout(0.5)(x)
outputs = layers.Dense(2)(x)

model = keras.Model(inputs, outputs, name="toy_resnet")

rng = np.random.default_rng(0)
x_train = rng.uniform(size=(96, 16, 16, 3)).astype("float32")
y_train = (x_train[:, :8].mean(axis=(1, 2, 3)) > x_train[:, 8:].mean(axis=(1, 2, 3))).astype("int64")
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["acc"],
)
history = model.fit(x_train, y_train, batch_size=32, epochs=2, validation_split=0.25, verbose=0)
params = model.count_params()
names = sorted(history.history)
layer_count = len(model.layers)
"""


def test_toy_resnet_with_skip_connections(channels_last):
    ns = same_report(TOY_RESNET, keys=("params", "names", "layer_count"))
    assert ns["layer_count"] == 15  # the input, 7 convolutions, 2 pools, 2 adds, 2 dense, dropout


SHARED = """
import numpy as np
import keras
from keras import layers

# Embedding for 100 unique words mapped to 8-dimensional vectors
shared_embedding = layers.Embedding(100, 8)
shared_lstm = layers.LSTM(16)

# Variable-length sequence of integers
text_input_a = keras.Input(shape=(None,), dtype="int32")
# Variable-length sequence of integers
text_input_b = keras.Input(shape=(None,), dtype="int32")

# Reuse the same layers to encode both inputs
encoded_a = shared_lstm(shared_embedding(text_input_a))
encoded_b = shared_lstm(shared_embedding(text_input_b))
difference = layers.Subtract()([encoded_a, encoded_b])
outputs = layers.Dense(1, activation="sigmoid")(layers.Multiply()([difference, difference]))
model = keras.Model([text_input_a, text_input_b], outputs)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

rng = np.random.default_rng(0)
a = rng.integers(0, 100, size=(64, 6))
b = np.where(rng.uniform(size=(64, 1)) < 0.5, a, rng.integers(0, 100, size=(64, 6)))
same = (a == b).all(axis=1).astype("float32")
history = model.fit([a, b], 1 - same, batch_size=16, epochs=3, verbose=0)
params = model.count_params()
names = sorted(history.history)
"""


def test_shared_embedding_and_lstm_over_two_inputs():
    ns = same_report(SHARED)
    model = ns["model"]
    # the shared layers appear once
    assert [type(layer).__name__ for layer in model.layers].count("LSTM") == 1


SUBCLASSING = """
import numpy as np
import keras
from keras import layers, ops


class Linear(keras.layers.Layer):
    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer="random_normal",
            trainable=True,
        )
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


class MLPBlock(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.linear_1 = Linear(32)
        self.linear_2 = Linear(32)
        self.linear_3 = Linear(1)

    def call(self, inputs):
        x = self.linear_1(inputs)
        x = keras.activations.relu(x)
        x = self.linear_2(x)
        x = keras.activations.relu(x)
        return self.linear_3(x)


class Regressor(keras.Model):
    def __init__(self):
        super().__init__()
        self.block = MLPBlock()
        self.scale = layers.Dense(1, use_bias=False)

    def call(self, inputs, training=False):
        return self.block(inputs) + self.scale(inputs)


rng = np.random.default_rng(0)
x = rng.normal(size=(256, 4)).astype("float32")
y = (np.sin(x[:, :1]) + x[:, 1:2] ** 2).astype("float32")
model = Regressor()
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
history = model.fit(x, y, batch_size=32, epochs=8, verbose=0)
params = model.count_params()
names = sorted(history.history)
"""


def test_subclassed_model_of_custom_layers():
    ns = same_report(SUBCLASSING, loss_falls_to=0.5)
    assert ns["params"] == (4 * 32 + 32) + (32 * 32 + 32) + (32 + 1) + 4


BIDIRECTIONAL_IMDB = """
import numpy as np
import keras
from keras import layers

max_features = 200  # Only consider the top 200 words
maxlen = 12  # Only consider the first 12 words of each movie review

# Input for variable-length sequences of integers
inputs = keras.Input(shape=(None,), dtype="int32")
# Embed each integer in a 16-dimensional vector
x = layers.Embedding(max_features, 16)(inputs)
# Add 2 bidirectional LSTMs
x = layers.Bidirectional(layers.LSTM(8, return_sequences=True))(x)
x = layers.Bidirectional(layers.LSTM(8))(x)
# Add a classifier
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)

rng = np.random.default_rng(0)
x_train = rng.integers(1, max_features, size=(96, maxlen))
y_train = (x_train[:, 0] > max_features // 2).astype("float32")
x_train = keras.utils.pad_sequences(list(x_train), maxlen=maxlen)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=2, validation_data=(x_train, y_train), verbose=0)
params = model.count_params()
names = sorted(history.history)
"""


def test_bidirectional_lstm_text_classifier():
    ns = same_report(BIDIRECTIONAL_IMDB)
    assert ns["params"] == 200 * 16 + 2 * 4 * (8 * (16 + 8) + 8) + 2 * 4 * (8 * (16 + 8) + 8) + 16 + 1


TIME_DISTRIBUTED = """
import numpy as np
import keras
from keras import layers

inputs = keras.Input(shape=(10, 3))
x = layers.TimeDistributed(layers.Dense(8, activation="relu"))(inputs)
x = layers.Conv1D(8, 3, activation="swish", padding="same")(x)
x = layers.GlobalMaxPooling1D()(x)
outputs = layers.Dense(1)(layers.Dropout(0.1)(x))
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.RMSprop(1e-2), loss="huber", metrics=["mae"])

rng = np.random.default_rng(0)
x_train = rng.normal(size=(64, 10, 3)).astype("float32")
y_train = x_train.max(axis=(1, 2))[:, None]
history = model.fit(x_train, y_train, batch_size=16, epochs=8, verbose=0,
                    callbacks=[keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=2)])
params = model.count_params()
names = sorted(history.history)
"""


def test_time_distributed_conv1d_global_max_pooling_regressor():
    same_report(TIME_DISTRIBUTED)


# keras.io's "Text classification from scratch" / "Bidirectional LSTM on IMDB", on the generated
# reviews of chapter 14 (minidl.datasets.language: no download): padding after the words, masked
TEXT_DATA = """
import numpy as np
from minidl.datasets import language  # generated film reviews with negation and contrast

texts, labels, kinds = language.make_reviews(800, seed=0)
vocab = language.Vocabulary(texts[:600], max_size=300)
ids, _ = vocab.encode_batch(texts)  # (800, T) int64, 0 after the words
x_train, y_train = ids[:600], labels[:600].astype("float32")
x_val, y_val = ids[600:], labels[600:].astype("float32")
"""

TEXT_CLASSIFIER = (
    TEXT_DATA
    + """
import keras
from keras import layers

inputs = keras.Input(shape=(None,), dtype="int64")
x = layers.Embedding(len(vocab), 16, mask_zero=True)(inputs)
x = layers.Bidirectional(layers.LSTM(16, return_sequences=True))(x)
x = layers.GlobalAveragePooling1D()(x)
x = layers.Dropout(0.2)(x)
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(5e-3), loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=15, validation_data=(x_val, y_val), verbose=0)
val_loss, val_accuracy = model.evaluate(x_val, y_val, verbose=0)
params = model.count_params()
names = sorted(history.history)
"""
)

TEXT_CLASSIFIER_SEQUENTIAL = (
    TEXT_DATA
    + """
import keras
from keras import layers

model = keras.Sequential([
    layers.Embedding(len(vocab), 16, mask_zero=True),
    layers.LSTM(16),
    layers.Dense(16, activation="relu"),
    layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=15, validation_data=(x_val, y_val), verbose=0)
val_loss, val_accuracy = model.evaluate(x_val, y_val, verbose=0)
params = model.count_params()
names = sorted(history.history)
"""
)


def test_text_classifier_with_a_masked_bidirectional_lstm():
    ns = same_report(TEXT_CLASSIFIER)
    assert ns["val_accuracy"] > 0.9, "the masked Bi-LSTM should read the generated reviews"
    assert ns["params"] == len(ns["vocab"]) * 16 + 2 * 4 * (16 * (16 + 16) + 16) + 32 + 1


def test_sequential_text_classifier_with_a_masked_lstm():
    ns = same_report(TEXT_CLASSIFIER_SEQUENTIAL)
    assert ns["val_accuracy"] > 0.9


@pytest.mark.parametrize(
    "program", [TEXT_CLASSIFIER, TEXT_CLASSIFIER_SEQUENTIAL], ids=["functional", "sequential"]
)
def test_text_classifier_equals_keras_with_the_same_weights(program):
    """Keras's weights in minidl's model: the same predictions, loss and first training steps."""
    builder = program[: program.index("history = ")].replace("keras.optimizers.Adam", "keras.optimizers.SGD")
    ours = run(builder)
    theirs = run(builder, real=True)
    model, other = ours["model"], theirs["model"]
    x, y = ours["x_val"], ours["y_val"]
    other.predict(x[:2], verbose=0)
    model.predict(x[:2])
    model.set_weights(other.get_weights())
    np.testing.assert_allclose(model.predict(x), other.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), other.evaluate(x, y, verbose=0), rtol=1e-5)
    for model_ in (model, other):
        for layer in model_.layers:
            if type(layer).__name__ == "Dropout":
                layer.rate = 0.0
    for start in (0, 32):
        xb, yb = x[start : start + 32], y[start : start + 32]
        np.testing.assert_allclose(
            _loss(model.train_on_batch(xb, yb)), _loss(other.train_on_batch(xb, yb)), rtol=1e-5
        )
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-6)


def _loss(result) -> float:
    return float(result[0] if isinstance(result, (list, tuple)) else result)


# keras.io's "Character-level recurrent sequence-to-sequence model", on a toy task (reverse a
# word of letters): the encoder's final states start the decoder; then the inference models
SEQ2SEQ = """
import numpy as np
import keras

num_tokens = 6  # "\\t" start, 4 letters, "\\n" end
latent_dim = 16
rng = np.random.default_rng(0)
words = rng.integers(1, 5, size=(256, 4))
targets = np.concatenate([np.zeros((256, 1), int), words[:, ::-1], np.full((256, 1), 5)], axis=1)
encoder_input_data = np.eye(num_tokens, dtype="float32")[words]
decoder_input_data = np.eye(num_tokens, dtype="float32")[targets[:, :-1]]
decoder_target_data = np.eye(num_tokens, dtype="float32")[targets[:, 1:]]

# Define an input sequence and process it.
encoder_inputs = keras.Input(shape=(None, num_tokens))
encoder = keras.layers.LSTM(latent_dim, return_state=True)
encoder_outputs, state_h, state_c = encoder(encoder_inputs)
# We discard `encoder_outputs` and only keep the states.
encoder_states = [state_h, state_c]

# Set up the decoder, using `encoder_states` as initial state.
decoder_inputs = keras.Input(shape=(None, num_tokens))
decoder_lstm = keras.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
decoder_dense = keras.layers.Dense(num_tokens, activation="softmax")
decoder_outputs = decoder_dense(decoder_outputs)

model = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy", metrics=["accuracy"])
history = model.fit([encoder_input_data, decoder_input_data], decoder_target_data,
                    batch_size=32, epochs=20, validation_split=0.2, verbose=0)

# Inference: an encoder model, and a decoder model that takes and returns the states
encoder_model = keras.Model(encoder_inputs, encoder_states)
decoder_state_input_h = keras.Input(shape=(latent_dim,))
decoder_state_input_c = keras.Input(shape=(latent_dim,))
decoder_states_inputs = [decoder_state_input_h, decoder_state_input_c]
decoder_outputs, state_h, state_c = decoder_lstm(decoder_inputs, initial_state=decoder_states_inputs)
decoder_states = [state_h, state_c]
decoder_outputs = decoder_dense(decoder_outputs)
decoder_model = keras.Model([decoder_inputs] + decoder_states_inputs, [decoder_outputs] + decoder_states)


def decode_sequence(input_seq):
    states_value = encoder_model.predict(input_seq, verbose=0)
    target_seq = np.zeros((1, 1, num_tokens), dtype="float32")
    target_seq[0, 0, 0] = 1.0  # the start token
    decoded = []
    while len(decoded) < 5:
        output_tokens, h, c = decoder_model.predict([target_seq] + states_value, verbose=0)
        token = int(np.argmax(output_tokens[0, -1, :]))
        if token == 5:
            break
        decoded.append(token)
        target_seq = np.zeros((1, 1, num_tokens), dtype="float32")
        target_seq[0, 0, token] = 1.0
        states_value = [h, c]
    return decoded


reversed_right = np.mean([decode_sequence(encoder_input_data[i : i + 1]) == list(words[i, ::-1])
                          for i in range(200, 232)])
params = model.count_params()
names = sorted(history.history)
"""


def test_seq2seq_encoder_decoder_with_initial_state_and_inference_models():
    ns = same_report(SEQ2SEQ)
    losses = ns["history"].history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert ns["reversed_right"] > 0.5, "the decoder, started from the encoder's states, reverses words"


TRANSFORMER_TEXT_CLASSIFIER = """
import numpy as np
import keras
from keras import ops
from keras import layers


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential(
            [layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)]
        )
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


vocab_size = 200  # Only consider the top 200 words (keras.io: 20000, IMDB)
maxlen = 20  # Only consider the first 20 words of each movie review (keras.io: 200)
rng = np.random.default_rng(0)
x_train = keras.utils.pad_sequences(list(rng.integers(1, vocab_size, size=(64, maxlen))), maxlen=maxlen)
y_train = (x_train[:, 0] > vocab_size // 2).astype("int64")
x_val, y_val = x_train[:32], y_train[:32]

embed_dim = 32  # Embedding size for each token
num_heads = 2  # Number of attention heads
ff_dim = 32  # Hidden layer size in feed forward network inside transformer

inputs = layers.Input(shape=(maxlen,))
embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
x = embedding_layer(inputs)
transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
x = transformer_block(x)
x = layers.GlobalAveragePooling1D()(x)
x = layers.Dropout(0.1)(x)
x = layers.Dense(20, activation="relu")(x)
x = layers.Dropout(0.1)(x)
outputs = layers.Dense(2, activation="softmax")(x)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=2, validation_data=(x_val, y_val), verbose=0)
params = model.count_params()
names = sorted(history.history)
"""


def test_transformer_text_classifier():
    """keras.io's "Text classification with Transformer" (TransformerBlock and
    TokenAndPositionEmbedding subclassed over MultiHeadAttention), on generated reviews; with
    Keras's weights moved over, minidl predicts and evaluates as Keras does."""
    ns = same_report(TRANSFORMER_TEXT_CLASSIFIER)
    model = ns["model"]
    assert ns["params"] == 200 * 32 + 20 * 32 + (3 * (32 * 2 * 32 + 2 * 32) + 2 * 32 * 32 + 32) + (
        2 * (32 * 32 + 32)
    ) + 4 * 32 + (32 * 20 + 20) + (20 * 2 + 2)
    assert np.isfinite(ns["history"].history["loss"]).all()
    if not HAVE_KERAS:
        return
    theirs = run(TRANSFORMER_TEXT_CLASSIFIER, real=True)
    model.set_weights(theirs["model"].get_weights())
    x, y = ns["x_val"], ns["y_val"]
    np.testing.assert_allclose(
        model.predict(x, verbose=0), theirs["model"].predict(x, verbose=0), rtol=1e-4, atol=1e-5
    )
    ours_loss = model.evaluate(x, y, verbose=0)
    their_loss = theirs["model"].evaluate(x, y, verbose=0)
    np.testing.assert_allclose(ours_loss, their_loss, rtol=1e-4)


IMAGE_CLASSIFICATION_FROM_SCRATCH = """
import numpy as np
import keras
from keras import layers

data_augmentation_layers = [
    layers.RandomFlip("horizontal"),
    layers.RandomRotation(0.1),
]


def data_augmentation(images):
    for layer in data_augmentation_layers:
        images = layer(images)
    return images


image_size = (16, 16)  # keras.io: (180, 180), the Cats vs Dogs images
rng = np.random.default_rng(0)
x_train = rng.random((64, *image_size, 3)).astype("float32") * 255
y_train = (x_train[:, :8].mean(axis=(1, 2, 3)) > x_train[:, 8:].mean(axis=(1, 2, 3))).astype("int64")

inputs = keras.Input(shape=image_size + (3,))
x = data_augmentation(inputs)
x = layers.Rescaling(1.0 / 255)(x)
x = layers.Conv2D(8, 3, strides=2, padding="same")(x)
x = layers.BatchNormalization()(x)
x = layers.Activation("relu")(x)
x = layers.GlobalAveragePooling2D()(x)
x = layers.Dropout(0.25)(x)
outputs = layers.Dense(1, activation=None)(x)
model = keras.Model(inputs, outputs)
model.compile(
    optimizer=keras.optimizers.Adam(3e-4),
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=[keras.metrics.BinaryAccuracy(name="acc")],
)
history = model.fit(x_train, y_train, epochs=2, batch_size=16, validation_data=(x_train, y_train), verbose=0)
params = model.count_params()
names = sorted(history.history)
augmented = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomRotation(0.1)])
shape = tuple(augmented(x_train[:2]).shape)
"""


def test_image_classification_with_augmentation_layers():
    """keras.io's "Image classification from scratch" (its data_augmentation function over
    RandomFlip and RandomRotation, then Rescaling, a convolution, batch norm), at a small size
    on generated images: the augmentation acts in training only, so with Keras's weights moved
    over minidl predicts as Keras does."""
    ns = same_report(IMAGE_CLASSIFICATION_FROM_SCRATCH)
    assert ns["shape"] == (2, 16, 16, 3)
    assert ns["params"] == 3 * 3 * 3 * 8 + 8 + 4 * 8 + 8 + 1
    if not HAVE_KERAS:
        return
    theirs = run(IMAGE_CLASSIFICATION_FROM_SCRATCH, real=True)
    ns["model"].set_weights(theirs["model"].get_weights())
    x = ns["x_train"][:16]
    np.testing.assert_allclose(
        ns["model"].predict(x, verbose=0), theirs["model"].predict(x, verbose=0), rtol=1e-4, atol=1e-5
    )
