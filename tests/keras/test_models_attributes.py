"""The everyday attributes Keras users reach for, as Keras 3 has them: ``output_shape``,
``output_names``, ``layer.output``, ``pop()``, ``to_json``/``model_from_json``,
``Callback.params``, ``get_weights`` on every layer, layer names usable in ``isinstance``,
``build((None, d))`` and ``compile(jit_compile=...)``. Each is checked against the value Keras
gives, written out here, and against Keras itself where it is installed."""

import minidl_keras as keras
import numpy as np
import pytest
from minidl_keras import layers

from tests.keras.keras_oracle import real_keras


def stacked(lib):
    return lib.Sequential([lib.Input((4,)), lib.layers.Dense(3, name="d1"), lib.layers.Dense(2, name="d2")])


def functional(lib):
    inputs = lib.Input((4,), name="x")
    hidden = lib.layers.Dense(3, name="h")(inputs)
    return lib.Model(inputs, lib.layers.Dense(2, name="out")(hidden))


class Shifted(keras.layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 2), initializer="ones")
        self.b = self.add_weight(shape=(2,), initializer="zeros", trainable=False)

    def call(self, x):
        return keras.ops.matmul(x, self.w) + self.b


def inspect_everything(lib):
    """What a user prints about a model, as plain Python values."""
    seq, fn = stacked(lib), functional(lib)
    seen = {
        "seq.output_shape": tuple(seq.output_shape),
        "seq.layer0.output": tuple(seq.layers[0].output.shape),
        "seq.layer1.input": tuple(seq.layers[1].input.shape),
        "fn.output_shape": tuple(fn.output_shape),
        "fn.output_names": list(fn.output_names),
        "fn.hidden.output": tuple(fn.get_layer("h").output.shape),
        "fn.output": tuple(fn.output.shape),
        "input_layer.get_weights": lib.layers.InputLayer(shape=(3,)).get_weights(),
        "dropout.get_weights": lib.layers.Dropout(0.5).get_weights(),
    }
    popped = seq.pop()
    seen["pop"] = (popped.name, [layer.name for layer in seq.layers], tuple(seq.output_shape))
    built = lib.Sequential([lib.layers.Dense(3)])
    built.build((None, 4))
    seen["build"] = (tuple(built.output_shape), [w.shape for w in built.get_weights()])
    seen["build.predict"] = built.predict(np.zeros((2, 4), "float32"), verbose=0).shape
    bn = lib.layers.BatchNormalization()
    seen["isinstance"] = (
        isinstance(bn, lib.layers.BatchNormalization),
        isinstance(lib.layers.Dense(2), lib.layers.BatchNormalization),
        isinstance(lib.layers.Conv2D(2, 3), lib.layers.Conv2D),
        isinstance(lib.layers.LeakyReLU(), lib.layers.LeakyReLU),
        isinstance(lib.layers.LayerNormalization(), lib.layers.LayerNormalization),
    )
    return seen


EXPECTED = {
    "seq.output_shape": (None, 2),
    "seq.layer0.output": (None, 3),
    "seq.layer1.input": (None, 3),
    "fn.output_shape": (None, 2),
    "fn.output_names": ["out"],
    "fn.hidden.output": (None, 3),
    "fn.output": (None, 2),
    "input_layer.get_weights": [],
    "dropout.get_weights": [],
    "pop": ("d2", ["d1"], (None, 3)),
    "build": ((None, 3), [(4, 3), (3,)]),
    "build.predict": (2, 3),
    "isinstance": (True, False, True, True, True),
}


def test_the_everyday_attributes_give_kerass_values():
    assert inspect_everything(keras) == EXPECTED


def test_the_everyday_attributes_match_keras():
    real = real_keras()
    theirs = inspect_everything(real)
    theirs["build"] = (theirs["build"][0], [tuple(s) for s in theirs["build"][1]])
    assert inspect_everything(keras) == theirs


