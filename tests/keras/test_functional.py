"""The layer-level tape of ``minidl_keras``: the functional API, merging layers, ``keras.ops``,
custom layers, subclassed models and ``Lambda``.

Every gradient is checked in float64 against central differences: the inputs' and every
weight's, through fan-out (a tensor read twice), shared layers (one layer called twice) and
nested models. Where Keras 3 is installed (PyTorch backend), the same programs run in Keras
from the same weights and must give the same numbers; elsewhere those tests skip.
"""

import math

import minidl_keras as keras
import numpy as np
import pytest
from minidl_keras import layers, ops
from minidl_keras.graph import Graph, KerasTensor

import minidl as mdl
from minidl.nn.gradcheck import numerical_gradient, rel_error
from tests.keras.keras_oracle import real_keras


def as_list(y):
    return y if isinstance(y, list) else [y]


def check_model_gradients(model, xs, seed=0, tolerance=1e-6):
    """float64: dL/d(inputs) and dL/d(every weight) of L = sum_k <y_k, r_k> (r random)."""
    rng = np.random.default_rng(seed)
    ys = as_list(model.forward(xs if len(xs) > 1 else xs[0], training=True))
    rs = [rng.normal(size=y.shape) for y in ys]
    dxs = as_list(model.backward(rs if len(rs) > 1 else rs[0]))
    leaves = model.leaf_layers()
    analytic = {(id(leaf), k): g.copy() for leaf in leaves for k, g in leaf.grads.items()}

    def loss():
        outs = as_list(model.forward(xs if len(xs) > 1 else xs[0], training=True))
        return sum(float((y * r).sum()) for y, r in zip(outs, rs))

    for x, dx in zip(xs, dxs):
        if np.issubdtype(x.dtype, np.floating):
            assert rel_error(dx, numerical_gradient(loss, x)) < tolerance
    assert analytic, "the model has weights"
    for leaf in leaves:
        for key, p in leaf.params.items():
            numeric = numerical_gradient(loss, p)
            assert rel_error(analytic[(id(leaf), key)], numeric) < tolerance, (leaf.label, key)


# ------------------------------------------------------------------ the functional API
def two_input_two_output(dtype="float64"):
    a = keras.Input(shape=(5,), dtype=dtype, name="a")
    b = keras.Input(shape=(3,), dtype=dtype, name="b")
    shared = layers.Dense(4, activation="tanh")
    ha = shared(layers.Dense(4)(a))  # the shared layer, first call
    hb = shared(layers.Dense(4)(b))  # second call
    skip = layers.Add()([ha, hb, layers.Dense(4)(a)])  # `a` fans out to two layers
    joined = layers.Concatenate()([skip, b])  # `b` fans out too
    out1 = layers.Dense(1, name="score")(joined)
    out2 = layers.Dense(3, name="label")(layers.Multiply()([skip, ha]))
    return keras.Model(inputs=[a, b], outputs=[out1, out2])


def test_functional_graph_passes_float64_gradient_checks_with_fan_out_and_a_shared_layer():
    mdl.seed(0)
    model = two_input_two_output()
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(6, 5)), rng.normal(size=(6, 3))]
    check_model_gradients(model, xs)


@pytest.mark.parametrize("merge", ["Add", "Subtract", "Multiply", "Average", "Concatenate"])
def test_merging_layers_pass_gradient_checks(merge):
    mdl.seed(0)
    a, b = keras.Input((4,), dtype="float64"), keras.Input((4,), dtype="float64")
    merged = getattr(layers, merge)()([layers.Dense(4)(a), b])
    model = keras.Model([a, b], layers.Dense(2)(merged))
    rng = np.random.default_rng(2)
    check_model_gradients(model, [rng.normal(size=(5, 4)), rng.normal(size=(5, 4))])


def test_merging_layers_compute_what_they_say():
    x, y = np.arange(6.0).reshape(2, 3), np.ones((2, 3))
    assert np.array_equal(layers.Add()([x, y]), x + y)
    assert np.array_equal(layers.Subtract()([x, y]), x - y)
    assert np.array_equal(layers.Multiply()([x, y, x]), x * x)
    assert np.array_equal(layers.Average()([x, y]), (x + y) / 2)
    assert np.array_equal(layers.Concatenate()([x, y]), np.concatenate([x, y], axis=1))
    with pytest.raises(ValueError, match="one shape"):
        layers.Add()([x, np.ones((2, 4))])
    with pytest.raises(ValueError, match="exactly 2"):
        layers.Subtract()([x, x, x])


