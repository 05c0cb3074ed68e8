"""minidl.zoo: the shipped weights load, compile and score what their entry states."""

import numpy as np
import pytest

import minidl as mdl
from minidl import zoo
from minidl.zoo import train as zoo_train


def test_available_lists_the_shipped_models():
    names = zoo.available()
    assert "lenet-mnist-0to4" in names and "vgg-mnist-0to4" in names
    assert names == sorted(names)
    for name in names:
        assert zoo.weights_path(name).exists(), f"{name}: weights file missing"
        size = zoo.weights_path(name).stat().st_size
        assert size <= 1_000_000, f"{name}: the zoo ships small files, got {size:,} bytes"


@pytest.mark.parametrize("name", zoo.available())
def test_shipped_weights_reach_the_stated_accuracy(name):
    """The claim in the zoo entry, checked on the bundled test images of its classes."""
    entry = zoo.entry(name)
    model = zoo.load(name)
    assert model.optimizer is not None and model.loss is not None, "load must return a compiled model"
    (_, _), (xt, yt) = mdl.datasets.load_mnist()
    xt, yt = zoo_train.digits_subset(xt, yt, entry.classes)
    assert len(xt) == 100 * len(entry.classes)
    accuracy = model.evaluate(xt, yt, batch_size=250, return_dict=True)["accuracy"]
    assert accuracy >= entry.min_test_accuracy, (name, accuracy)
    assert model.predict(xt[:3]).shape == (3, len(entry.classes))


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(KeyError) as info:
        zoo.load("resnet-imagenet")
    message = str(info.value)
    assert "resnet-imagenet" in message
    for name in zoo.available():
        assert name in message


def test_each_load_is_an_independent_copy():
    a, b = zoo.load("lenet-mnist-0to4"), zoo.load("lenet-mnist-0to4")
    a.layers[0].params["W"][...] = 0.0
    assert np.abs(b.layers[0].params["W"]).sum() > 0
    assert np.array_equal(zoo.load("lenet-mnist-0to4").get_weights()[0], b.get_weights()[0])


def test_describe_says_how_to_rebuild():
    text = zoo.describe("lenet-mnist-0to4")
    assert "python tools/zoo_train.py lenet-mnist-0to4" in text and "0-4" in text


def test_vgg_style_builder_is_vgg_shaped():
    """Blocks of 3x3 'same' convolutions closed by a 2x2 max-pool, channels doubling, then Dense."""
    model = mdl.models.vgg_style(5)
    convs = [layer for layer in model.layers if isinstance(layer, mdl.layers.Conv2D)]
    assert [c.params["W"].shape for c in convs] == [
        (8, 1, 3, 3),
        (8, 8, 3, 3),
        (16, 8, 3, 3),
        (16, 16, 3, 3),
        (32, 16, 3, 3),
        (32, 32, 3, 3),
    ]
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "ReLU", "Conv2D", "ReLU", "MaxPool2D"] * 3 + [
        "Flatten",
        "Dense",
        "ReLU",
        "Dense",
    ]
    assert model.predict(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 5)
    n_params = sum(p.size for layer in model.layers for p in layer.params.values())
    assert n_params == 36_861, n_params


def test_vgg_style_takes_colour_images_and_rejects_too_small_ones():
    model = mdl.models.vgg_style(10, input_shape=(3, 32, 32))
    assert model.layers[0].params["W"].shape == (8, 3, 3, 3)  # each filter spans the 3 colour channels
    assert model.predict(np.zeros((2, 3, 32, 32), np.float32)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"H, W >= 8, got input_shape \(3, 6, 6\)"):
        mdl.models.vgg_style(10, input_shape=(3, 6, 6))


def test_zoo_vgg_matches_the_builder():
    """The shipped VGG is the architecture ``vgg_style`` builds: same layers, same weight shapes."""
    shipped = zoo.load("vgg-mnist-0to4")
    built = mdl.models.vgg_style(5)
    assert [type(layer).__name__ for layer in shipped.layers] == [
        type(layer).__name__ for layer in built.layers
    ]
    assert [w.shape for w in shipped.get_weights()] == [w.shape for w in built.get_weights()]
