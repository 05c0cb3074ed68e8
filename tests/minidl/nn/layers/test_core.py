"""Dense, Flatten, Reshape, Dropout and the activations: gradients, shapes, errors."""

import numpy as np
import pytest

import minidl as mdl
from minidl import layers as L
from minidl.nn.gradcheck import check_layer, numerical_gradient, rel_error


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: L.Dense(4),
        lambda: L.Dense(3, use_bias=False),
        lambda: L.Dense(4, activation="tanh"),
        lambda: L.Dense(5, activation="softmax"),
        lambda: L.Dense(3, kernel_regularizer=mdl.regularizers.L1L2(l1=0.01, l2=0.1)),
        L.ReLU,
        L.Sigmoid,
        L.Tanh,
        L.GELU,
        L.Softmax,
        lambda: L.LeakyReLU(0.2),
        L.Flatten,
        lambda: L.Reshape((3, -1)),
    ],
    ids=lambda f: repr(f()),
)
def test_gradients_match_finite_differences(make_layer, rng):
    layer = make_layer()
    x = rng.standard_normal((4, 6))
    if isinstance(layer, (L.ReLU, L.LeakyReLU)):
        x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink where the derivative jumps
    report = check_layer(layer, x)
    assert report.passed, str(report)


def test_regularizer_penalty_enters_gradient_and_loss(rng):
    layer = L.Dense(3, kernel_regularizer=mdl.regularizers.L2(0.5))
    x = rng.standard_normal((2, 4))
    layer.forward(x)
    w = layer.params["W"]
    assert layer.regularization_loss() == pytest.approx(0.5 * float((w**2).sum()), rel=1e-6)
    layer.backward(np.zeros((2, 3)))
    np.testing.assert_array_equal(layer.grads["W"], 0)  # backward: the layer's math alone
    layer.add_penalty_gradients()  # what an optimizer step adds first
    np.testing.assert_allclose(layer.grads["W"], 2 * 0.5 * w, rtol=1e-6)


def test_dense_acts_on_last_axis_of_sequences(rng):
    layer = L.Dense(5)
    x = rng.standard_normal((2, 7, 3))
    y = layer.forward(x)
    assert y.shape == (2, 7, 5)
    np.testing.assert_allclose(y[1, 4], x[1, 4] @ layer.params["W"] + layer.params["b"], rtol=1e-5)
    assert check_layer(L.Dense(2), rng.standard_normal((2, 3, 4))).passed


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.75])
def test_dropout_gradient_and_scaling(tier, rng, rate):
    x = rng.standard_normal((5, 8))
    report = check_layer(L.Dropout(rate), x, training=True)
    assert report.passed, str(report)
    y = L.Dropout(rate).forward(np.ones((2000, 50), np.float32), training=True)
    assert abs(y.mean() - 1.0) < 0.03  # inverted dropout keeps the mean
    assert np.isclose((y == 0).mean(), rate, atol=0.01)


def test_dropout_is_identity_at_inference(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    layer = L.Dropout(0.5)
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    np.testing.assert_array_equal(layer.backward(x), x)


def test_lazy_building_and_dtype(rng):
    layer = L.Dense(7)
    assert not layer.built and layer.params == {}
    layer.forward(rng.standard_normal((2, 3)).astype(np.float32))
    assert layer.built and layer.params["W"].shape == (3, 7) and layer.params["b"].shape == (7,)
    assert layer.params["W"].dtype == np.float32
    layer64 = L.Dense(2)
    layer64.build((5,), dtype=np.float64)
    assert layer64.params["W"].dtype == np.float64


def test_glorot_uniform_is_default_and_bias_zero():
    layer = L.Dense(200)
    layer.build((300,))
    limit = np.sqrt(6 / 500)
    w = layer.params["W"]
    assert w.min() >= -limit and w.max() <= limit and w.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)
    assert not layer.params["b"].any()


def test_errors_name_expected_and_received_shapes(rng):
    layer = L.Dense(4)
    layer.forward(rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match=r"built for inputs \(N, 3\), got shape \(2, 5\)"):
        layer.forward(rng.standard_normal((2, 5)))
    with pytest.raises(ValueError, match=r"Flatten expected input .* got shape \(4,\)"):
        L.Flatten().forward(np.zeros(4))
    with pytest.raises(ValueError, match="cannot turn per-sample shape"):
        L.Reshape((4, 4)).forward(np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"Dropout rate must be in \[0, 1\), got 1.0"):
        L.Dropout(1.0)
    with pytest.raises(ValueError, match="unknown activation 'rleu'"):
        L.Dense(3, activation="rleu")
    with pytest.raises(RuntimeError, match="backward called before forward"):
        L.ReLU().backward(np.zeros((1, 1)))


