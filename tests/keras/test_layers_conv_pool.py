"""Keras layers of issue 43's last round: ``SeparableConv2D``/``DepthwiseConv2D``, pooling with
``padding="same"``, ``layer.kernel``/``layer.bias`` in Keras's layout, and the 1-D layers
built by a channels-last batch. Each backward is checked against finite differences in
float64, and forwards against Keras 3 where it is installed (``KERAS_BACKEND=torch``)."""

import minidl_keras as keras
import numpy as np
import pytest

from minidl.nn.gradcheck import check_layer
from tests.keras.keras_oracle import real_keras


@pytest.mark.parametrize("name", ["Conv1D", "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D"])
def test_an_unbuilt_channels_last_1d_layer_builds_from_a_batch_with_its_channels(name):
    args = {"Conv1D": (4, 3), "AveragePooling1D": (2,)}.get(name, ())  # Keras's required arguments
    layer = getattr(keras.layers, name)(*args)
    x = np.random.default_rng(0).normal(size=(2, 10, 3)).astype(np.float32)
    y = layer(x)
    assert layer.input_shape == (3, 10)  # (C, L) as the layer's code sees it
    assert y.shape[1:] == layer.output_shape == layer.output_shape_for((10, 3))
    if name == "Conv1D":
        assert layer.params["W"].shape == (4, 3, 3)
        assert y.shape == (2, 8, 4)
        with pytest.raises(ValueError, match=r"built for inputs \(N, 10, 3\), got shape \(2, 10, 5\)"):
            layer(np.zeros((2, 10, 5), np.float32))


POOLS = [
    # (Keras name, pool_size, strides, per-sample shape (channels-last))
    ("MaxPooling2D", 2, None, (5, 7, 3)),
    ("MaxPooling2D", 3, 2, (6, 5, 2)),
    ("MaxPooling2D", (3, 2), 1, (4, 5, 2)),
    ("AveragePooling2D", 2, None, (5, 7, 3)),
    ("AveragePooling2D", 3, 2, (6, 5, 2)),
    ("AveragePooling2D", 3, 1, (4, 5, 2)),
    ("MaxPooling1D", 2, None, (7, 3)),
    ("MaxPooling1D", 3, 2, (8, 2)),
    ("AveragePooling1D", 2, None, (7, 3)),
    ("AveragePooling1D", 3, 2, (8, 2)),
]


