"""The Numba ReLU: the reference's values for views and both float dtypes, threaded or not."""

import numpy as np
import pytest

from minidl.kernels import reference
from minidl.kernels.cpu import activation as K


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_views_are_read_as_their_values(dtype):
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((2, 6, 4)).astype(dtype), rng.standard_normal((2, 4, 6)).astype(dtype)
    x = x.transpose(0, 2, 1)  # not contiguous
    y = K.relu_forward(x)
    assert y.shape == (2, 4, 6) and y.dtype == dtype
    np.testing.assert_array_equal(y, reference.relu_forward(x))
    np.testing.assert_array_equal(K.relu_backward(dy, y[::-1][::-1]), reference.relu_backward(dy, y))


def test_threads_are_chosen_by_the_whole_arrays_size(monkeypatch):
    sizes = []
    monkeypatch.setattr(K, "pick", lambda kernel, serial, n: sizes.append(n) or serial)
    K.relu_backward(np.ones((64, 6, 28, 28)), K.relu_forward(np.ones((64, 6, 28, 28))))
    assert sizes == [301_056, 301_056]
