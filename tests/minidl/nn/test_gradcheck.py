"""The gradient checker itself (minidl/nn/gradcheck.py).

* every layer class that ``minidl.nn.layers`` exports passes ``check_layer`` in float64 on a
  small input (a new layer without an entry in ``CASES`` fails ``test_every_layer_has_a_case``);
* a gradient that is zero by construction (MultiHeadAttention's key bias: a softmax ignores a
  constant added to a row of scores) is judged as agreeing, through the absolute floor;
* a wrong gradient still fails: a deliberately broken backward, and a small nonzero error in
  the zero-gradient parameter as soon as it exceeds the floor; the same for ``check_loss``.
"""

import inspect

import numpy as np
import pytest

import minidl as mdl
from minidl import layers as L
from minidl.nn.gradcheck import check_layer, check_loss

pytestmark = pytest.mark.usefixtures("reference_kernels")  # float64 checks on the NumPy reference


def _rng(seed=0):
    return np.random.default_rng(seed)


def _tokens(shape, vocab, seed=0):
    return _rng(seed).integers(0, vocab, size=shape)


def _lora_to_check():
    """LoRA with a nonzero B (at B = 0, dA is zero by construction) and its base unfrozen, so
    that every one of its four arrays is checked."""
    layer = L.LoRA(L.Dense(4, activation="tanh"), rank=2, alpha=3.0)
    layer.build((5,))
    layer.params["B"][...] = _rng(43).standard_normal(layer.params["B"].shape)
    layer.base.trainable = True
    return layer


def _lora_attention_to_check():
    """LoRAAttention on all four projections, with nonzero B and its base unfrozen."""
    layer = L.LoRAAttention(L.MultiHeadAttention(2, 3), rank=2, alpha=3.0, targets="qkvo")
    layer.build((5, 6))
    for p in layer.targets:
        layer.params["B_" + p][...] = _rng(44).standard_normal(layer.params["B_" + p].shape)
    layer.base.trainable = True
    return layer


# name -> (a function making the layer, the input, keyword arguments of check_layer).
# Inputs are small and random, so no ReLU or max-pool input sits on a kink.
CASES = {
    "Dense": (lambda: L.Dense(3, activation="tanh"), _rng(1).standard_normal((4, 5)), {}),
    "Dropout": (lambda: L.Dropout(0.4), _rng(2).standard_normal((4, 6)), {"training": True}),
    "Flatten": (lambda: L.Flatten(), _rng(3).standard_normal((2, 2, 3, 2)), {}),
    "Reshape": (lambda: L.Reshape((3, 4)), _rng(4).standard_normal((2, 12)), {}),
    "ReLU": (lambda: L.ReLU(), _rng(5).standard_normal((3, 7)), {}),
    "LeakyReLU": (lambda: L.LeakyReLU(0.1), _rng(6).standard_normal((3, 7)), {}),
    "Sigmoid": (lambda: L.Sigmoid(), _rng(7).standard_normal((3, 7)), {}),
    "Tanh": (lambda: L.Tanh(), _rng(8).standard_normal((3, 7)), {}),
    "Softmax": (lambda: L.Softmax(), _rng(9).standard_normal((3, 7)), {}),
    "GELU": (lambda: L.GELU(), _rng(10).standard_normal((3, 7)), {}),
    "Conv2D": (lambda: L.Conv2D(3, 3, padding=1), _rng(11).standard_normal((2, 2, 5, 5)), {}),
    "MaxPool2D": (lambda: L.MaxPool2D(2), _rng(12).standard_normal((2, 2, 4, 4)), {}),
    "AvgPool2D": (lambda: L.AvgPool2D(2), _rng(13).standard_normal((2, 2, 4, 4)), {}),
    "GlobalAvgPool2D": (lambda: L.GlobalAvgPool2D(), _rng(14).standard_normal((2, 3, 4, 4)), {}),
    "BatchNorm": (lambda: L.BatchNorm(), _rng(19).standard_normal((4, 3, 2, 2)) * 2 + 1, {"training": True}),
    "LayerNorm": (lambda: L.LayerNorm(), _rng(20).standard_normal((3, 4, 5)) * 2 + 1, {}),
    "SimpleRNN": (lambda: L.SimpleRNN(4, return_sequences=True), _rng(21).standard_normal((2, 5, 3)), {}),
    "LSTM": (lambda: L.LSTM(4), _rng(22).standard_normal((2, 5, 3)), {}),
    "GRU": (lambda: L.GRU(4, return_sequences=True), _rng(23).standard_normal((2, 5, 3)), {}),
    # token ids are integers: no derivative with respect to them, only to the table
    "Embedding": (lambda: L.Embedding(6, 3), _tokens((2, 5), 6), {"wrt_input": False}),
    "MultiHeadAttention": (lambda: L.MultiHeadAttention(2, 3), _rng(24).standard_normal((2, 5, 6)), {}),
    "PositionalEmbedding": (lambda: L.PositionalEmbedding(7), _rng(25).standard_normal((2, 5, 4)), {}),
    "SinusoidalPositionalEncoding": (
        lambda: L.SinusoidalPositionalEncoding(),
        _rng(26).standard_normal((2, 5, 6)),
        {},
    ),
    "TransformerBlock": (
        lambda: L.TransformerBlock(2, mlp_dim=12, causal=True),
        _rng(27).standard_normal((2, 5, 8)),
        {},
    ),
    "UpSampling2D": (lambda: L.UpSampling2D(2), _rng(28).standard_normal((2, 2, 3, 3)), {}),
    "Conv2DTranspose": (
        lambda: L.Conv2DTranspose(2, 3, stride=2, padding=1),
        _rng(29).standard_normal((2, 2, 3, 3)),
        {},
    ),
    "Residual": (
        lambda: L.Residual([L.Dense(5, activation="tanh"), L.Dense(4)], activation="relu"),
        _rng(30).standard_normal((3, 4)),
        {},
    ),
    "ELU": (lambda: L.ELU(0.7), _rng(34).standard_normal((3, 7)), {}),
    "UNet": (lambda: L.UNet(3, filters=(2, 3)), _rng(39).standard_normal((2, 1, 8, 8)), {}),
    "PatchEmbedding": (lambda: L.PatchEmbedding((2, 3), 4), _rng(44).standard_normal((2, 2, 4, 6)), {}),
    "ClassToken": (lambda: L.ClassToken(), _rng(45).standard_normal((2, 3, 4)), {}),
    "SelectToken": (lambda: L.SelectToken(1), _rng(46).standard_normal((2, 3, 4)), {}),
    "LoRA": (_lora_to_check, _rng(47).standard_normal((3, 2, 5)), {}),
    "LoRAAttention": (_lora_attention_to_check, _rng(48).standard_normal((2, 5, 6)), {}),
    # training: z = mu + exp(logvar / 2) eps with eps drawn anew (reseeded: the same) each forward
    "GaussianSample": (lambda: L.GaussianSample(), _rng(42).standard_normal((3, 8)), {"training": True}),
}

