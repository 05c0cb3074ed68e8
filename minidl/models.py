"""Where Keras keeps its model classes: ``from minidl.models import Sequential, load_model``;
the one definition of the LeNet-5 that the zoo trains and the benchmarks time, and a small
VGG-style network (``vgg_style``) built the way VGG16 is, for the zoo and chapter 13."""
from .nn.layers.activations import ReLU
from .nn.layers.conv import Conv2D, MaxPool2D
from .nn.layers.core import Dense, Flatten
from .training.model import Sequential, load_model

__all__ = ["Sequential", "load_model", "lenet5", "vgg_style"]


def lenet5(num_classes: int = 10, input_shape=(1, 28, 28),
           kernel_initializer="glorot_uniform") -> Sequential:
    """LeNet-5 with ReLU and max-pooling for (1, 28, 28) digits: 61,706 parameters for 10 classes.

    (N, 1, 28, 28) -> Conv 6@5x5 pad 2 -> (6, 28, 28) -> pool -> (6, 14, 14)
    -> Conv 16@5x5 -> (16, 10, 10) -> pool -> (16, 5, 5) -> Flatten 400
    -> Dense 120 -> Dense 84 -> Dense ``num_classes`` (logits)

    ``kernel_initializer`` is used by the five hidden layers (``"he_uniform"`` suits
    ReLU); the output layer keeps Glorot uniform.
    """
    init = kernel_initializer
    return Sequential([
        Conv2D(6, 5, padding=2, kernel_initializer=init), ReLU(), MaxPool2D(2),
        Conv2D(16, 5, kernel_initializer=init), ReLU(), MaxPool2D(2),
        Flatten(),
        Dense(120, kernel_initializer=init), ReLU(),
        Dense(84, kernel_initializer=init), ReLU(),
        Dense(num_classes),
    ], input_shape=input_shape, name="lenet5")


def vgg_style(num_classes: int = 10, input_shape=(1, 28, 28), blocks=(8, 16, 32), convs_per_block: int = 2,
              dense_units: int = 64, kernel_initializer="he_uniform") -> Sequential:
    """A small VGG: blocks of 3x3 "same" convolutions + ReLU, each block closed by a 2x2
    max-pool, the channels doubling from block to block, then a small dense head.

    VGG16 (Simonyan and Zisserman, 2014) is this recipe with ``blocks=(64, 128, 256, 512, 512)``,
    2-3 convolutions per block and a head of Dense 4096, 4096, 1000 on 224 x 224 colour images.
    The defaults here -- 36,861 parameters for 5 classes on (1, 28, 28) digits -- keep its
    shape at a size that trains in minutes on two CPU cores:

    (N, 1, 28, 28) -> [Conv 8@3x3, Conv 8@3x3] -> pool -> (8, 14, 14)
    -> [Conv 16@3x3, Conv 16@3x3] -> pool -> (16, 7, 7)
    -> [Conv 32@3x3, Conv 32@3x3] -> pool -> (32, 3, 3) -> Flatten 288
    -> Dense ``dense_units`` -> Dense ``num_classes`` (logits)

    Parameters
    ----------
    num_classes : units of the last Dense (logits, no softmax).
    input_shape : (C, H, W) of one image; C = 3 for colour. Each block halves H and W
        (floor), so they must be at least ``2 ** len(blocks)``.
    blocks : output channels of each block's convolutions.
    convs_per_block : 3x3 convolutions per block (VGG16 uses 2 in its first two blocks, 3 after).
    dense_units : width of the hidden Dense layer of the head (0 for none: Flatten -> logits).
    kernel_initializer : of every hidden layer; the output layer keeps Glorot uniform.
    """
    C, H, W = input_shape
    if min(H, W) < 2 ** len(blocks):
        raise ValueError(f"vgg_style: {len(blocks)} blocks halve the image {len(blocks)} times and need "
                         f"H, W >= {2 ** len(blocks)}, got input_shape {tuple(input_shape)}")
    layers = []
    for filters in blocks:
        for _ in range(convs_per_block):
            layers += [Conv2D(filters, 3, padding="same", kernel_initializer=kernel_initializer), ReLU()]
        layers.append(MaxPool2D(2))
    layers.append(Flatten())
    if dense_units:
        layers += [Dense(dense_units, kernel_initializer=kernel_initializer), ReLU()]
    layers.append(Dense(num_classes))
    return Sequential(layers, input_shape=input_shape, name="vgg_style")
