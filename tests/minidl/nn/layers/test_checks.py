"""The argument and batch checks of ``minidl/nn/layers/checks.py``: each error names what was
expected and what was received."""

import numpy as np
import pytest

from minidl.nn import layers as L
from minidl.nn.layers.checks import check_batch, checked_shape, fraction, positive, positive_int


def test_argument_checks_name_the_argument_and_the_value():
    assert positive_int(np.int64(3), "Dense units") == 3
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match=rf"Dense units must be a positive integer, got {bad!r}"):
            positive_int(bad, "Dense units")
    assert fraction(0.0, "rate") == 0.0
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\), got 1.0"):
        fraction(1.0, "rate")
    assert positive(1e-5, "epsilon") == 1e-5
    with pytest.raises(ValueError, match="epsilon must be > 0, got 0"):
        positive(0, "epsilon")


def test_checked_shape_takes_sizes_and_free_axes_without_the_batch_axis():
    assert checked_shape(5, "X") == (5,)
    assert checked_shape((None, np.int32(10)), "X") == (None, 10)
    with pytest.raises(ValueError, match="X input_shape must be a tuple of sizes without the batch axis"):
        checked_shape(2.5, "X")
    with pytest.raises(ValueError, match=r"X input_shape must hold positive integers .* got \(0, 3\)"):
        checked_shape((0, 3), "X")


def test_check_batch_names_the_layout_the_shape_and_the_fix():
    conv = L.Conv2D(4, 3)
    with pytest.raises(
        ValueError,
        match=r"Conv2D expected input \(N, C, H, W\), got shape \(1, 8, 8\); if this is a single sample",
    ):
        check_batch(conv, np.zeros((1, 8, 8), np.float32))
    dense = L.Dense(2)
    dense(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"Dense was built for inputs \(N, 3\), got shape \(1, 4\)"):
        check_batch(dense, np.zeros((1, 4), np.float32))
    check_batch(dense, np.zeros((1, 4), np.float32), was_built=False)  # the shape it is built for now


def test_a_layer_says_which_shapes_its_weights_fit_and_adds_its_hint():
    class Fixed(L.Dense):
        """A layer whose weights fix the whole per-sample shape (not only the last axis)."""

        def input_mismatch(self, shape):
            return tuple(shape) != tuple(self.input_shape)

        def mismatch_hint(self, got):
            return "; flatten first"

    layer = Fixed(2)
    layer(np.zeros((1, 2, 3), np.float32))
    with pytest.raises(
        ValueError, match=r"built for inputs \(N, 2, 3\), got shape \(1, 5, 3\); flatten first"
    ):
        layer(np.zeros((1, 5, 3), np.float32))
    assert L.Dense(2).input_mismatch((3,)) is True  # not built: no axis fits yet
    with pytest.raises(RuntimeError, match="Dense is not built yet"):
        L.Dense(2).built_input_shape


def test_check_rank_takes_the_ranks_of_input_ndims_without_the_batch_axis():
    conv, dense = L.Conv2D(4, 3), L.Dense(2)
    conv.check_rank((3, 8, 8))
    with pytest.raises(
        ValueError, match=r"Conv2D expected input \(N, C, H, W\), got per-sample shape \(64,\)"
    ):
        conv.check_rank((64,))
    dense.check_rank((5,))
    dense.check_rank((7, 5))  # any rank (input_ndims None) with a features axis
    with pytest.raises(
        ValueError, match=r"Dense expected input \(N, \.\.\., features\), got per-sample shape \(\)"
    ):
        dense.check_rank(())
    with pytest.raises(ValueError, match=r"got per-sample shape \(5,\)"):
        L.UpSampling2D().compute_output_shape((5,))


def test_check_gradient_names_the_output_shape_and_the_gradient_received():
    layer = L.Embedding(10, 4)
    layer.check_gradient(np.zeros((2, 3)), (2, 3))
    with pytest.raises(
        ValueError,
        match=r"Embedding.backward expected dy of shape \(2, 3\) \(as its output\), got shape \(3, 2\)",
    ):
        layer.check_gradient(np.zeros((3, 2)), (2, 3))


def test_sequence_and_image_layers_name_their_layout():
    from minidl.nn.layers.checks import SequenceLayout
    from minidl.nn.layers.conv import ImageHints

    for cls in (
        L.MultiHeadAttention,
        L.TransformerBlock,
        L.LSTM,
        L.ClassToken,
        L.PointerGenerator,
        L.LoRAAttention,
    ):
        assert issubclass(cls, SequenceLayout)
        assert (cls.input_ndims, cls.input_layout) == ((3,), "(N, T, features)")
    for cls in (L.Conv2D, L.MaxPool2D, L.GlobalAvgPool2D, L.UpSampling2D, L.PatchEmbedding, L.UNet):
        assert issubclass(cls, ImageHints)
        assert (cls.input_ndims, cls.input_layout) == ((4,), "(N, C, H, W)")
    with pytest.raises(ValueError, match=r"SimpleRNN expected input \(N, T, features\), got shape \(2, 5\)"):
        L.SimpleRNN(3).forward(np.zeros((2, 5), np.float32))
