"""Layers that hold layers (``Layer.sublayers``, ``SubLayerArrays`` in ``nn/layers/base.py``):
a layer of one's own, built from two Dense layers, trains, saves and loads, and freezes like
any layer, with no code of its own for any of it."""

import numpy as np
import pytest

import minidl as mdl
from minidl import backend
from minidl.nn import optim
from minidl.nn.gradcheck import check_layer
from minidl.nn.layers import Dense, Flatten, Layer, Residual, Tanh, TransformerBlock
from minidl.nn.layers.sublayers import SubLayerArrays, own_arrays
from minidl.nn.losses import MeanSquaredError


class DenseSkip(Layer):
    """``y = fc2(tanh(fc1(x))) + scale * x``: two Dense sub-layers, a Tanh (no arrays) and an
    array of its own (``scale``, (D,)). x (N, D) -> y (N, D) with D = ``units``."""

    input_ndims = (2,)

    def __init__(self, units, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self.units = units
        self.fc1, self.act, self.fc2 = Dense(units), Tanh(), Dense(units)

    def sublayers(self):
        return {"fc1": self.fc1, "act": self.act, "fc2": self.fc2}

    def build(self, input_shape, dtype=np.float32):
        super().build(input_shape, dtype)
        for layer in self.sublayers().values():
            layer.device = self.device
            layer.build((self.units,), dtype)
        self.add_param("scale", np.full(self.units, 0.5, dtype=dtype))

    def forward(self, x, training=False):
        x = self.check_input(x)
        self.cache = x
        return self.fc2.forward(self.act.forward(self.fc1.forward(x, training), training), training) + (
            self.params["scale"] * x
        )

    def backward(self, dy):
        x = self.require_cache()
        self.grads["scale"][...] = (dy * x).sum(axis=0)
        return self.fc1.backward(self.act.backward(self.fc2.backward(dy))) + self.params["scale"] * dy


def _data(seed=0, n=32, d=4):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x, np.tanh(x[:, ::-1]).astype(np.float32)


def _model(seed=0):
    mdl.seed(seed)
    model = mdl.Sequential([DenseSkip(4), Dense(4)], input_shape=(4,))
    model.compile(optim.SGD(0.1), MeanSquaredError())
    return model


def test_the_holders_arrays_are_its_own_then_each_sub_layers_the_same_objects():
    layer = _model().layers[0]
    assert isinstance(layer.params, SubLayerArrays)
    assert list(layer.params) == ["scale", "fc1.W", "fc1.b", "fc2.W", "fc2.b"]
    assert list(layer.grads) == list(layer.params) and len(layer.buffers) == 0
    assert layer.params["fc1.W"] is layer.fc1.params["W"]
    assert layer.grads["fc2.b"] is layer.fc2.grads["b"]
    replacement = np.zeros_like(layer.fc1.params["W"])
    layer.params["fc1.W"] = replacement  # what load_model and astype do: the sub-layer's entry changes
    assert layer.fc1.params["W"] is replacement
    with pytest.raises(KeyError, match="fc3.W.*it has"):
        layer.params["fc3.W"]
    with pytest.raises(KeyError):
        layer.params["fc3.W"] = replacement  # a dotted key must name a sub-layer's array
    with pytest.raises(TypeError, match="cannot delete"):
        del layer.params["fc1.W"]
    assert Dense(3).params == {}  # a layer without sub-layers keeps plain dicts


def test_gradients_through_the_sub_layers(rng):
    report = check_layer(DenseSkip(3), rng.standard_normal((5, 3)))
    assert report.passed, report
    assert {"scale", "fc1.W", "fc2.b"} <= set(report.errors)


def test_it_trains_and_zero_grad_reaches_the_sub_layers():
    model, (x, y) = _model(), _data()
    holder = model.layers[0]
    before = {key: backend.to_numpy(value).copy() for key, value in holder.params.items()}
    losses = [model.train_on_batch(x, y) for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]
    for key, value in holder.params.items():
        assert not np.allclose(value, before[key]), f"{key} was not updated"
    model.zero_grad()
    assert all(not np.any(g) for g in holder.fc1.grads.values())


def test_it_saves_and_loads(tmp_path):
    model, (x, y) = _model(), _data()
    for _ in range(5):
        model.train_on_batch(x, y)
    model.save(tmp_path / "holder.npz")
    loaded = mdl.load_model(tmp_path / "holder.npz")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    holder = loaded.layers[0]
    assert isinstance(holder, DenseSkip) and holder.params["fc2.W"] is holder.fc2.params["W"]
    np.testing.assert_array_equal(holder.fc1.params["W"], model.layers[0].fc1.params["W"])
    assert loaded.count_params() == model.count_params()


def test_freezing_the_holder_freezes_all_and_a_sub_layer_alone_itself():
    model, (x, y) = _model(), _data()
    holder, head = model.layers
    n_holder = sum(int(a.size) for a in holder.params.values())
    assert holder.count_params() == (n_holder, 0)

    holder.trainable = False
    frozen = {key: value.copy() for key, value in holder.params.items()}
    model.train_on_batch(x, y)
    for key, value in holder.params.items():
        np.testing.assert_array_equal(value, frozen[key])
    assert holder.count_params() == (0, n_holder) and holder.trainable_keys() == []

    holder.trainable, holder.fc1.trainable = True, False
    assert holder.trainable_keys() == ["scale", "fc2.W", "fc2.b"]
    fc1_before, fc2_before = holder.fc1.params["W"].copy(), holder.fc2.params["W"].copy()
    model.train_on_batch(x, y)
    np.testing.assert_array_equal(holder.fc1.params["W"], fc1_before)
    assert not np.allclose(holder.fc2.params["W"], fc2_before)
    n_fc1 = sum(int(a.size) for a in holder.fc1.params.values())
    assert holder.count_params() == (n_holder - n_fc1, n_fc1)
    lines = []
    model.summary(print_fn=lines.append)
    assert f"Non-trainable params: {n_fc1:,}" in lines[0]


def test_a_sub_layer_frozen_on_its_own_stays_frozen_after_loading(tmp_path):
    """The sub-layers of a TransformerBlock are made by ``build``; the file lists the frozen ones
    (``frozen_within``) so that loading freezes them again (it once brought them back trainable:
    a silent change of what the next ``fit`` trains)."""
    mdl.seed(0)
    model = mdl.Sequential([TransformerBlock(2), Flatten(), Dense(2)], input_shape=(4, 8))
    model.layers[0].attn.trainable = False
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "block.npz")
    loaded = mdl.load_model(tmp_path / "block.npz")
    assert not loaded.layers[0].attn.trainable and loaded.layers[0].ln1.trainable
    assert loaded.count_params() == model.count_params()
    x, y = np.ones((3, 4, 8), np.float32), np.zeros((3, 2), np.float32)
    attn = {key: value.copy() for key, value in loaded.layers[0].attn.params.items()}
    loaded.train_on_batch(x, y)
    for key, value in loaded.layers[0].attn.params.items():
        np.testing.assert_array_equal(value, attn[key])


