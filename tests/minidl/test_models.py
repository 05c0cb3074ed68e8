"""The model builders: LeNet-5, a small VGG and a small ResNet, their shapes, counts and errors."""

import numpy as np
import pytest

import minidl as mdl
from minidl import models


def test_lenet5_has_its_classic_shape_and_runs_a_batch():
    model = models.lenet5()
    y = model.predict(np.zeros((2, 1, 28, 28), np.float32))
    assert y.shape == (2, 10)
    assert model.count_params() == (61706, 0)  # LeNet-5 on 28x28 with padding 2, as in chapter 7


def test_vgg_style_default_count_and_output():
    model = models.vgg_style(num_classes=5)
    assert model.count_params() == (36861, 0)  # the count its docstring gives
    assert model.predict(np.zeros((1, 1, 28, 28), np.float32)).shape == (1, 5)
    no_head = models.vgg_style(dense_units=0, blocks=(4,), input_shape=(3, 8, 8))
    assert [type(layer).__name__ for layer in no_head.layers][-2:] == ["Flatten", "Dense"]


def test_resnet_default_count_and_the_stem_stride():
    model = models.resnet()
    assert sum(model.count_params()) == 20146  # the count its docstring gives (running statistics included)
    mdl.seed(0)
    y = models.resnet(stages=(4, 8), stem_stride=2, input_shape=(1, 16, 16)).predict(
        np.ones((2, 1, 16, 16), np.float32)
    )
    assert y.shape == (2, 10) and np.isfinite(y).all()


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: models.vgg_style(input_shape=(1, 6, 6)),
            r"3 blocks halve the image 3 times and need H, W >= 8, got input_shape \(1, 6, 6\)",
        ),
        (
            lambda: models.resnet(input_shape=(1, 3, 3), stem_stride=2),
            r"stem_stride=2 halve the image 3 times and need H, W >= 8",
        ),
    ],
)
def test_an_image_too_small_for_the_halvings_is_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_a_residual_block_keeps_or_projects_the_shape():
    same = models.residual_block(4, 1, projection=False)
    down = models.residual_block(8, 2, projection=True)
    x = np.random.default_rng(0).standard_normal((2, 4, 6, 6)).astype(np.float32)
    assert same.forward(x).shape == (2, 4, 6, 6)
    assert down.forward(x).shape == (2, 8, 3, 3)
