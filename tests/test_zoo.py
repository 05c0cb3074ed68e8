"""minidl.zoo: the shipped weights load, compile and score what their entry states."""
import numpy as np
import pytest

import minidl as mdl
from minidl import zoo
from minidl.zoo import train as zoo_train


def test_available_lists_the_shipped_models():
    names = zoo.available()
    assert "lenet-mnist-0to4" in names
    assert names == sorted(names)
    for name in names:
        assert zoo.weights_path(name).exists(), f"{name}: weights file missing"


@pytest.mark.parametrize("name", zoo.available())
def test_shipped_weights_reach_the_stated_accuracy(name):
    """The claim in the zoo entry, checked on the bundled test images of its classes."""
    entry = zoo.entry(name)
    model = zoo.load(name)
    assert model.optimizer is not None and model.loss is not None, "load must return a compiled model"
    (_, _), (xt, yt) = mdl.datasets.load_mnist()
    xt, yt = zoo_train.digits_subset(xt, yt, entry.classes)
    assert len(xt) == 100 * len(entry.classes)
    accuracy = model.evaluate(xt, yt, batch_size=250)["accuracy"]
    assert accuracy >= entry.min_test_accuracy, (name, accuracy)
    assert model.predict(xt[:3]).shape == (3, len(entry.classes))


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(KeyError) as info:
        zoo.load("resnet-imagenet")
    message = str(info.value)
    assert "resnet-imagenet" in message
    for name in zoo.available():
        assert name in message


def test_train_script_rejects_an_unknown_name_with_the_list(capsys):
    with pytest.raises(SystemExit) as info:
        zoo_train.main(["no-such-model"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "no-such-model" in err and "lenet-mnist-0to4" in err


def test_each_load_is_an_independent_copy():
    a, b = zoo.load("lenet-mnist-0to4"), zoo.load("lenet-mnist-0to4")
    a.layers[0].params["W"][...] = 0.0
    assert np.abs(b.layers[0].params["W"]).sum() > 0
    assert np.array_equal(zoo.load("lenet-mnist-0to4").get_weights()[0], b.get_weights()[0])


def test_describe_says_how_to_rebuild():
    text = zoo.describe("lenet-mnist-0to4")
    assert "python -m minidl.zoo.train lenet-mnist-0to4" in text and "0-4" in text


def test_digits_subset_keeps_and_relabels_in_the_given_order():
    x = np.arange(6, dtype=np.float32)[:, None]
    y = np.array([5, 0, 7, 9, 5, 3])
    xs, ys = zoo_train.digits_subset(x, y, [9, 5])
    assert xs[:, 0].tolist() == [0.0, 3.0, 4.0]
    assert ys.tolist() == [1, 0, 1]