def test_a_residual_block_and_a_nested_sequential_train_as_one_graph():
    mdl.seed(0)
    base = keras.Sequential([keras.Input((6,)), layers.Dense(6, activation="relu")])
    inputs = keras.Input((6,))
    x = base(inputs)
    x = layers.Add()([x, inputs])  # skip connection
    model = keras.Model(inputs, layers.Dense(1)(x))
    assert len(model.layers) == 4 and model.layers[1] is base  # Input, base, Add, Dense
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(128, 6)).astype("float32")
    ys = xs[:, :1] * 2 + xs[:, 1:2]
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    history = model.fit(xs, ys, 32, 30, verbose=0)  # Keras's positional batch_size, epochs
    assert len(history.history["loss"]) == 30
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    base.trainable = False
    frozen = base.get_weights()
    model.fit(xs, ys, epochs=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(frozen, base.get_weights()))


def test_multi_input_multi_output_fit_evaluate_predict_with_per_output_losses_and_metrics():
    mdl.seed(0)
    model = two_input_two_output("float32")
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(96, 5)).astype("float32"), rng.normal(size=(96, 3)).astype("float32")
    score = xa[:, :1] - xb[:, :1]
    label = (xa[:, 0] > 0).astype(int) + (xb[:, 0] > 0)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=["mse", keras.losses.SparseCategoricalCrossentropy(from_logits=True)],
        loss_weights=[1.0, 0.5],
        metrics=[["mae"], ["accuracy"]],
    )
    assert model.metrics_names == ["loss", "compile_metrics", "score_loss", "label_loss"]
    history = model.fit(
        {"a": xa, "b": xb},
        [score, label],
        batch_size=16,
        epochs=20,
        verbose=0,
        validation_data=([xa, xb], [score, label]),
    )
    assert set(history.history) == {
        f"{prefix}{name}"
        for prefix in ("", "val_")
        for name in ("loss", "score_loss", "label_loss", "score_mae", "label_accuracy")
    }
    last = {k: v[-1] for k, v in history.history.items()}
    assert last["loss"] == pytest.approx(last["score_loss"] + 0.5 * last["label_loss"], rel=1e-6)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    result = model.evaluate([xa, xb], {"score": score, "label": label}, return_dict=True)
    assert result["label_accuracy"] > 0.6
    predicted = model.predict([xa, xb], batch_size=40)
    assert [p.shape for p in predicted] == [(96, 1), (96, 3)]
    assert model.count_params() == sum(w.size for w in model.get_weights())
    assert isinstance(model.count_params(), int)


def test_summary_lists_inputs_and_each_layer_once_with_keras_names(capsys):
    mdl.seed(0)
    keras.backend.clear_session()  # Keras's names count through the session
    model = two_input_two_output("float32")
    model.summary()
    text = capsys.readouterr().out
    assert "a (InputLayer)" in text and "(None, 5)" in text
    assert "dense_1 (Dense)" in text and "concatenate (Concatenate)" in text
    assert f"Total params: {model.count_params():,}" in text
    assert model.get_layer("score").units == 1


def test_symbolic_tensors_never_reach_numpy_and_unsupported_calls_say_so():
    x = keras.Input(shape=(4,))
    with pytest.raises(TypeError, match="symbolic"):
        np.exp(x)
    with pytest.raises(TypeError, match="symbolic"):
        float(x)
    with pytest.raises(NotImplementedError, match="initial_state"):
        layers.Dense(2)(x, initial_state=x)
    with pytest.raises(NotImplementedError, match="constants"):
        layers.Dense(2)(x, constants=x)
    other = keras.Input(shape=(4,))
    with pytest.raises(ValueError, match="not among the model's inputs"):
        keras.Model(x, layers.Add()([x, other]))
    with pytest.raises(TypeError, match="keras.Input"):
        keras.Model(layers.Dense(2)(x), layers.Dense(2)(x))
    with pytest.raises(ValueError, match="cannot take inputs"):
        layers.Add()([x, keras.Input(shape=(5,))])
    with pytest.raises(TypeError, match="inputs and outputs"):
        keras.Model()