def test_a_keras_model_keeps_its_frozen_sub_layers_through_a_file(tmp_path):
    import minidl_keras as keras
    from minidl_keras import layers as keras_layers

    class Pair(keras_layers.Layer):
        """Two Dense layers in turn, held as attributes (a Keras custom layer)."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.first, self.second = keras_layers.Dense(3), keras_layers.Dense(2)

        def call(self, x):
            return self.second(self.first(x))

    inputs = keras.Input((4,))
    pair = Pair()
    functional = keras.Model(inputs, keras_layers.Dense(1)(pair(inputs)))
    sequential = keras.Sequential([keras.Input((4,)), Pair()])
    sequential.predict(np.zeros((1, 4), np.float32), verbose=0)
    for model, held in ((functional, pair), (sequential, sequential.layers[0])):
        held.first.trainable = False
        model.save(tmp_path / "m.keras")
        loaded = keras.models.load_model(tmp_path / "m.keras", custom_objects={"Pair": Pair})
        (again,) = [layer for layer in loaded.layers if isinstance(layer, Pair)]
        assert not again.first.trainable and again.second.trainable
        assert len(loaded.trainable_weights) == len(model.trainable_weights)


def test_a_file_that_names_a_sub_layer_the_rebuilt_layer_lacks_is_refused(tmp_path):
    from minidl.training.saving import layer_spec, refreeze

    block = TransformerBlock(2)
    block.build((4, 8))
    block.attn.trainable = False
    spec = layer_spec(block)
    assert spec["frozen_within"] == ["attn"]
    spec["frozen_within"] = ["cross"]
    with pytest.raises(ValueError, match=r"frozen sub-layer 'cross'.*holds \['act', 'attn'"):
        refreeze(block, spec, "f.npz")


def test_casts_and_moves_reach_the_sub_layers():
    holder = _model().layers[0]
    holder.astype(np.float64)
    assert holder.fc1.params["W"].dtype == np.float64 and holder.params["scale"].dtype == np.float64
    holder.to("cpu")
    assert holder.fc2.device == "cpu"


@pytest.mark.gpu
@pytest.mark.skipif(not backend.gpu_status()[0], reason="needs a usable GPU")
def test_to_gpu_moves_every_sub_layer():
    model, (x, y) = _model(), _data()
    model.to("gpu")
    holder = model.layers[0]
    assert holder.fc1.device == "gpu" and backend.device_of(holder.params["fc1.W"]) == "gpu"
    assert backend.device_of(holder.params["scale"]) == "gpu"
    model.train_on_batch(backend.to_device(x, "gpu"), backend.to_device(y, "gpu"))
    model.to("cpu")
    assert backend.device_of(holder.fc2.params["W"]) == "cpu"


def test_residual_and_the_transformer_block_use_the_mechanism():
    block = Residual([Dense(3), Tanh(), Dense(3)], shortcut=Dense(3))
    assert list(block.sublayers()) == ["block.0", "block.1", "block.2", "shortcut.0"]
    transformer = TransformerBlock(2)
    transformer.build((5, 4))
    assert isinstance(transformer.params, SubLayerArrays)
    assert transformer.params["fc1.W"] is transformer.fc1.params["W"]
    transformer.fc1.trainable = False
    assert not any(key.startswith("fc1.") for key in transformer.trainable_keys())


def test_layers_within_walks_the_tree_depth_first_with_paths():
    outer = Residual([DenseSkip(3), Tanh()])
    paths = [path for path, _ in outer.layers_within()]
    assert paths == ["", "block.0", "block.0.fc1", "block.0.act", "block.0.fc2", "block.1"]
    assert dict(outer.layers_within())["block.0.fc2"] is outer.block[0].fc2


def test_unet_and_the_keras_wrappers_use_the_mechanism_with_their_key_names():
    from minidl_keras import layers as keras_layers

    from minidl.nn.layers import UNet

    unet = UNet(2, filters=(2,))
    unet.build((1, 4, 4))
    assert isinstance(unet.params, SubLayerArrays)
    assert list(unet.params)[:2] == ["enc.0.0.W", "enc.0.0.b"] and list(unet.params)[-2:] == [
        "head.W",
        "head.b",
    ]
    assert unet.params["up.0.W"] is unet.up[0].params["W"]
    both = keras_layers.Bidirectional(keras_layers.LSTM(3))
    both.build((5, 2))
    assert isinstance(both.params, SubLayerArrays)
    assert [key.split(".")[0] for key in both.params] == ["forward_layer"] * 3 + ["backward_layer"] * 3


def test_a_keras_custom_layer_holds_its_attribute_layers_as_sub_layers():
    import minidl_keras as keras
    from minidl_keras import layers as keras_layers

    class Gain(keras_layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.proj = keras_layers.Dense(2)
            self.norm = keras_layers.BatchNormalization()

        def build(self, input_shape):
            self.gain = self.add_weight(shape=(2,), initializer="ones")

        def call(self, x):
            return self.norm(self.proj(x)) * self.gain

    mdl.seed(0)
    inputs = keras.Input((3,), dtype="float64")
    shared = Gain(dtype="float64")
    model = keras.Model(inputs, shared(shared(keras_layers.Dense(2)(inputs))))
    assert list(shared.sublayers()) == ["proj", "norm"]
    assert shared.params["proj.W"] is shared.proj.params["W"]
    # Keras's order: a layer's own weights, then each sub-layer's (params, then buffers)
    names = [w.name for w in model.weights]
    assert names[2:] == ["weight_0", "kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"]
    assert (
        len(model.get_weights()) == len(names) and model.count_params() == 8 + 2 + 6 + 8
    )  # Dense(3->2), gain, proj, BatchNorm
    # a layer called twice: each weight's gradient is the sum over the calls, counted once
    x = np.random.default_rng(1).normal(size=(4, 3))
    r = np.random.default_rng(2).normal(size=(4, 2))
    model.forward(x, training=False)
    model.backward(r)
    analytic = {key: g.copy() for key, g in shared.grads.items()}

    def loss():
        return float((model.forward(x, training=False) * r).sum())

    for key, p in shared.params.items():
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            keep = p[i]
            p[i] = keep + 1e-6
            up = loss()
            p[i] = keep - 1e-6
            numeric[i] = (up - loss()) / 2e-6
            p[i] = keep
        np.testing.assert_allclose(analytic[key], numeric, rtol=1e-5, atol=1e-8, err_msg=key)


def test_no_class_in_minidl_has_its_own_mapping_of_arrays():
    """``SubLayerArrays`` is the one view of a layer's arrays with its sub-layers': a scan of the
    source for other ``MutableMapping`` (or ``Mapping``) subclasses, and for the names of the
    copies it replaced."""
    import ast
    from pathlib import Path

    root = Path(mdl.__file__).parent
    mappings = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(base) for base in node.bases]
                if any(base.split(".")[-1] in ("MutableMapping", "Mapping") for base in bases):
                    mappings.append(f"{path.relative_to(root)}:{node.name}")
        for old in (
            "_NamedArrays",
            "_PartArrays",
            "_InnerArrays",
            "_SubLayerArrays",
            "_sublayers",
            "def parts(",
        ):
            assert old not in source, f"{path.relative_to(root)} still has {old}"
    assert mappings == ["nn/layers/sublayers.py:SubLayerArrays"]


def test_a_shared_wrapper_counts_its_sub_layers_gradients_once_and_keras_lays_out_their_kernels():
    import minidl_keras as keras
    from minidl_keras import layers as keras_layers

    mdl.seed(0)
    inputs = keras.Input((3, 2), dtype="float64")
    shared = keras_layers.TimeDistributed(keras_layers.Dense(2))
    model = keras.Model(inputs, shared(shared(inputs)))
    x = np.random.default_rng(1).normal(size=(4, 3, 2))
    r = np.random.default_rng(2).normal(size=(4, 3, 2))
    model.forward(x)
    model.backward(r)
    w, analytic = shared.params["layer.W"], shared.grads["layer.W"].copy()
    numeric = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        keep = w[i]
        w[i] = keep + 1e-6
        up = float((model.forward(x) * r).sum())
        w[i] = keep - 1e-6
        numeric[i] = (up - float((model.forward(x) * r).sum())) / 2e-6
        w[i] = keep
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)

    conv = keras.Sequential(
        [keras.Input((2, 6, 6, 3)), keras_layers.TimeDistributed(keras_layers.Conv2D(4, 3))]
    )
    assert conv.get_weights()[0].shape == (3, 3, 3, 4)  # Keras's kernel (KH, KW, C, F)
    conv.set_weights(conv.get_weights())


def test_own_arrays_leaves_the_sublayers_arrays_out():
    block = Residual([Dense(4), Tanh()])
    block(np.ones((2, 4), np.float32))
    block.add_param("gate", np.ones(1, np.float32))
    assert list(own_arrays(block.params)) == ["gate"]
    assert sorted(block.params) == ["block.0.W", "block.0.b", "gate"]
    dense = Dense(2)
    assert own_arrays(dense.params) is dense.params  # a layer of its own arrays only