def test_a_custom_layers_get_weights_lists_its_weights_in_keras_order():
    layer = Shifted()
    layer(np.zeros((1, 3), "float32"))
    weights = layer.get_weights()
    assert [w.shape for w in weights] == [(3, 2), (2,)]
    np.testing.assert_array_equal(weights[0], np.ones((3, 2)))
    layer.set_weights([np.full((3, 2), 2.0), np.ones(2)])
    np.testing.assert_allclose(layer(np.ones((1, 3), "float32")), [[7.0, 7.0]])
    assert [w.shape for w in layer.trainable_weights] == [(3, 2)]
    assert [w.shape for w in layer.non_trainable_weights] == [(2,)]


def test_a_layer_not_yet_called_symbolically_says_why_it_has_no_output():
    with pytest.raises(AttributeError, match="has not been called on symbolic tensors"):
        layers.Dense(2).output  # noqa: B018
    with pytest.raises(AttributeError, match="has not been called on symbolic tensors"):
        layers.Dropout(0.1).output  # noqa: B018


def test_subclassing_a_layer_maker_is_refused_with_the_minidl_way():
    with pytest.raises(NotImplementedError, match="subclass minidl.nn.layers.BatchNorm"):

        class MyNorm(layers.BatchNormalization):  # noqa: F841
            pass


def test_popping_an_empty_sequential_is_keras_error():
    with pytest.raises(TypeError, match="no layers"):
        keras.Sequential().pop()


def test_build_needs_the_batch_axis():
    with pytest.raises(ValueError, match=r"model.build\(\(None, 4\)\)"):
        keras.Sequential([layers.Dense(2)]).build((4,))


def test_a_subclassed_model_builds_from_kerass_input_shape():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net.build((None, 5))
    assert net.built and net.count_params() == 18 and net.output_shape == (None, 3)


@pytest.mark.parametrize("make", [stacked, functional])
def test_to_json_and_model_from_json_give_the_same_architecture(make):
    model = make(keras)
    again = keras.models.model_from_json(model.to_json())
    assert type(again) is type(model)
    assert [type(layer).__name__ for layer in again.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    assert [w.shape for w in again.get_weights()] == [w.shape for w in model.get_weights()]
    again.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_model_from_json_refuses_kerass_own_json_with_the_way_out():
    with pytest.raises(ValueError, match="get_weights/set_weights"):
        keras.models.model_from_json('{"class_name": "Sequential", "config": {}}')


def fit_params(lib):
    seen = {}

    class Spy(lib.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.update(self.params)

    model = stacked(lib)
    model.compile(optimizer="sgd", loss="mse", jit_compile=False)
    x, y = np.zeros((10, 4), "float32"), np.zeros((10, 2), "float32")
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[Spy()])
    first = dict(seen)
    model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[Spy()], validation_split=0.2)
    return first, dict(seen)


def test_callback_params_are_kerass():
    assert fit_params(keras) == (
        {"verbose": 0, "epochs": 2, "steps": 3},
        {"verbose": 0, "epochs": 3, "steps": 2},
    )
    assert keras.callbacks.Callback().params == {}


def test_callback_params_match_keras():
    real = real_keras()
    assert fit_params(keras) == fit_params(real)


@pytest.mark.parametrize("option", [{"jit_compile": False}, {"jit_compile": True}, {"run_eagerly": True}])
def test_compile_accepts_kerass_speed_options(option):
    for model in (stacked(keras), functional(keras)):
        model.compile(optimizer="sgd", loss="mse", **option)
        assert model.optimizer is not None


def layer_counts(lib):
    model = lib.Sequential(
        [lib.Input((10,)), lib.layers.Dense(16), lib.layers.BatchNormalization(), lib.layers.Dense(2)]
    )
    return [int(layer.count_params()) for layer in model.layers], model.count_params()


def test_a_layers_count_params_is_one_int_as_in_keras():
    counts, total = layer_counts(keras)
    assert counts == [176, 64, 34] and total == 274
    trainable, frozen = (
        keras.Sequential([keras.Input((10,)), layers.BatchNormalization()]).layers[0].count_params()
    )
    assert (trainable, frozen) == (20, 20)  # minidl's pair, for its models and summary