# Exported classes that are not layers one can run: the abstract base has no forward.
NOT_CHECKED = {
    "Layer": "the abstract base class: its forward and backward raise NotImplementedError",
    # check_layer feeds one array; Concatenate's backward is checked against finite
    # differences for each of its inputs in tests/minidl/nn/layers/test_merge.py
    "Concatenate": "takes a list of arrays (checked in tests/minidl/nn/layers/test_merge.py)",
    # five inputs (state, memory, mask, ids, logits, decoder inputs): each of its four float
    # inputs and every parameter is checked against finite differences in tests/minidl/nn/layers/test_pointer.py
    "PointerGenerator": "takes several inputs by keyword (checked in tests/minidl/nn/layers/test_pointer.py)",
}


def _exported_layer_classes():
    """{class name: class} of every Layer subclass minidl.nn.layers exports (aliases once)."""
    classes = {}
    for name in L.__all__:
        obj = getattr(L, name)
        if inspect.isclass(obj) and issubclass(obj, L.Layer):
            classes[obj.__name__] = obj
    return classes


def test_every_layer_has_a_case():
    missing = set(_exported_layer_classes()) - set(CASES) - set(NOT_CHECKED)
    assert not missing, f"add a gradient-check case for {sorted(missing)}"


# The default U-Net takes longer than all the other cases together: it runs in `make test`;
# `make test-unit` checks a one-level U-Net (tests/minidl/nn/layers/test_unet.py).
SLOW_CASES = {"UNet"}


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=pytest.mark.slow) if name in SLOW_CASES else name for name in sorted(CASES)],
)
def test_every_layer_passes_the_gradient_check(name):
    make, x, kwargs = CASES[name]
    mdl.seed(0)
    layer = make()
    assert type(layer).__name__ == name
    report = check_layer(layer, x, **kwargs)
    assert report.passed, str(report)
    checked = set(report.errors) - {"x"}
    assert checked == set(layer.params), "every parameter is checked"


# ------------------------------------------------------------ a gradient that is zero by construction
def _attention(seed=0):
    mdl.seed(seed)
    return L.MultiHeadAttention(num_heads=2, key_dim=3), _rng(2).standard_normal((2, 5, 6))


def test_the_key_bias_gradient_is_zero_and_the_check_passes():
    layer, x = _attention()
    report = check_layer(layer, x)
    assert report.passed, str(report)
    assert np.abs(layer.grads["bk"]).max() < 1e-12, "softmax ignores a constant added to a row"
    # the relative error alone would call it wrong: two rounding noises, unrelated
    assert report.errors["bk"] > 0.1
    assert report.abs_errors["bk"] <= report.floor
    assert "zero to rounding" in str(report) and "WRONG" not in str(report)
    for key in set(report.errors) - {"bk"}:
        assert report.errors[key] < 1e-7, f"d/d{key}: {report.errors[key]:.1e}"


