"""The image loaders: the bundled MNIST subset (shapes, split, determinism) and sequential MNIST."""

import numpy as np
import pytest

from minidl import datasets


# =========================================================================== bundled MNIST
def test_bundled_mnist_shapes_dtypes_ranges():
    (x, y), (xt, yt) = datasets.load_mnist()
    assert x.shape == (4000, 1, 28, 28) and xt.shape == (1000, 1, 28, 28)
    assert x.dtype == xt.dtype == np.float32
    assert y.shape == (4000,) and yt.shape == (1000,)
    assert y.dtype == yt.dtype == np.int64
    assert 0.0 <= x.min() and x.max() == 1.0 and xt.max() == 1.0
    # ink covers roughly an eighth of an MNIST image
    assert 0.08 < x.mean() < 0.2


def test_bundled_mnist_split_is_balanced_and_disjoint():
    (x, y), (xt, yt) = datasets.load_mnist()
    assert np.bincount(y, minlength=10).tolist() == [400] * 10
    assert np.bincount(yt, minlength=10).tolist() == [100] * 10
    train = {row.tobytes() for row in (x * 255).round().astype(np.uint8)}
    test = {row.tobytes() for row in (xt * 255).round().astype(np.uint8)}
    assert len(train) == 4000 and len(test) == 1000 and not train & test
    # shuffled: the first 100 training labels are not all one digit
    assert len(set(y[:100].tolist())) == 10


def test_bundled_mnist_flatten_matches_images():
    (x, y), (xt, yt) = datasets.load_mnist()
    (xf, yf), (xtf, ytf) = datasets.load_mnist(flatten=True)
    assert xf.shape == (4000, 784) and xtf.shape == (1000, 784)
    np.testing.assert_array_equal(xf, x.reshape(4000, 784))
    np.testing.assert_array_equal(yf, y)


def test_bundled_mnist_is_deterministic_and_cache_cannot_be_corrupted():
    (x1, y1), _ = datasets.load_mnist()
    first_pixels, first_labels = x1.copy(), y1.copy()
    x1[:] = -5.0  # a caller scribbling on its arrays...
    y1[:] = 7
    (x2, y2), _ = datasets.load_mnist()
    np.testing.assert_array_equal(x2, first_pixels)  # ...does not reach the next caller
    np.testing.assert_array_equal(y2, first_labels)


def test_load_mnist_rejects_unknown_subset():
    with pytest.raises(ValueError, match="'5k'.*'full'.*got 'big'"):
        datasets.load_mnist(subset="big")


def test_sequential_mnist_is_rows_as_time_steps():
    (x, y), (xt, yt) = datasets.load_sequential_mnist()
    (img, label), _ = datasets.load_mnist()
    assert x.shape == (4000, 28, 28) and xt.shape == (1000, 28, 28) and x.dtype == np.float32
    np.testing.assert_array_equal(x[5, 13], img[5, 0, 13])  # step 13 is pixel row 13
    np.testing.assert_array_equal(y, label)
