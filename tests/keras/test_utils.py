"""keras.utils: to_categorical and pad_sequences as Keras gives them, set_random_seed, PyDataset."""

import numpy as np
import pytest
from minidl_keras import utils


def test_to_categorical_accepts_column_labels_and_whole_floats():
    y = utils.to_categorical(np.array([[2], [0]]))
    assert y.dtype == np.float64 and y.tolist() == [[0, 0, 1], [1, 0, 0]]
    assert utils.to_categorical([1.0, 3.0], num_classes=5, dtype="float32").shape == (2, 5)
    assert utils.to_categorical([1.0], num_classes=5, dtype="float32").dtype == np.float32


def test_pad_sequences_pads_and_truncates_at_either_end():
    seqs = [[1, 2, 3], [4], []]
    assert utils.pad_sequences(seqs).tolist() == [[1, 2, 3], [0, 0, 4], [0, 0, 0]]
    assert utils.pad_sequences(seqs, padding="post", value=-1).tolist() == [
        [1, 2, 3],
        [4, -1, -1],
        [-1, -1, -1],
    ]
    assert utils.pad_sequences(seqs, maxlen=2).tolist() == [[2, 3], [0, 4], [0, 0]]
    assert utils.pad_sequences(seqs, maxlen=2, truncating="post").tolist() == [[1, 2], [0, 4], [0, 0]]
    assert utils.pad_sequences(seqs).dtype == np.int32
    assert utils.pad_sequences(seqs, maxlen=0).shape == (3, 0)


def test_pad_sequences_names_a_bad_argument():
    with pytest.raises(ValueError, match="padding must be 'pre' or 'post', got 'middle'"):
        utils.pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match=r"a list of 1-D sequences .*got one of shape \(1, 2\)"):
        utils.pad_sequences([[[1, 2]]])


def test_set_random_seed_is_minidls_seed():
    utils.set_random_seed(5)
    a = np.random.rand(3)
    utils.set_random_seed(5)
    np.testing.assert_array_equal(np.random.rand(3), a)


def test_a_py_dataset_subclass_gives_its_batches():
    class Batches(utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return np.full((1, 2), i), np.array([i])

    data = Batches(workers=4, use_multiprocessing=True)
    assert len(data) == 2 and data[1][1].tolist() == [1]
    assert utils.Sequence is not None