@pytest.mark.parametrize(
    "make_layer, message",
    [
        (lambda: L.Dense(True), "Dense units must be a positive integer, got True"),
        (lambda: L.Dense(0), "Dense units must be a positive integer, got 0"),
        (lambda: L.Dense(2.5), "Dense units must be a positive integer, got 2.5"),
        (lambda: L.Conv2D(False, 3), "Conv2D filters must be a positive integer, got False"),
        (lambda: L.Conv2DTranspose(True, 3), "Conv2DTranspose filters must be a positive integer, got True"),
        (lambda: L.Embedding(10, True), "Embedding output_dim must be a positive integer, got True"),
    ],
)
def test_a_bool_or_a_non_positive_size_is_refused_with_the_value(make_layer, message):
    with pytest.raises(ValueError, match=message):
        make_layer()


def test_dropout_backward_after_an_identity_pass_keeps_working_on_a_copy(rng):
    import copy
    import pickle

    layer = L.Dropout(0.5)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    layer.forward(x, training=False)
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        np.testing.assert_array_equal(clone.backward(x), x)


def test_numerical_gradient_of_a_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = numerical_gradient(lambda: float((x**3).sum()), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-7)
    assert rel_error(grad, 3 * x**2) < 1e-8


def test_rel_error_is_scale_free_and_fails_non_finite_gradients():
    big = np.array([1e200, -3e200, 2e200])
    assert rel_error(big, big) == 0.0
    assert rel_error(big, 2 * big) == pytest.approx(1 / 3)  # as for [1, -3, 2] and twice it
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([1.0, np.nan]), np.array([1.0, 2.0])) == np.inf
    assert rel_error(np.array([np.inf, 1.0]), np.array([np.inf, 1.0])) == np.inf


def test_check_layer_catches_a_wrong_backward(rng):
    class BrokenReLU(L.ReLU):
        def backward(self, dy):
            return dy  # forgets the mask

    report = check_layer(BrokenReLU(), rng.standard_normal((3, 4)))
    assert not report.passed and "WRONG" in str(report)


AFFINE_OPTIONS = ["kernel_initializer", "kernel_regularizer"]


@pytest.mark.parametrize(
    "cls, args, own",
    [
        (L.Dense, (3,), ["units", "activation", "use_bias"]),
        (L.Conv2D, (2, 3), ["filters", "kernel_size", "stride", "padding", "activation", "use_bias"]),
        (
            L.Conv2DTranspose,
            (2, 3),
            ["filters", "kernel_size", "stride", "padding", "output_padding", "activation", "use_bias"],
        ),
    ],
)
def test_affine_layers_show_every_option_they_take_in_their_signature_config_and_errors(cls, args, own):
    """The options travel through ``**options`` to ``AffineLayer.__init__``; the signature that
    ``help`` and ``get_config`` read still lists them, keyword-only, after the layer's own."""
    import inspect

    parameters = inspect.signature(cls).parameters
    assert list(parameters)[:-1] == own + AFFINE_OPTIONS + ["name"]
    assert all(parameters[name].kind is inspect.Parameter.KEYWORD_ONLY for name in AFFINE_OPTIONS)
    assert parameters["kernel_initializer"].default == "glorot_uniform"

    layer = cls(*args, kernel_regularizer="l2", kernel_initializer="ones")
    config = layer.get_config()
    assert list(config)[: len(own) + len(AFFINE_OPTIONS)] == own + AFFINE_OPTIONS
    assert config["kernel_initializer"] == "ones" and config["kernel_regularizer"] is layer.kernel_regularizer
    again = cls(**config)
    assert again.get_config().keys() == config.keys() and again.kernel_regularizer is not None

    with pytest.raises(
        TypeError, match=rf"{cls.__name__} got unexpected keyword.*kernel_regulariser.*kernel_regularizer"
    ):
        cls(*args, kernel_regulariser="l2")