def test_keras_input_still_starts_a_sequential():
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2)])
    assert model.input_shape == (None, 3) and len(model.layers) == 1  # Keras's shape, the batch axis None


# ------------------------------------------------------------------ keras.ops
def _pos(shape, rng):
    return rng.uniform(0.5, 2.0, size=shape)


OPS = {
    "matmul": (lambda a, b: ops.matmul(a, b), [(3, 4), (4, 2)]),
    "matmul_batched": (lambda a, b: ops.matmul(a, b), [(2, 3, 4), (4, 2)]),
    "add_broadcast": (lambda a, b: ops.add(a, b), [(3, 4), (4,)]),
    "subtract": (lambda a, b: ops.subtract(a, b), [(3, 4), (3, 1)]),
    "multiply": (lambda a, b: ops.multiply(a, b), [(3, 4), (3, 4)]),
    "divide": (lambda a, b: ops.divide(a, b), [(3, 4), "pos(4,)"]),
    "exp": (ops.exp, [(3, 4)]),
    "sin": (ops.sin, [(3, 4)]),
    "cos": (ops.cos, [(3, 4)]),
    "log": (ops.log, ["pos(3, 4)"]),
    "sqrt": (ops.sqrt, ["pos(3, 4)"]),
    "square": (ops.square, [(3, 4)]),
    "abs": (ops.abs, [(3, 4)]),
    "maximum": (lambda a, b: ops.maximum(a, b), [(3, 4), (3, 4)]),
    "relu": (ops.relu, [(3, 4)]),
    "sigmoid": (ops.sigmoid, [(3, 4)]),
    "tanh": (ops.tanh, [(3, 4)]),
    "softmax": (lambda x: ops.softmax(x, axis=-1), [(3, 4)]),
    "sum": (lambda x: ops.sum(x, axis=1), [(3, 4)]),
    "sum_all": (lambda x: ops.sum(x), [(3, 4)]),
    "mean": (lambda x: ops.mean(x, axis=-1, keepdims=True), [(3, 4)]),
    "max": (lambda x: ops.max(x, axis=1), [(3, 4)]),
    "reshape": (lambda x: ops.reshape(x, (-1, 2, 6)), [(3, 4, 3)]),
    "transpose": (lambda x: ops.transpose(x, (0, 2, 1)), [(3, 4, 2)]),
    "concatenate": (lambda a, b: ops.concatenate([a, b], axis=-1), [(3, 4), (3, 2)]),
    "stack": (lambda a, b: ops.stack([a, b], axis=1), [(3, 4), (3, 4)]),
    "expand_dims": (lambda x: ops.expand_dims(x, -1), [(3, 4)]),
    "squeeze": (lambda x: ops.squeeze(x, 1), [(3, 1, 4)]),
    "where": (lambda a, b: ops.where(np.arange(4) % 2 == 0, a, b), [(3, 4), (3, 4)]),
    "clip": (lambda x: ops.clip(x, -0.5, 0.5), [(3, 4)]),
    "take": (lambda x: ops.take(x, np.array([[0, 2], [2, 2]]), axis=1), [(3, 4)]),
    "take_flat": (lambda x: ops.take(x, np.array([0, 5, 5])), [(3, 4)]),
    "getitem": (lambda x: x[:, 1:3], [(3, 4)]),
    "operators": (
        lambda a, b: (2.0 * a - b / 3.0) @ ops.transpose(a) + (-a) ** 2 @ ops.transpose(b),
        [(3, 4), (3, 4)],
    ),
    "one_hot_times": (lambda x: x * ops.one_hot(np.array([0, 1, 3]), 4), [(3, 4)]),
    "log1p": (ops.log1p, ["pos(3, 4)"]),
    "expm1": (ops.expm1, [(3, 4)]),
    "erf": (ops.erf, [(3, 4)]),
    "rsqrt": (ops.rsqrt, ["pos(3, 4)"]),
    "softplus": (ops.softplus, [(3, 4)]),
    "silu": (ops.silu, [(3, 4)]),
    "log_softmax": (lambda x: ops.log_softmax(x, axis=0), [(3, 4)]),
    "logsumexp": (lambda x: ops.logsumexp(x, axis=-1), [(3, 4)]),
    "logsumexp_all": (lambda x: ops.logsumexp(x, keepdims=True), [(3, 4)]),
    "min": (lambda x: ops.min(x, axis=0), [(3, 4)]),
    "var": (lambda x: ops.var(x, axis=1, keepdims=True), [(3, 4)]),
    "std": (lambda x: ops.std(x, axis=0), [(3, 4)]),
    "norm": (lambda x: ops.norm(x, axis=-1), [(3, 4)]),
    "norm_all": (lambda x: ops.norm(x), [(3, 4)]),
    "norm_1": (lambda x: ops.norm(x, ord=1, axis=0), [(3, 4)]),
    "cumsum": (lambda x: ops.cumsum(x, axis=1), [(3, 4)]),
    "cumsum_flat": (lambda x: ops.cumsum(x), [(3, 4)]),
    "swapaxes": (lambda x: ops.swapaxes(x, 0, 2), [(3, 4, 2)]),
    "flip": (lambda x: ops.flip(x, axis=1), [(3, 4)]),
    "sort": (lambda x: ops.sort(x, axis=0), [(3, 4)]),
    "top_k": (lambda x: ops.top_k(x, 2)[0], [(3, 4)]),
    "take_along_axis": (
        lambda x: ops.take_along_axis(x, np.array([[0, 0], [3, 1], [2, 2]]), axis=1),
        [(3, 4)],
    ),
    "where_less": (
        lambda a, b: ops.where(ops.less(a, b), a * ops.ones_like(a), b + ops.zeros_like(b)),
        [(3, 4), (3, 4)],
    ),
}

