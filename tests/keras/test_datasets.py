"""keras.datasets: MNIST in Keras's format from the bundled subset; the others say where to go."""

import numpy as np
import pytest
from minidl_keras import datasets


def test_mnist_load_data_is_kerass_uint8_layout():
    (x, y), (xt, yt) = datasets.mnist.load_data()
    assert x.shape == (4000, 28, 28) and xt.shape == (1000, 28, 28)
    assert x.dtype == y.dtype == np.uint8 and x.max() > 200 and set(np.unique(y)) == set(range(10))
    assert repr(datasets.mnist) == "<keras.datasets.mnist (minidl)>"


@pytest.mark.parametrize("name", ["cifar100", "imdb", "reuters", "boston_housing", "california_housing"])
def test_a_dataset_minidl_has_no_copy_of_says_how_to_get_it(name):
    with pytest.raises(NotImplementedError, match=rf"keras.datasets.{name} is not in minidl .*np.savez"):
        getattr(datasets, name).load_data()
