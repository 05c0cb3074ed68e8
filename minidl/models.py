"""Where Keras keeps its model classes: ``from minidl.models import Sequential, load_model``;
and the one definition of the LeNet-5 that the zoo trains and the benchmarks time."""
from .layers.activations import ReLU
from .layers.conv import Conv2D, MaxPool2D
from .layers.core import Dense, Flatten
from .model import Sequential, load_model

__all__ = ["Sequential", "load_model", "lenet5"]


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