# the ops added in round 3, compared with Keras's on the same arrays (eager values)
NEW_OPS = {
    "log1p": (lambda k, x: k.ops.log1p(x), "pos"),
    "expm1": (lambda k, x: k.ops.expm1(x), "normal"),
    "erf": (lambda k, x: k.ops.erf(x), "normal"),
    "rsqrt": (lambda k, x: k.ops.rsqrt(x), "pos"),
    "sign": (lambda k, x: k.ops.sign(x), "normal"),
    "floor": (lambda k, x: k.ops.floor(x), "normal"),
    "ceil": (lambda k, x: k.ops.ceil(x), "normal"),
    "round": (lambda k, x: k.ops.round(3 * x), "normal"),
    "softplus": (lambda k, x: k.ops.softplus(x), "normal"),
    "silu": (lambda k, x: k.ops.silu(x), "normal"),
    "log_softmax": (lambda k, x: k.ops.log_softmax(x, axis=0), "normal"),
    "logsumexp": (lambda k, x: k.ops.logsumexp(x, axis=-1), "normal"),
    "min": (lambda k, x: k.ops.min(x, axis=0), "normal"),
    "var": (lambda k, x: k.ops.var(x, axis=1), "normal"),
    "std": (lambda k, x: k.ops.std(x), "normal"),
    "norm": (lambda k, x: k.ops.norm(x, axis=-1), "normal"),
    "norm_all": (lambda k, x: k.ops.norm(x), "normal"),
    "norm_1": (lambda k, x: k.ops.norm(x, ord=1, axis=0), "normal"),
    "cumsum": (lambda k, x: k.ops.cumsum(x, axis=1), "normal"),
    "cumsum_flat": (lambda k, x: k.ops.cumsum(x), "normal"),
    "swapaxes": (lambda k, x: k.ops.swapaxes(x, 0, 1), "normal"),
    "flip": (lambda k, x: k.ops.flip(x, axis=1), "normal"),
    "sort": (lambda k, x: k.ops.sort(x, axis=0), "normal"),
    "argsort": (lambda k, x: k.ops.argsort(x, axis=-1), "normal"),
    "argmin": (lambda k, x: k.ops.argmin(x, axis=0), "normal"),
    "top_k_values": (lambda k, x: k.ops.top_k(x, 2)[0], "normal"),
    "top_k_indices": (lambda k, x: k.ops.top_k(x, 2)[1], "normal"),
    "take_along_axis": (
        lambda k, x: k.ops.take_along_axis(x, np.array([[0, 0], [3, 1], [2, 2]]), axis=1),
        "normal",
    ),
    "less": (lambda k, x: k.ops.less(x, 0.1), "normal"),
    "greater_equal": (lambda k, x: k.ops.greater_equal(x, 0.1), "normal"),
    "zeros_like": (lambda k, x: k.ops.zeros_like(x), "normal"),
    "ones_like": (lambda k, x: k.ops.ones_like(x), "normal"),
}


