"""Saving functional and subclassed ``keras.Model``s: ``model.save`` then
``keras.models.load_model(path, custom_objects=...)`` gives the same weights bit for bit and the
same predictions, with shared layers, several inputs and outputs and custom layers."""

import minidl_keras as keras
import numpy as np
import pytest
from minidl_keras import layers, ops

import minidl as mdl


class Scale(layers.Layer):
    """A custom layer with a weight, a held layer and a config argument."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner = layers.Dense(units)

    def build(self, input_shape):
        self.gain = self.add_weight(shape=(self.units,), initializer="ones")

    def call(self, x):
        return self.inner(x) * self.gain

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(wa, wb))


def test_a_functional_model_saves_and_loads_bit_for_bit(tmp_path):
    mdl.seed(0)
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    shared = layers.Dense(5, activation="tanh")
    h = layers.Concatenate()([shared(layers.Dense(5)(a)), shared(layers.Dense(5)(b)), b])
    h = layers.BatchNormalization()(Scale(6)(h))
    model = keras.Model({"a": a, "b": b}, {"score": layers.Dense(1, name="score")(h),
                                           "label": layers.Dense(2, name="label")(layers.Add()([h, h]))})  # fmt: skip
    rng = np.random.default_rng(0)
    x = {"a": rng.normal(size=(32, 4)).astype("float32"), "b": rng.normal(size=(32, 3)).astype("float32")}
    y = {"score": rng.normal(size=(32, 1)).astype("float32"), "label": rng.integers(0, 2, 32)}
    model.compile(
        optimizer="adam",
        loss={"score": "mse", "label": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
    )
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    model.save(tmp_path / "model.keras")
    state = mdl.backend.rng().bit_generator.state
    loaded = keras.models.load_model(tmp_path / "model.keras", custom_objects={"Scale": Scale})
    assert mdl.backend.rng().bit_generator.state == state  # loading leaves the seeded stream alone
    assert same_weights(model, loaded)
    for mine, theirs in zip(model.predict(x), loaded.predict(x)):
        np.testing.assert_array_equal(mine, theirs)
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    assert loaded.count_params() == model.count_params()


class TwoLayer(keras.Model):
    def __init__(self, hidden=8, classes=3):
        super().__init__()
        self.hidden, self.classes = hidden, classes
        self.body = layers.Dense(hidden, activation="relu")
        self.scale = Scale(classes)

    def call(self, x):
        return self.scale(self.body(x))


def test_a_subclassed_model_saves_and_loads_with_custom_objects(tmp_path):
    mdl.seed(0)
    model = TwoLayer(hidden=6, classes=2)
    x = np.random.default_rng(0).normal(size=(16, 5)).astype("float32")
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])  # fmt: skip
    model.fit(x, (x[:, 0] > 0).astype(int), batch_size=8, epochs=2, verbose=0)
    model.save(tmp_path / "sub.keras")
    with pytest.raises(ValueError, match="custom_objects"):
        keras.models.load_model(tmp_path / "sub.keras")
    loaded = keras.models.load_model(
        tmp_path / "sub.keras", custom_objects={"TwoLayer": TwoLayer, "Scale": Scale}
    )
    assert isinstance(loaded, TwoLayer) and loaded.hidden == 6
    assert same_weights(model, loaded)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert loaded.metrics_names == ["loss", "compile_metrics"]
    loaded.fit(x, (x[:, 0] > 0).astype(int), batch_size=8, epochs=1, verbose=0)  # compiled again


def shifted_relu(x):
    """A named function: a Lambda over it saves by name."""
    return ops.relu(x - 0.5)


def graph_with_ops_lambda_and_nested_models():
    """A functional model with keras.ops nodes (and constants), a Lambda, a nested functional
    model and a nested Sequential, Dropout and BatchNormalization."""
    inner_in = keras.Input((6,))
    inner = keras.Model(inner_in, layers.Dense(4, activation="tanh")(inner_in), name="inner")
    stack = keras.Sequential([keras.Input((4,)), layers.Dense(4), layers.BatchNormalization()])
    x = keras.Input((5,), name="x")
    h = layers.Dense(6)(x)
    h = ops.concatenate([h[:, :3] * 2.0, ops.exp(-ops.square(h[:, 3:]))], axis=-1)
    h = layers.Lambda(shifted_relu)(h)
    h = stack(inner(layers.Dropout(0.25)(h)))
    out = layers.Dense(3)(h + ops.mean(h, axis=1, keepdims=True))
    return keras.Model(x, out)


def compiled(model):
    model.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    return model


def data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(48, 5)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1)


def test_a_model_with_ops_a_lambda_and_nested_models_saves_and_loads_bit_for_bit(tmp_path):
    mdl.seed(0)
    model = compiled(graph_with_ops_lambda_and_nested_models())
    x, y = data()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "graph.keras")
    with pytest.raises(ValueError, match=r"custom_objects=\{'shifted_relu': shifted_relu\}"):
        keras.models.load_model(tmp_path / "graph.keras")
    loaded = keras.models.load_model(tmp_path / "graph.keras", custom_objects={"shifted_relu": shifted_relu})
    assert same_weights(model, loaded)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    assert loaded.count_params() == model.count_params()


def two_then_one(make, tmp_path, custom_objects):
    """(weights after 3 epochs straight, weights after 2 epochs + save + load + 1 epoch)."""
    x, y = data()
    mdl.seed(0)
    straight = compiled(make())
    straight.fit(x, y, batch_size=16, epochs=3, verbose=0)
    mdl.seed(0)
    first = compiled(make())
    first.fit(x, y, batch_size=16, epochs=2, verbose=0)
    first.save(tmp_path / "run.keras")
    del first
    mdl.backend.rng().random(7)  # other work in between moves the stream; resuming must not care
    resumed = keras.models.load_model(tmp_path / "run.keras", custom_objects=custom_objects)
    assert resumed.epochs_completed == 2 and resumed.optimizer.iterations == 6
    resumed.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 9
    return straight, resumed


@pytest.mark.parametrize("kind", ["functional", "subclassed"])
def test_training_resumes_bit_for_bit_after_save_and_load(tmp_path, kind):
    """Train 2 epochs, save, load, train 1 more == train 3 epochs: the optimizer's moments and
    step counts and the random stream (shuffles, dropout masks) are in the file."""
    if kind == "functional":
        make, custom = graph_with_ops_lambda_and_nested_models, {"shifted_relu": shifted_relu}
    else:
        make, custom = (lambda: TwoLayer(hidden=6, classes=3)), {"TwoLayer": TwoLayer, "Scale": Scale}
    straight, resumed = two_then_one(make, tmp_path, custom)
    assert same_weights(straight, resumed)
    x, _ = data()
    np.testing.assert_array_equal(straight.predict(x), resumed.predict(x))


def test_without_the_optimizer_a_loaded_model_starts_its_optimizer_afresh(tmp_path):
    mdl.seed(0)
    model = compiled(graph_with_ops_lambda_and_nested_models())
    x, y = data()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    keras.saving.save_model(model, tmp_path / "light.keras", include_optimizer=False)
    loaded = keras.models.load_model(tmp_path / "light.keras", custom_objects={"shifted_relu": shifted_relu})
    assert loaded.optimizer.iterations == 0 and loaded.optimizer.state == {}
    assert same_weights(model, loaded)


def test_a_python_lambda_cannot_be_saved_and_the_error_names_the_way_out(tmp_path):
    """Keras stores a lambda's bytecode and refuses to load it unless safe_mode=False; minidl
    stores no code, so it says so when saving (no file is written)."""
    x = keras.Input((3,))
    model = keras.Model(x, layers.Lambda(lambda t: ops.exp(t) * 2.0)(layers.Dense(2)(x)))
    with pytest.raises(ValueError, match=r"<lambda>.*cannot be saved.*safe_mode=False.*custom_objects="):
        model.save(tmp_path / "never-written.keras")
    assert not (tmp_path / "never-written.keras").exists()


def test_what_cannot_be_saved_says_so(tmp_path):
    x = keras.Input((3,))
    model = keras.Model(x, ops.take(layers.Dense(4)(x), np.array([0, 2]), axis=1)[np.array([0])])
    with pytest.raises(
        NotImplementedError, match=r"saving tensor\[.*\] is not in minidl_keras.*keras.ops.take"
    ):
        model.save(tmp_path / "never-written.keras")
    assert not (tmp_path / "never-written.keras").exists()


def test_a_sequential_holding_a_model_saves_and_resumes(tmp_path):
    """keras.Sequential([base, head]) keeps the base as one layer (a small keras.Model); it saves
    and trains on bit for bit too."""

    def make():
        base = keras.Sequential([keras.Input((5,)), layers.Dense(6, activation="relu")])
        return keras.Sequential([base, layers.Dropout(0.2), layers.Dense(3)])

    straight, resumed = two_then_one(make, tmp_path, None)
    assert same_weights(straight, resumed)
    assert isinstance(resumed.layers[0], keras.Sequential)  # KerasSequential, shown as Sequential
    assert [type(layer).__name__ for layer in resumed.layers[1:]] == ["Dropout", "Dense"]


def test_the_arguments_of_every_kind_of_op_survive_save_and_load(tmp_path):
    """Axes, shapes, keepdims, bounds, dtypes, constants and indexes (``...``, ``None``, slices)
    are saved with each op; ``Lambda(ops.tanh)`` is found by its name in ``keras.ops``."""
    mdl.seed(0)
    a, b = keras.Input((4,), name="a"), keras.Input((2, 3), name="b")
    h = ops.reshape(layers.Lambda(ops.tanh)(layers.Dense(6)(a)), (None, 2, 3))
    u = ops.sum(ops.transpose(ops.stack([h, b], axis=1), (0, 2, 1, 3)), axis=(2,))
    v = ops.where(np.array([True, False, True]), ops.clip(u, np.float32(-1.5), 1.5) ** 2, ops.square(u))
    f = ops.squeeze(ops.expand_dims(v[..., None, 1:], 1), axis=1)
    g = ops.max(ops.concatenate([f[:, 0], f[:, 1]], axis=-1), axis=-1, keepdims=True)
    m = ops.mean(ops.take(layers.Dense(5)(a), np.array([0, 3]), axis=1), axis=1, keepdims=True)
    out = layers.Dense(2)(ops.softmax(layers.Dense(3)(ops.concatenate([g[:, 0], m], axis=-1)), axis=-1))
    labels = ops.cast(ops.argmax(out, axis=-1), "float32")
    model = keras.Model(
        {"a": a, "b": b}, [out, ops.expand_dims(labels, -1) + ops.one_hot(ops.argmax(out), 2)]
    )
    rng = np.random.default_rng(0)
    x = {"a": rng.normal(size=(5, 4)).astype("float32"), "b": rng.normal(size=(5, 2, 3)).astype("float32")}
    model.save(tmp_path / "ops.keras")
    loaded = keras.models.load_model(tmp_path / "ops.keras")
    for mine, theirs in zip(model.predict(x), loaded.predict(x)):
        np.testing.assert_array_equal(mine, theirs)


def test_a_keras_sequential_with_a_lambda_and_a_custom_layer_loads_with_custom_objects(tmp_path):
    mdl.seed(0)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3), layers.Lambda(shifted_relu), Scale(2)])
    x = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x[:, :2], batch_size=3, epochs=1, verbose=0)
    model.save(tmp_path / "seq.keras")
    with pytest.raises(ValueError, match=r"custom_objects=\{'shifted_relu': shifted_relu\}"):
        keras.models.load_model(tmp_path / "seq.keras")
    # the custom class by custom_objects too, as Keras asks: another test file may define a "Scale"
    objects = {"shifted_relu": shifted_relu, "Scale": Scale}
    loaded = keras.models.load_model(tmp_path / "seq.keras", custom_objects=objects)
    assert isinstance(loaded, keras.Sequential) and same_weights(model, loaded)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    model.layers[1].function = lambda t: ops.relu(t)
    with pytest.raises(ValueError, match="<lambda>.*cannot be saved"):
        model.save(tmp_path / "never-written.keras")


class TransformerBlock(layers.Layer):
    """A custom layer named as keras.io's is, and as one of minidl's own layers is."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner = layers.Dense(units)

    def call(self, x):
        return self.inner(x)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_a_users_class_never_takes_the_name_of_minidls_own(tmp_path):
    """Defining a Keras custom layer called TransformerBlock left minidl's saved TransformerBlocks
    loading as the user's class (a TypeError on key_dim, in whichever test ran after keras.io's)."""
    from minidl.nn.layers.attention import TransformerBlock as MinidlBlock
    from minidl.nn.layers.registry import LAYER_CLASSES

    assert LAYER_CLASSES["TransformerBlock"] is MinidlBlock
    mdl.seed(0)
    own = mdl.Sequential([MinidlBlock(2), mdl.layers.Flatten(), mdl.layers.Dense(2)], input_shape=(4, 8))
    own.save(tmp_path / "own.npz")
    assert type(mdl.load_model(tmp_path / "own.npz").layers[0]) is MinidlBlock

    inputs = keras.Input((5,))
    model = keras.Model(inputs, TransformerBlock(3)(inputs))
    model.save(tmp_path / "users.keras")
    with pytest.raises(
        ValueError, match=rf"'TransformerBlock' \(defined in module '{__name__}'\).*custom_objects"
    ):
        keras.models.load_model(tmp_path / "users.keras")
    loaded = keras.models.load_model(
        tmp_path / "users.keras", custom_objects={"TransformerBlock": TransformerBlock}
    )
    assert type(loaded.layers[1]) is TransformerBlock
    x = np.arange(10, dtype=np.float32).reshape(2, 5)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


class HalfOfIt(layers.Layer):
    """A custom layer whose name no other class in the test process has."""

    def call(self, x):
        return 0.5 * x


def test_a_users_class_with_a_name_of_its_own_loads_without_custom_objects(tmp_path):
    """Found among the classes defined in the process, by name and module; had another module
    defined a class of the same name later, it would need custom_objects (not the other class)."""
    inputs = keras.Input((4,))
    model = keras.Model(inputs, HalfOfIt()(inputs))
    model.save(tmp_path / "half.keras")
    assert type(keras.models.load_model(tmp_path / "half.keras").layers[1]) is HalfOfIt