def test_a_layers_count_params_matches_keras():
    real = real_keras()
    assert layer_counts(keras) == layer_counts(real)


# ------------------------------------------------------------------ losses, optimizers, configs (sweep 5)
def test_a_loss_object_takes_keras_order_and_trains_with_minidls_loss():
    y_true, y_pred = np.array([[1.0], [0.0]]), np.array([[0.8], [0.1]])
    bce = keras.losses.BinaryCrossentropy()
    expected = -np.mean([np.log(0.8), np.log(0.9)])
    assert bce(y_true, y_pred) == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(bce.backward(), bce.library_loss.backward())
    assert bce.name == "binary_crossentropy" and bce.get_config()["label_smoothing"] == 0.0
    model = stacked(keras)
    model.compile(optimizer="sgd", loss=keras.losses.MeanSquaredError())
    assert isinstance(model.loss, keras.losses.MeanSquaredError.library_class)
    with pytest.raises(NotImplementedError, match="label_smoothing"):
        keras.losses.BinaryCrossentropy(label_smoothing=0.1)
    assert keras.losses.get("mse") is keras.losses.mean_squared_error
    real = real_keras()
    assert bce.get_config() == real.losses.BinaryCrossentropy().get_config()
    assert bce(y_true, y_pred) == pytest.approx(
        float(real.losses.BinaryCrossentropy()(y_true, y_pred)), rel=1e-5
    )


def test_optimizers_are_classes_named_and_configured_as_kerass(tmp_path):
    opt = keras.optimizers.Adam(0.5, beta_1=0.8, name="mine")
    assert type(opt).__name__ == "Adam" and isinstance(opt, keras.optimizers.Adam)
    assert keras.optimizers.Adam.from_config(opt.get_config()).get_config() == opt.get_config()
    assert keras.optimizers.deserialize(keras.optimizers.serialize(opt)).beta1 == 0.8
    model = stacked(keras)
    model.compile(optimizer=opt, loss="mse")
    model.fit(np.ones((4, 4), "float32"), np.ones((4, 2), "float32"), verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras").optimizer
    assert type(loaded) is keras.optimizers.Adam and loaded.name == "mine" and loaded.iterations == 1
    real = real_keras()
    for name in ("SGD", "RMSprop", "Adagrad", "Adam", "AdamW"):
        ours, theirs = getattr(keras.optimizers, name)(0.5), getattr(real.optimizers, name)(0.5)
        assert type(ours).__name__ == type(theirs).__name__ == name
        assert ours.get_config() == {**theirs.get_config(), "name": ours.name}


def test_layer_configs_serialize_initializers_as_keras():
    dense = layers.Dense(3, kernel_initializer="he_normal", name="d")
    config = dense.get_config()
    assert config["kernel_initializer"] == {
        "module": "keras.initializers",
        "class_name": "HeNormal",
        "config": {"seed": None, "input_axes": None, "output_axes": None},
        "registered_name": None,
    }
    again = layers.Dense.from_config(config)
    assert isinstance(again.kernel_initializer, keras.initializers.HeNormal)
    assert type(dense)(**config).get_config() == config
    real = real_keras()
    theirs = real.layers.Dense(3, kernel_initializer="he_normal", name="d").get_config()
    assert config["kernel_initializer"] == theirs["kernel_initializer"]
    assert config["bias_initializer"] == theirs["bias_initializer"]


def test_clone_model_makes_new_layers_and_weights():
    model = stacked(keras)
    clone = keras.models.clone_model(model)
    assert [layer.name for layer in clone.layers] == ["d1", "d2"] and clone.optimizer is None
    assert clone.layers[0] is not model.layers[0]
    assert not np.allclose(clone.get_weights()[0], model.get_weights()[0])
    with pytest.raises(NotImplementedError, match="clone_function"):
        keras.models.clone_model(model, clone_function=lambda layer: layer)