def _new_op_input(kind):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 4)).astype("float32")
    return np.abs(x) + 0.5 if kind == "pos" else x


@pytest.mark.parametrize("name", sorted(NEW_OPS))
def test_new_ops_compute_what_numpy_says(name):
    fn, kind = NEW_OPS[name]
    x = _new_op_input(kind).astype(np.float64)
    expected = {
        "log1p": lambda: np.log1p(x),
        "expm1": lambda: np.expm1(x),
        "erf": lambda: np.array([[math.erf(v) for v in row] for row in x]),
        "rsqrt": lambda: 1 / np.sqrt(x),
        "sign": lambda: np.sign(x),
        "floor": lambda: np.floor(x),
        "ceil": lambda: np.ceil(x),
        "round": lambda: np.round(3 * x),
        "softplus": lambda: np.log(1 + np.exp(x)),
        "silu": lambda: x / (1 + np.exp(-x)),
        "log_softmax": lambda: x - np.log(np.exp(x).sum(axis=0, keepdims=True)),
        "logsumexp": lambda: np.log(np.exp(x).sum(axis=-1)),
        "min": lambda: x.min(axis=0),
        "var": lambda: x.var(axis=1),
        "std": lambda: x.std(),
        "norm": lambda: np.sqrt((x * x).sum(axis=-1)),
        "norm_all": lambda: np.sqrt((x * x).sum()),
        "norm_1": lambda: np.abs(x).sum(axis=0),
        "cumsum": lambda: np.cumsum(x, axis=1),
        "cumsum_flat": lambda: np.cumsum(x),
        "swapaxes": lambda: x.T,
        "flip": lambda: x[:, ::-1],
        "sort": lambda: np.sort(x, axis=0),
        "argsort": lambda: np.argsort(x, axis=-1),
        "argmin": lambda: x.argmin(axis=0),
        "top_k_values": lambda: -np.sort(-x, axis=-1)[:, :2],
        "top_k_indices": lambda: np.argsort(-x, axis=-1)[:, :2],
        "take_along_axis": lambda: np.take_along_axis(x, np.array([[0, 0], [3, 1], [2, 2]]), axis=1),
        "less": lambda: x < 0.1,
        "greater_equal": lambda: x >= 0.1,
        "zeros_like": lambda: np.zeros_like(x),
        "ones_like": lambda: np.ones_like(x),
    }[name]()
    np.testing.assert_allclose(fn(keras, x), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(NEW_OPS))