def _same_pool_by_hand(kind, x, pool, strides):
    """Keras's ``padding="same"`` written out: each window over the valid cells only."""
    spatial = x.shape[1:-1]
    pool = (pool,) * len(spatial) if np.isscalar(pool) else tuple(pool)
    strides = pool if strides is None else (strides,) * len(spatial) if np.isscalar(strides) else strides
    outs = [-(-n // s) for n, s in zip(spatial, strides)]
    befores = [max((o - 1) * s + k - n, 0) // 2 for o, s, k, n in zip(outs, strides, pool, spatial)]
    y = np.zeros((x.shape[0], *outs, x.shape[-1]))
    for index in np.ndindex(*outs):
        window = tuple(
            slice(max(i * s - b, 0), min(i * s - b + k, n))
            for i, s, b, k, n in zip(index, strides, befores, pool, spatial)
        )
        cells = x[(slice(None), *window, slice(None))].reshape(x.shape[0], -1, x.shape[-1])
        y[(slice(None), *index, slice(None))] = cells.max(axis=1) if kind == "max" else cells.mean(axis=1)
    return y


@pytest.mark.parametrize("name, pool, strides, shape", POOLS)
def test_same_pooling_takes_the_valid_cells_of_each_window_and_passes_a_gradient_check(
    name, pool, strides, shape
):
    x = np.random.default_rng(1).normal(size=(2, *shape))
    layer = getattr(keras.layers, name)(pool, strides, padding="same")
    y = layer.forward(x)
    assert y.shape[1:] == layer.output_shape_for(shape)
    expected = _same_pool_by_hand("max" if "Max" in name else "avg", x, pool, strides)
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    report = check_layer(getattr(keras.layers, name)(pool, strides, padding="same"), x)
    assert report.passed, report


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_same_pooling_in_either_data_format(data_format):
    x = np.random.default_rng(2).normal(size=(2, 5, 7, 3))
    last = keras.layers.AveragePooling2D(3, 2, padding="same")
    layer = keras.layers.AveragePooling2D(3, 2, padding="same", data_format=data_format)
    given = x if data_format == "channels_last" else x.transpose(0, 3, 1, 2)
    y = layer.forward(given)
    np.testing.assert_allclose(
        y if data_format == "channels_last" else y.transpose(0, 2, 3, 1), last.forward(x)
    )


@pytest.mark.parametrize("name, pool, strides, shape", POOLS)
def test_same_pooling_matches_keras(name, pool, strides, shape):
    real = real_keras()
    x = np.random.default_rng(3).normal(size=(2, *shape)).astype(np.float32)
    ours = getattr(keras.layers, name)(pool, strides, padding="same").forward(x)
    theirs = real.ops.convert_to_numpy(getattr(real.layers, name)(pool, strides, padding="same")(x))
    if "Average" in name and not _torch_backend_agrees(pool, strides, shape[:-1]):
        # Keras's torch backend pads an uneven "same" with copies of the edge ("replicate") before
        # averaging, so its edge windows differ from TensorFlow's and JAX's (and Keras's docs):
        # compare the windows clear of the padding, and the edge with the rule written out
        expected = _same_pool_by_hand("avg", x.astype(np.float64), pool, strides)
        np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
        inner = tuple(slice(1, -1) for _ in shape[:-1])
        theirs, ours = theirs[(slice(None), *inner)], ours[(slice(None), *inner)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def _torch_backend_agrees(pool, strides, spatial):
    """Whether Keras's torch backend pads "same" equally on both sides (then it averages the
    valid cells only, ``count_include_pad=False``)."""
    pool = (pool,) * len(spatial) if np.isscalar(pool) else tuple(pool)
    strides = pool if strides is None else (strides,) * len(spatial) if np.isscalar(strides) else strides
    totals = [max((-(-n // s) - 1) * s + k - n, 0) for n, s, k in zip(spatial, strides, pool)]
    return all(t % 2 == 0 for t in totals)


def test_same_pooling_saves_and_a_model_with_it_trains(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((9, 9, 2)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2, padding="same"),
            keras.layers.AveragePooling2D(3, strides=2, padding="same"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )
    assert model.layers[1].output_shape == (5, 5, 4) and model.layers[2].output_shape == (3, 3, 4)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 9, 9, 2)).astype(np.float32), rng.integers(0, 3, 32)
    history = model.fit(x, y, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert again.layers[2].padding == "same"
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_layer_kernel_and_bias_are_kerass_layout_views_that_assign(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 6, 6, 3)).astype(np.float32)
    conv, dense = keras.layers.Conv2D(4, 3), keras.layers.Dense(5, use_bias=False)
    model = keras.Sequential([keras.Input((6, 6, 3)), conv, keras.layers.Flatten(), dense])
    assert conv.kernel.shape == (3, 3, 3, 4) and conv.bias.shape == (4,)
    np.testing.assert_array_equal(conv.kernel.numpy(), conv.params["W"].transpose(2, 3, 1, 0))
    assert dense.kernel.shape == (64, 5) and dense.bias is None  # Keras's bias of use_bias=False
    kernel = rng.normal(size=(3, 3, 3, 4)).astype(np.float32)
    conv.kernel.assign(kernel)
    np.testing.assert_array_equal(np.asarray(conv.kernel), kernel)
    np.testing.assert_array_equal(model.weights[0].numpy(), kernel)
    with pytest.raises(ValueError, match=r"expected shape \(3, 3, 3, 4\), got \(4, 3, 3, 3\)"):
        conv.kernel.assign(kernel.transpose(3, 2, 0, 1))
    with pytest.raises(AttributeError, match="Dense.kernel exists once the layer is built"):
        keras.layers.Dense(3).kernel
    conv1d = keras.layers.Conv1D(4, 3)
    conv1d(x[:, 0])
    assert conv1d.kernel.shape == (3, 3, 4)
    norm = keras.layers.BatchNormalization()
    norm(x)
    assert norm.moving_variance.shape == (3,) and norm.gamma.shape == (3,)
    embedding = keras.layers.Embedding(10, 4)
    embedding(np.array([[1, 2]]))
    assert embedding.embeddings.shape == (10, 4)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.layers[0].kernel.numpy(), kernel)


def test_layer_kernel_matches_kerass_own():
    real = real_keras()
    x = np.random.default_rng(5).normal(size=(2, 6, 6, 3)).astype(np.float32)
    theirs, ours = real.layers.Conv2D(4, 3), keras.layers.Conv2D(4, 3)
    want, _ = theirs(x), ours(x)
    ours.kernel.assign(real.ops.convert_to_numpy(theirs.kernel))
    ours.bias.assign(real.ops.convert_to_numpy(theirs.bias))
    np.testing.assert_allclose(ours(x), real.ops.convert_to_numpy(want), rtol=1e-5, atol=1e-5)


SEPARABLE = [
    ("DepthwiseConv2D", (3,), {"depth_multiplier": 2}),
    ("DepthwiseConv2D", ((3, 2),), {"strides": 2, "padding": "same", "activation": "relu"}),
    ("SeparableConv2D", (4, 3), {}),
    ("SeparableConv2D", (5, (2, 3)), {"strides": (2, 1), "padding": "same", "depth_multiplier": 3}),
    ("SeparableConv2D", (4, 3), {"use_bias": False, "activation": "tanh"}),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, args, kwargs", SEPARABLE)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_depthwise_and_separable_convolutions_pass_gradient_checks(name, args, kwargs, data_format):
    x = np.random.default_rng(6).normal(size=(2, 7, 6, 3))
    if data_format == "channels_first":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    layer = getattr(keras.layers, name)(*args, data_format=data_format, **kwargs)
    report = check_layer(layer, x)
    assert report.passed, report
    assert layer.forward(x).shape[1:] == layer.output_shape_for(x.shape[1:])


def test_a_separable_convolution_is_its_depthwise_then_a_1x1_convolution():
    x = np.random.default_rng(7).normal(size=(2, 8, 8, 3)).astype(np.float32)
    separable = keras.layers.SeparableConv2D(5, 3, depth_multiplier=2, activation="relu")
    y = separable(x)
    depthwise = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False)
    pointwise = keras.layers.Conv2D(5, 1, activation="relu")
    depthwise(x), pointwise(np.zeros((1, 6, 6, 6), np.float32))
    depthwise.depthwise_kernel.assign(separable.depthwise_kernel.numpy())
    pointwise.kernel.assign(separable.pointwise_kernel.numpy())
    pointwise.bias.assign(separable.bias.numpy() + 0.5)
    separable.bias.assign(separable.bias.numpy() + 0.5)
    np.testing.assert_allclose(separable(x), pointwise(depthwise(x)), rtol=1e-5, atol=1e-6)
    assert y.shape == (2, 6, 6, 5)
    # each output channel c*M + m of a depthwise convolution reads input channel c only
    x0 = x.copy()
    x0[..., 1] = 0
    changed = np.abs(depthwise(x) - depthwise(x0)).max(axis=(0, 1, 2)) > 0
    np.testing.assert_array_equal(changed, [False, False, True, True, False, False])
    model = keras.Sequential([keras.Input((8, 8, 3)), separable])
    assert [w.shape for w in model.weights] == [(3, 3, 3, 2), (1, 1, 6, 5), (5,)]  # Keras's order
    assert separable.count_params() == 3 * 3 * 3 * 2 + 6 * 5 + 5  # one int, as Keras's
    assert tuple(separable.count_params()) == (3 * 3 * 3 * 2 + 6 * 5 + 5, 0)  # minidl's pair


@pytest.mark.parametrize("name, args, kwargs", SEPARABLE)
def test_depthwise_and_separable_convolutions_match_keras(name, args, kwargs):
    real = real_keras()
    x = np.random.default_rng(8).normal(size=(2, 7, 6, 3)).astype(np.float32)
    theirs = getattr(real.layers, name)(*args, **kwargs)
    want = real.ops.convert_to_numpy(theirs(x))
    ours = keras.Sequential([keras.Input((7, 6, 3)), getattr(keras.layers, name)(*args, **kwargs)])
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert ours.count_params() == theirs.count_params()
    ours.set_weights([real.ops.convert_to_numpy(w) for w in theirs.weights])
    np.testing.assert_allclose(ours.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)


def test_a_separable_cnn_trains_and_saves(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            keras.layers.SeparableConv2D(6, 3, padding="same", activation="relu"),
            keras.layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2),
        ]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 2)).astype(np.float32)
    y = (x[:, :4].mean(axis=(1, 2, 3)) > 0).astype(np.int64)
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.layers[0].pointwise_kernel.shape == (1, 1, 2, 6)
    with pytest.raises(NotImplementedError, match="dilation_rate"):
        keras.layers.SeparableConv2D(4, 3, dilation_rate=2)


# ------------------------------------------------------------------ issue #78: bilinear, output_padding
UPSAMPLING = [
    ("UpSampling2D", (), {"interpolation": "bilinear"}),
    ("UpSampling2D", ((2, 3),), {"interpolation": "bilinear"}),
    ("UpSampling2D", (3,), {"interpolation": "bilinear"}),
    ("Conv2DTranspose", (3, 3), {"strides": 2, "padding": "valid", "output_padding": 1}),
    ("Conv2DTranspose", (2, (3, 2)), {"strides": (2, 3), "output_padding": (1, 2)}),
]


@pytest.mark.parametrize("name, args, kwargs", UPSAMPLING)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_bilinear_upsampling_and_output_padding_pass_gradient_checks(name, args, kwargs, data_format):
    x = np.random.default_rng(9).normal(size=(2, 4, 5, 3))
    if data_format == "channels_first":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    layer = getattr(keras.layers, name)(*args, data_format=data_format, **kwargs)
    report = check_layer(layer, x)
    assert report.passed, report
    assert layer.forward(x).shape[1:] == layer.output_shape_for(x.shape[1:])
    again = type(layer).from_config(layer.get_config())  # saved and made again: the same layer
    again.forward(x)
    if layer.params:
        again.set_weights(layer.get_weights())
    np.testing.assert_allclose(again.forward(x), layer.forward(x))


def test_bilinear_upsampling_interpolates_between_neighbours():
    """Without Keras: a ramp stays a ramp inside (half-pixel centres), edges repeat."""
    x = np.arange(3, dtype=np.float32).reshape(1, 1, 3, 1)
    y = keras.layers.UpSampling2D((1, 2), interpolation="bilinear")(x)
    np.testing.assert_allclose(y[0, 0, :, 0], [0.0, 0.25, 0.75, 1.25, 1.75, 2.0])


@pytest.mark.parametrize("name, args, kwargs", UPSAMPLING)
def test_bilinear_upsampling_and_output_padding_match_keras(name, args, kwargs):
    real = real_keras()
    x = np.random.default_rng(10).normal(size=(2, 4, 5, 3)).astype(np.float32)
    theirs = getattr(real.layers, name)(*args, **kwargs)
    want = real.ops.convert_to_numpy(theirs(x))
    ours = getattr(keras.layers, name)(*args, **kwargs)
    ours(x)
    ours.set_weights([real.ops.convert_to_numpy(w) for w in theirs.weights])
    np.testing.assert_allclose(ours(x), want, rtol=1e-5, atol=1e-5)
