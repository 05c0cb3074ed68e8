"""What every affine layer shares: y = activation(x ⊛ W + b).

Dense (⊛ a matrix product), Conv1D, Conv2D and Conv2DTranspose (⊛ a convolution) differ in
the product and agree on everything around it:

    options     the activation after the product, whether there is a bias ``b``, the names
                of the initializers of ``W`` and ``b``, penalties on ``W``, ``b`` and the
                output (regularizers), and constraints on ``W`` and ``b`` (applied by the
                optimizer after each step)
    build       W drawn with the layer's fans, b of one entry per output feature
    backward    dy goes back through the activation first (after the output penalty's
                gradient is added to it); the weight penalties' gradients are added to dW and
                db after the product's

``AffineLayer`` holds those pieces once; each layer still writes its own product and its
own backward, which is what the chapters teach.
"""

from __future__ import annotations

from .. import constraints, initializers, regularizers
from . import activations
from .base import Layer


class AffineLayer(Layer):
    """Base of the layers ``y = activation(x ⊛ W + b)``; see the module docstring."""

    def set_affine_options(
        self,
        activation,
        use_bias: bool,
        kernel_initializer,
        bias_initializer,
        kernel_regularizer,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
    ) -> None:
        """Keep the constructor's options; an unknown activation, regularizer or constraint
        name raises here."""
        self.activation = activation
        self.activation_layer = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.from_saved(kernel_initializer)
        self.bias_initializer = initializers.from_saved(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.activity_loss = 0.0

    def own_constraints(self) -> dict:
        return {
            key: fn
            for key, fn in (("W", self.kernel_constraint), ("b", self.bias_constraint))
            if fn is not None and key in self.params
        }

    def regularization_loss(self) -> float:
        """The kernel's and the bias's penalties, and the output's of the last forward pass
        (``activity_regularizer(y) / N``, Keras's: divided by the batch size)."""
        total = super().regularization_loss() + self.activity_loss
        if self.bias_regularizer is not None and self.built and self.use_bias:
            total += self.bias_regularizer.loss(self.params["b"])
        return total

    def penalize_output(self, y):
        """Keep ``activity_regularizer(y) / N`` for ``regularization_loss`` (the end of a forward)."""
        if self.activity_regularizer is not None:
            self.activity_loss = self.activity_regularizer.loss(y) / max(len(y), 1)
            self.activity_output = y
        return y

    def output_penalty_gradient(self, dy):
        """``dy`` plus the output penalty's gradient (the start of a backward)."""
        if self.activity_regularizer is None:
            return dy
        y = self.activity_output
        return dy + self.activity_regularizer.gradient(y) / max(len(y), 1)

    def add_penalty_gradients(self) -> None:
        """Add the weight penalties' gradients to ``grads`` (the end of a backward)."""
        if self.kernel_regularizer is not None:
            self.grads["W"] += self.kernel_regularizer.gradient(self.params["W"])
        if self.bias_regularizer is not None and self.use_bias:
            self.grads["b"] += self.bias_regularizer.gradient(self.params["b"])

    def add_kernel_and_bias(
        self, kernel_shape: tuple, outputs: int, fan_in: int, fan_out: int, dtype
    ) -> None:
        """Add ``W`` of ``kernel_shape`` and (with ``use_bias``) ``b`` of shape (outputs,),
        drawn by the layer's initializers with the fans ``fan_in``, ``fan_out``."""
        self.add_param("W", initializers.get(self.kernel_initializer)(kernel_shape, fan_in, fan_out, dtype))
        if self.use_bias:
            self.add_param("b", initializers.get(self.bias_initializer)((outputs,), fan_in, fan_out, dtype))