def test_new_ops_match_keras(name):
    real = real_keras()
    fn, kind = NEW_OPS[name]
    x = _new_op_input(kind)
    theirs = real.ops.convert_to_numpy(fn(real, x))
    ours = fn(keras, x)
    assert np.shape(ours) == np.shape(theirs)
    np.testing.assert_allclose(
        np.asarray(ours, dtype=np.float64), theirs.astype(np.float64), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_passes_a_float64_gradient_check(name):
    fn, specs = OPS[name]
    rng = np.random.default_rng(0)
    arrays = []
    for spec in specs:
        if isinstance(spec, str):
            arrays.append(_pos(eval(spec[3:]), rng))  # noqa: S307  (a shape literal)
        else:
            arrays.append(rng.normal(size=spec))
    # the eager result is NumPy's
    eager = fn(*arrays)
    inputs = [KerasTensor(a.shape, "float64") for a in arrays]
    graph = Graph(inputs, [fn(*inputs)])
    (y,), tape = graph.forward(arrays)
    assert np.allclose(y, eager)
    r = rng.normal(size=y.shape)
    grads = graph.backward(tape, [r])

    def loss():
        return float((graph.forward(arrays)[0][0] * r).sum())

    for a, g in zip(arrays, grads):
        assert g.shape == a.shape
        assert rel_error(g, numerical_gradient(loss, a)) < 1e-6


def test_op_output_shapes_keep_the_free_batch_axis():
    x = keras.Input((4, 3))
    assert ops.sum(x, axis=1).shape == (None, 3)
    assert ops.transpose(x, (0, 2, 1)).shape == (None, 3, 4)
    assert ops.matmul(x, np.ones((3, 5), np.float32)).shape == (None, 4, 5)
    assert ops.one_hot(keras.Input((7,), dtype="int32"), 5).shape == (None, 7, 5)
    with pytest.raises(NotImplementedError, match="keras.ops.einsum"):
        ops.einsum  # noqa: B018


# ------------------------------------------------------------------ custom layers, subclassed models, Lambda
class Linear(layers.Layer):
    """keras.io's "Making new layers and models via subclassing" example."""

    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True
        )
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


