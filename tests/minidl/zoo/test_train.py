"""The zoo's training recipe: the digits it trains on, the shared recipe, the script's errors."""

import numpy as np
import pytest

import minidl as mdl
from minidl import zoo
from minidl.zoo import train as zoo_train


def test_train_script_rejects_an_unknown_name_with_the_list(capsys):
    with pytest.raises(SystemExit) as info:
        zoo_train.main(["no-such-model"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "no-such-model" in err and "lenet-mnist-0to4" in err


def test_digits_subset_keeps_and_relabels_in_the_given_order():
    x = np.arange(6, dtype=np.float32)[:, None]
    y = np.array([5, 0, 7, 9, 5, 3])
    xs, ys = zoo_train.digits_subset(x, y, [9, 5])
    assert xs[:, 0].tolist() == [0.0, 3.0, 4.0]
    assert ys.tolist() == [1, 0, 1]


def test_the_shared_recipe_trains_on_the_entry_classes_and_scores_their_test_images():
    """``train_on_shifted_digits`` (the recipe of both zoo models), run with a linear model for speed."""

    def linear(num_classes):
        return mdl.Sequential([mdl.layers.Flatten(), mdl.layers.Dense(num_classes)], input_shape=(1, 28, 28))

    model, accuracy = zoo_train.train_on_shifted_digits("vgg-mnist-0to4", linear, epochs=1, verbose=0)
    assert model.predict(np.zeros((1, 1, 28, 28), np.float32)).shape == (1, 5)
    (_, _), (xt, yt) = mdl.datasets.load_mnist()
    xt, yt = zoo_train.digits_subset(xt, yt, zoo.entry("vgg-mnist-0to4").classes)
    assert accuracy == model.evaluate(xt, yt, return_dict=True)["accuracy"]
    assert 0.8 < accuracy < 1.0, accuracy


def test_random_shifts_move_whole_images_within_the_bound():
    mdl.seed(0)
    x = np.zeros((20, 1, 9, 9), np.float32)
    x[:, 0, 4, 4] = 1.0  # one lit pixel in the middle
    shifted = zoo_train.random_shifts(x, max_shift=2)
    assert shifted.shape == x.shape and np.all(shifted.sum(axis=(1, 2, 3)) == 1.0)
    rows, cols = np.nonzero(shifted[:, 0])[1:]
    assert np.all(np.abs(rows - 4) <= 2) and np.all(np.abs(cols - 4) <= 2)
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 1  # not every image moved alike


def test_the_zoo_builders_are_the_model_builders_with_he_weights():
    assert zoo_train.lenet5(5).count_params() == mdl.models.lenet5(5).count_params()
    assert zoo_train.vgg_style(3).layers[-1].units == 3
