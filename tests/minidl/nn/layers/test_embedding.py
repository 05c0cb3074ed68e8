"""Embedding: rows of W by id, repeated ids' gradients added, the padding mask and its errors."""

import numpy as np
import pytest

from minidl import layers as L
from minidl.nn.gradcheck import check_layer


def layer(v=5, d=3, **kw):
    emb = L.Embedding(v, d, **kw)
    emb.build((4,))
    return emb


def test_the_output_is_the_rows_of_w_and_repeated_ids_add_their_gradients():
    emb = layer()
    ids = np.array([[1, 3, 1, 0]])
    y = emb.forward(ids)
    np.testing.assert_array_equal(y, emb.params["W"][ids])
    assert emb.backward(np.ones((1, 4, 3))) is None  # ids have no gradient
    np.testing.assert_array_equal(emb.grads["W"][:, 0], [1.0, 2.0, 0.0, 1.0, 0.0])
    assert check_layer(layer(), np.array([[0, 4, 4], [2, 2, 1]]), wrt_input=False).passed


def test_integral_floats_are_ids_and_other_inputs_are_refused_with_the_reason():
    emb = layer()
    np.testing.assert_array_equal(emb.forward(np.array([[2.0, 4.0]])), emb.params["W"][[[2, 4]]])
    with pytest.raises(
        TypeError, match=r"integer token ids, got dtype float64 with non-integer values \(e.g. 1.5\)"
    ):
        emb.forward(np.array([[1.5]]))
    with pytest.raises(TypeError, match="integer token ids, got dtype bool"):
        emb.forward(np.array([[True]]))
    with pytest.raises(
        ValueError, match=r"token id 5 outside the valid range \[0, 5\) \(input_dim=5\); input shape \(1, 2\)"
    ):
        emb.forward(np.array([[0, 5]]))
    with pytest.raises(ValueError, match=r"token id -1 outside"):
        emb.forward(np.array([[-1]]))
    with pytest.raises(ValueError, match="a batch of token ids"):
        emb.forward(np.int64(3))


def test_the_backward_checks_the_shape_of_dy():
    emb = layer()
    emb.forward(np.array([[1, 2]]))
    with pytest.raises(
        ValueError, match=r"expected dy of shape \(1, 2, 3\) \(as its output\), got shape \(1, 3\)"
    ):
        emb.backward(np.ones((1, 3)))


def test_mask_zero_marks_the_padding_and_sizes_must_be_positive():
    assert layer(mask_zero=True).compute_mask(np.array([[0, 2, 0]])).tolist() == [[False, True, False]]
    assert layer().compute_mask(np.array([[0, 2]])) is None
    assert layer().compute_output_shape((7,)) == (7, 3)
    with pytest.raises(ValueError, match="input_dim"):
        L.Embedding(0, 3)