class GatedBlock(layers.Layer):
    """A layer that holds a layer, a non-trainable weight and a training-dependent branch."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.proj = layers.Dense(units)
        self.units = units

    def build(self, input_shape):
        self.gate = self.add_weight(shape=(self.units,), initializer="ones")
        self.scale = self.add_weight(shape=(), initializer="ones", trainable=False)

    def call(self, inputs, training=None):
        h = self.proj(inputs)
        return ops.sigmoid(h * self.gate) * ops.tanh(h) * self.scale


def test_custom_layers_pass_gradient_checks_inside_a_functional_model():
    mdl.seed(0)
    inputs = keras.Input((5,), dtype="float64")
    x = Linear(4, dtype="float64")(inputs)
    x = GatedBlock(3, dtype="float64")(x)
    model = keras.Model(inputs, layers.Lambda(lambda t: ops.square(t) + t)(x))
    weighted = [type(leaf).__name__ for leaf in model.leaf_layers() if leaf.params]
    assert weighted == ["Linear", "GatedBlock"]  # the Dense it holds is a sub-layer: "proj.W"
    block = next(leaf for leaf in model.leaf_layers() if type(leaf).__name__ == "GatedBlock")
    assert block.sublayers() == {"proj": block.proj} and block.params["proj.W"] is block.proj.params["W"]
    check_model_gradients(model, [np.random.default_rng(0).normal(size=(4, 5))])
    assert Linear(3).get_config() == {"name": None, "trainable": True, "dtype": "float32", "units": 3}


class ResidualMLP(keras.Model):
    def __init__(self, hidden=16, classes=3):
        super().__init__()
        self.inp = layers.Dense(hidden, activation="relu")
        self.block = layers.Dense(hidden, activation="relu")
        self.dropout = layers.Dropout(0.1)
        self.head = layers.Dense(classes)

    def call(self, inputs, training=False):
        x = self.inp(inputs)
        x = x + self.block(x)  # the skip connection of a subclassed model
        x = self.dropout(x, training=training)
        return self.head(x)


def test_a_subclassed_model_trains_and_records_one_graph_per_shape():
    mdl.seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    model = ResidualMLP()
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(x, y, batch_size=24, epochs=15, verbose=0)
    assert history.history["accuracy"][-1] > 0.8
    assert len(model._traces) == 1  # one graph for every training batch of this shape
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense", "Dropout", "Dense"]
    assert model.count_params() == 4 * 16 + 16 + 16 * 16 + 16 + 16 * 3 + 3
    assert model.predict(x[:7]).shape == (7, 3)
    assert len(model._traces) == 2  # and one for inference (training=False)


def test_a_subclassed_model_passes_a_gradient_check():
    class TwoTowers(keras.Model):
        def __init__(self):
            super().__init__()
            self.left, self.right = layers.Dense(3, activation="tanh"), Linear(3, dtype="float64")

        def call(self, inputs):
            a, b = inputs
            return ops.concatenate([self.left(a), self.right(b) * self.left(b)], axis=-1)

    mdl.seed(0)
    model = TwoTowers()
    rng = np.random.default_rng(0)
    check_model_gradients(model, [rng.normal(size=(4, 3)), rng.normal(size=(4, 3))])


def test_custom_metric_functions_are_called_as_keras_calls_them():
    seen = []

    def first_is_target(y_true, y_pred):
        seen.append((y_true.shape, y_pred.shape))
        return ops.mean(ops.abs(y_true - y_pred))

    inputs = keras.Input((3,))
    model = keras.Model(inputs, layers.Dense(2)(inputs))
    model.compile(loss="mse", metrics=[first_is_target])
    model.fit(np.ones((8, 3)), np.zeros((8, 1)) + np.arange(2), epochs=1, batch_size=8, verbose=0)
    assert seen and all(t == (8, 2) for t, _ in seen)


# ------------------------------------------------------------------ against Keras 3
def test_functional_model_matches_keras_forward_and_gradients():
    real = real_keras()
    import torch

    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(6, 5)).astype("float32"), rng.normal(size=(6, 3)).astype("float32")

    def build(K):
        a, b = K.Input((5,)), K.Input((3,))
        shared = K.layers.Dense(4, activation="tanh")
        ha, hb = shared(K.layers.Dense(4)(a)), shared(K.layers.Dense(4)(b))
        skip = K.layers.Add()([ha, hb, K.layers.Dense(4)(a)])
        joined = K.layers.Concatenate()([skip, b])
        return K.Model(
            [a, b], [K.layers.Dense(1)(joined), K.layers.Dense(3)(K.layers.Multiply()([skip, ha]))]
        )

    theirs = build(real)
    mdl.seed(0)
    ours = build(keras)
    ours.set_weights(theirs.get_weights())
    for mine, other in zip(ours.predict([xa, xb]), theirs.predict([xa, xb], verbose=0)):
        np.testing.assert_allclose(mine, other, rtol=1e-5, atol=1e-6)
    # the gradient of one loss with respect to every weight
    r1, r2 = rng.normal(size=(6, 1)).astype("float32"), rng.normal(size=(6, 3)).astype("float32")
    y1, y2 = theirs([torch.tensor(xa), torch.tensor(xb)])
    loss = (y1 * torch.tensor(r1)).sum() + (y2 * torch.tensor(r2)).sum()
    loss.backward()
    their_grads = [w.value.grad.numpy() for w in theirs.weights]
    ours.forward([xa, xb], training=True)
    ours.backward([r1, r2])
    our_grads = [g for leaf in ours.leaf_layers() for g in leaf.grads.values()]
    assert len(our_grads) == len(their_grads)
    for mine, other in zip(our_grads, their_grads):
        np.testing.assert_allclose(mine, other, rtol=1e-4, atol=1e-5)
    assert ours.count_params() == theirs.count_params()


def _named_models(k):
    """A Sequential and a functional model with unnamed layers, built in a fresh session."""
    k.backend.clear_session()
    stack = k.Sequential([k.Input((4,)), k.layers.Dense(3), k.layers.Dense(2, name="out"), k.layers.Dense(2)])
    inputs = k.Input((8,))
    x = k.layers.Conv1D(2, 3)(k.layers.Reshape((8, 1))(inputs))
    x = k.layers.LSTM(3)(k.layers.MaxPooling1D()(x))
    graph = k.Model(inputs, k.layers.Dense(1)(k.layers.Dropout(0.1)(x)))
    return [layer.name for layer in stack.layers], [layer.name for layer in graph.layers]


def test_unnamed_layers_get_keras_names_counted_through_the_session():
    names = _named_models(keras)
    assert names == (
        ["dense", "out", "dense_1"],
        ["input_layer_1", "reshape", "conv1d", "max_pooling1d", "lstm", "dropout", "dense_2"],
    )
    assert _named_models(keras) == names  # clear_session starts the counts again
    real = real_keras()
    assert _named_models(real) == names


def test_get_layer_finds_a_layer_by_the_name_keras_gave_it():
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)])
    assert model.get_layer("dense_1") is model.layers[1]
