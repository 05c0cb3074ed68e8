"""What every affine layer shares: y = activation(x ⊛ W + b).

Dense (⊛ a matrix product), Conv1D, Conv2D and Conv2DTranspose (⊛ a convolution) differ in
the product and agree on everything around it:

    options     the activation after the product, whether there is a bias ``b``, the names
                of the initializers of ``W`` and ``b``, a penalty on ``W`` (regularizer)
    build       W drawn with the layer's fans, b of one entry per output feature
    backward    dy goes back through the activation first; the penalty's gradient is added
                to dW after the product's

``AffineLayer`` holds those pieces once; each layer still writes its own product and its
own backward, which is what the chapters teach.
"""

from __future__ import annotations

from .. import initializers, regularizers
from . import activations
from .base import Layer


class AffineLayer(Layer):
    """Base of the layers ``y = activation(x ⊛ W + b)``; see the module docstring."""

    def set_affine_options(
        self, activation, use_bias: bool, kernel_initializer, bias_initializer, kernel_regularizer
    ) -> None:
        """Keep the constructor's options; an unknown activation or regularizer name raises here."""
        self.activation = activation
        self.activation_layer = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.from_saved(kernel_initializer)
        self.bias_initializer = initializers.from_saved(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)

    def add_kernel_and_bias(
        self, kernel_shape: tuple, outputs: int, fan_in: int, fan_out: int, dtype
    ) -> None:
        """Add ``W`` of ``kernel_shape`` and (with ``use_bias``) ``b`` of shape (outputs,),
        drawn by the layer's initializers with the fans ``fan_in``, ``fan_out``."""
        self.add_param("W", initializers.get(self.kernel_initializer)(kernel_shape, fan_in, fan_out, dtype))
        if self.use_bias:
            self.add_param("b", initializers.get(self.bias_initializer)((outputs,), fan_in, fan_out, dtype))
