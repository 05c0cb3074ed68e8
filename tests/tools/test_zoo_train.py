"""The zoo's training script (``tools/zoo_train.py``): the shared recipe, the shifts, the builders,
the script's errors."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import minidl as mdl
from minidl import zoo
from minidl.zoo.train import digits_subset

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("zoo_train", ROOT / "tools" / "zoo_train.py")
assert spec is not None and spec.loader is not None
zoo_train = importlib.util.module_from_spec(spec)
sys.modules["zoo_train"] = zoo_train
spec.loader.exec_module(zoo_train)


def test_train_script_rejects_an_unknown_name_with_the_list(capsys):
    with pytest.raises(SystemExit) as info:
        zoo_train.main(["no-such-model"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "no-such-model" in err and "lenet-mnist-0to4" in err


def test_every_zoo_entry_has_a_recipe():
    assert sorted(zoo_train.RECIPES) == zoo.available()


def test_the_shared_recipe_trains_on_the_entry_classes_and_scores_their_test_images():
    """``train_on_shifted_digits`` (the recipe of both zoo models), run with a linear model for speed."""

    def linear(num_classes):
        return mdl.Sequential([mdl.layers.Flatten(), mdl.layers.Dense(num_classes)], input_shape=(1, 28, 28))

    model, accuracy = zoo_train.train_on_shifted_digits("vgg-mnist-0to4", linear, epochs=1, verbose=0)
    assert model.predict(np.zeros((1, 1, 28, 28), np.float32)).shape == (1, 5)
    (_, _), (xt, yt) = mdl.datasets.load_mnist()
    xt, yt = digits_subset(xt, yt, zoo.entry("vgg-mnist-0to4").classes)
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
    assert zoo_train.lenet5(5).layers[0].get_config()["kernel_initializer"] == "he_uniform"
    build, epochs = zoo_train.RECIPES["vgg-mnist-0to4"]
    assert build(3).layers[-1].units == 3 and epochs == 10
