"""The model classes: ``from minidl.models import Sequential, load_model``; the one definition
of the LeNet-5 that the zoo trains and the benchmarks time, a small VGG-style network
(``vgg_style``) built the way VGG16 is, for the zoo and chapter 9, and a small ResNet (``resnet``, ``residual_block``) built the way ResNet-18 is, for chapter 8."""

from .nn.layers.activations import ReLU
from .nn.layers.conv import Conv2D, GlobalAvgPool2D, MaxPool2D
from .nn.layers.core import Dense, Flatten
from .nn.layers.normalization import BatchNorm
from .nn.layers.residual import Residual
from .training.model import Sequential, load_model

__all__ = ["Sequential", "load_model", "lenet5", "vgg_style", "resnet", "residual_block"]


def lenet5(num_classes: int = 10, input_shape=(1, 28, 28), kernel_initializer="glorot_uniform") -> Sequential:
    """LeNet-5 with ReLU and max-pooling for (1, 28, 28) digits: 61,706 parameters for 10 classes.

    (N, 1, 28, 28) -> Conv 6@5x5 pad 2 -> (6, 28, 28) -> pool -> (6, 14, 14)
    -> Conv 16@5x5 -> (16, 10, 10) -> pool -> (16, 5, 5) -> Flatten 400
    -> Dense 120 -> Dense 84 -> Dense ``num_classes`` (logits)

    ``kernel_initializer`` is used by the five hidden layers (``"he_uniform"`` suits
    ReLU); the output layer keeps Glorot uniform.
    """
    init = kernel_initializer
    layers = [Conv2D(6, 5, padding=2, kernel_initializer=init), ReLU(), MaxPool2D(2)]
    layers += [Conv2D(16, 5, kernel_initializer=init), ReLU(), MaxPool2D(2), Flatten()]
    layers += [Dense(120, kernel_initializer=init), ReLU(), Dense(84, kernel_initializer=init), ReLU()]
    return Sequential(layers + [Dense(num_classes)], input_shape=input_shape, name="lenet5")


def vgg_style(
    num_classes: int = 10,
    input_shape=(1, 28, 28),
    blocks=(8, 16, 32),
    convs_per_block: int = 2,
    dense_units: int = 64,
    kernel_initializer="he_uniform",
) -> Sequential:
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
    _check_halvings("vgg_style", f"{len(blocks)} blocks", len(blocks), input_shape)
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


def _check_halvings(who: str, what: str, halvings: int, input_shape) -> None:
    """A ``ValueError`` unless images of ``input_shape`` (C, H, W) can be halved ``halvings``
    times (by ``what``: the blocks, the stages), at least one pixel left."""
    if min(input_shape[1:]) < 2**halvings:
        raise ValueError(
            f"{who}: {what} halve the image {halvings} times and need "
            f"H, W >= {2**halvings}, got input_shape {tuple(input_shape)}"
        )


def residual_block(
    filters: int, stride: int = 1, projection: bool | None = None, kernel_initializer="he_normal"
) -> Residual:
    """ResNet's basic block (He et al., 2016): two 3x3 convolutions with BatchNorm, a skip
    around them, ReLU after the sum.

    (N, C, H, W) -> Conv ``filters``@3x3 stride ``stride`` -> BN -> ReLU -> Conv ``filters``@3x3
    -> BN -> (+ shortcut) -> ReLU -> (N, filters, H', W'), H' = (H - 1) // stride + 1.

    The convolutions have no bias (the BatchNorm after each one removes it). ``projection``
    (True when ``stride > 1``, by default) makes the shortcut a 1x1 convolution with the
    same stride plus BatchNorm, needed whenever the block changes the shape: a stride, or
    ``filters`` different from C (Residual checks this when built and says so).
    """
    if projection is None:
        projection = stride != 1
    init = kernel_initializer
    block = [
        Conv2D(filters, 3, stride=stride, padding=1, use_bias=False, kernel_initializer=init),
        BatchNorm(),
        ReLU(),
        Conv2D(filters, 3, padding=1, use_bias=False, kernel_initializer=init),
        BatchNorm(),
    ]
    shortcut = None
    if projection:
        shortcut = [Conv2D(filters, 1, stride=stride, use_bias=False, kernel_initializer=init), BatchNorm()]
    return Residual(block, shortcut=shortcut, activation="relu")


def resnet(
    num_classes: int = 10,
    input_shape=(1, 28, 28),
    stages=(8, 16, 32),
    blocks_per_stage: int = 1,
    stem_stride: int = 1,
    kernel_initializer="he_normal",
) -> Sequential:
    """A small ResNet: a 3x3 stem, stages of basic residual blocks, global average pooling.

    ResNet-18 (He et al., 2016) is this recipe with ``stages=(64, 128, 256, 512)``, two blocks
    per stage and a 7x7 stride-2 stem with max-pooling for 224 x 224 images. The defaults --
    20,146 parameters for 10 classes on (1, 28, 28) digits -- keep its shape small:

    (N, 1, 28, 28) -> Conv 8@3x3 -> BN -> ReLU -> (8, 28, 28)
    -> [block 8]                       -> (8, 28, 28)     identity shortcut
    -> [block 16, stride 2, projection] -> (16, 14, 14)
    -> [block 32, stride 2, projection] -> (32, 7, 7)
    -> global average pool -> 32 -> Dense ``num_classes`` (logits)

    Parameters
    ----------
    stages : output channels of each stage; every stage after the first halves H and W
        (its first block has stride 2 and a 1x1 projection shortcut).
    blocks_per_stage : basic blocks per stage; the later ones keep the shape (identity shortcuts).
    stem_stride : stride of the stem convolution; 2 halves the image first (a quarter of the
        work in every later layer), as ResNet-18's stem does.
    kernel_initializer : of every convolution (He suits ReLU); the output layer keeps Glorot uniform.
    """
    halvings = len(stages) - 1 + (stem_stride > 1)
    _check_halvings("resnet", f"{len(stages)} stages and stem_stride={stem_stride}", halvings, input_shape)
    init = kernel_initializer
    layers = [
        Conv2D(stages[0], 3, stride=stem_stride, padding=1, use_bias=False, kernel_initializer=init),
        BatchNorm(),
        ReLU(),
    ]
    channels = stages[0]
    for i, filters in enumerate(stages):
        for j in range(blocks_per_stage):
            stride = 2 if i > 0 and j == 0 else 1
            projection = stride != 1 or filters != channels
            layers.append(residual_block(filters, stride, projection, kernel_initializer=init))
            channels = filters
    layers += [GlobalAvgPool2D(), Dense(num_classes)]
    return Sequential(layers, input_shape=input_shape, name="resnet")