@pytest.mark.slow
def test_the_transformer_block_passes_with_its_zero_key_bias():
    mdl.seed(0)
    block = L.TransformerBlock(num_heads=2, mlp_dim=16, causal=True)
    report = check_layer(block, _rng(4).standard_normal((2, 5, 8)))
    assert report.passed, str(report)
    assert report.errors["attn.bk"] > 0.1 and report.abs_errors["attn.bk"] <= report.floor


class _BrokenBackward(L.MultiHeadAttention):
    """MultiHeadAttention whose backward forgets a factor: dWq is 1 % too large."""

    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["Wq"] = self.grads["Wq"] * 1.01
        return dx


class _BiasLeak(L.MultiHeadAttention):
    """MultiHeadAttention whose backward writes a small nonzero dbk of ``size`` (times the
    largest entry of dWq), where the true gradient is zero."""

    size = 0.0

    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["bk"] = self.grads["bk"] + self.size * np.abs(self.grads["Wq"]).max()
        return dx


def test_a_broken_backward_fails():
    mdl.seed(0)
    report = check_layer(_BrokenBackward(num_heads=2, key_dim=3), _rng(2).standard_normal((2, 5, 6)))
    assert not report.passed
    assert not report.agrees("Wq") and report.agrees("Wk")
    assert "WRONG" in str(report)


@pytest.mark.parametrize("size", [1e-3, 1e-5])
def test_a_small_nonzero_error_in_a_zero_gradient_fails(size):
    mdl.seed(0)
    layer = _BiasLeak(num_heads=2, key_dim=3)
    layer.size = size
    report = check_layer(layer, _rng(2).standard_normal((2, 5, 6)))
    assert report.abs_errors["bk"] > report.floor
    assert not report.passed and not report.agrees("bk"), str(report)


def test_an_error_below_the_floor_is_rounding():
    """The floor's size: an error 100 times below it (1e-9 of the largest gradient) is accepted,
    as rounding of that size must be; the same error 100 times larger is not (test above)."""
    mdl.seed(0)
    layer = _BiasLeak(num_heads=2, key_dim=3)
    layer.size = 1e-9
    report = check_layer(layer, _rng(2).standard_normal((2, 5, 6)))
    assert report.passed, str(report)


def test_the_floor_scales_with_the_gradients():
    """Scaling the loss by 1000 scales every gradient, and the floor with them: same verdicts."""
    layer, x = _attention()
    small = check_layer(layer, x)
    layer, x = _attention()
    layer.forward = (lambda forward: lambda x, training=False: 1000.0 * forward(x, training))(layer.forward)
    layer.backward = (lambda backward: lambda dy: backward(1000.0 * dy))(layer.backward)
    large = check_layer(layer, x)
    assert large.passed and small.passed
    assert large.floor == pytest.approx(1000.0 * small.floor, rel=1e-6)


def test_atol_zero_restores_the_relative_test_alone():
    layer, x = _attention()
    assert not check_layer(layer, x, atol=0.0).passed


# ------------------------------------------------------------ check_loss
class _FirstColumnSquares:
    """L = sum of squares of column 0 of y_pred: the other columns have zero gradient."""

    def __init__(self, broken=0.0):
        self.broken = broken

    def __call__(self, y_pred, y_true):
        self.y_pred = y_pred
        return float(np.sum((y_pred[:, 0] - y_true) ** 2))

    def backward(self):
        grad = np.zeros_like(self.y_pred)
        grad[:, 0] = 2 * (self.y_pred[:, 0] - self.y_true_cached)
        grad[:, 1:] += self.broken * np.abs(grad[:, 0]).max()
        return grad


def _check_first_column(broken):
    loss = _FirstColumnSquares(broken)
    y_pred, y_true = _rng(40).standard_normal((4, 3)), _rng(41).standard_normal(4)
    loss.y_true_cached = y_true
    return check_loss(loss, y_pred, y_true)


def test_check_loss_passes_a_correct_loss_with_zero_entries_and_fails_a_wrong_one():
    assert _check_first_column(0.0).passed
    report = _check_first_column(1e-4)
    assert not report.passed and report.abs_errors["y_pred"] > report.floor


def test_the_library_losses_still_pass():
    from minidl import losses

    logits, labels = _rng(42).standard_normal((5, 4)), _tokens(5, 4, seed=43)
    assert check_loss(losses.SparseCategoricalCrossentropy(from_logits=True), logits, labels).passed


def test_the_report_holds_the_largest_absolute_difference_and_inf_for_a_nan():
    class Square:  # sum(y^2), its backward 2y off by `error` in the first entry
        def __init__(self, error):
            self.error, self.y = error, None

        def __call__(self, y_pred, y_true):
            self.y = y_pred.copy()
            return float(np.sum(y_pred**2))

        def backward(self):
            return 2 * self.y + np.array([self.error, 0.0])

    y = np.array([1.0, 2.0])
    assert check_loss(Square(0.5), y, None).abs_errors["y_pred"] == pytest.approx(0.5, abs=1e-6)
    report = check_loss(Square(np.nan), y, None)
    assert report.abs_errors["y_pred"] == float("inf") and not report.passed
