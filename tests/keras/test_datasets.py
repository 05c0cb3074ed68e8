"""keras.datasets: MNIST in Keras's format from the bundled subset, Fashion-MNIST through
minidl's verified cache; the others say where to go."""

import numpy as np
import pytest
from minidl_keras import datasets

from minidl.datasets import download
from tests.minidl.datasets.test_download import write_idx_dataset


def test_mnist_load_data_is_kerass_uint8_layout():
    (x, y), (xt, yt) = datasets.mnist.load_data()
    assert x.shape == (4000, 28, 28) and xt.shape == (1000, 28, 28)
    assert x.dtype == y.dtype == np.uint8 and x.max() > 200 and set(np.unique(y)) == set(range(10))
    assert repr(datasets.mnist) == "<keras.datasets.mnist (minidl)>"


@pytest.mark.parametrize("name", ["cifar100", "imdb", "reuters", "boston_housing", "california_housing"])
def test_a_dataset_minidl_has_no_copy_of_says_how_to_get_it(name):
    with pytest.raises(NotImplementedError, match=rf"keras.datasets.{name} is not in minidl .*np.savez"):
        getattr(datasets, name).load_data()


def test_fashion_mnist_loads_kerass_layout_from_minidls_verified_cache(offline_cache, monkeypatch):
    folder, calls = offline_cache
    arrays = write_idx_dataset(folder, "fashion_mnist", monkeypatch)
    (x, y), (xt, yt) = datasets.fashion_mnist.load_data()
    assert calls == []  # nothing downloaded: the files in the cache have the registered sums
    assert x.shape == (6, 28, 28) and xt.shape == (4, 28, 28) and x.dtype == y.dtype == np.uint8
    np.testing.assert_array_equal(x, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(yt, arrays["t10k-labels-idx1-ubyte.gz"])


def test_fashion_mnist_offline_says_which_files_to_place_where(offline_cache):
    folder, calls = offline_cache
    with pytest.raises(download.DownloadError) as info:
        datasets.fashion_mnist.load_data()
    first = download.MIRRORS["fashion_mnist"][0] + "train-images-idx3-ubyte.gz"
    assert first in calls and str(folder / "fashion_mnist") in str(info.value)
    assert download.SHA256["fashion_mnist"]["t10k-labels-idx1-ubyte.gz"] in str(info.value)
