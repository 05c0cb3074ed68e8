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

The options are keyword-only arguments of ``AffineLayer.__init__``: a layer's constructor
names its own arguments (``units``, ``filters``, ``kernel_size``, ...) and its
``activation`` and ``use_bias``, and passes the rest on with ``**options``. So that
``help(Conv2D)``, ``inspect.signature``, ``get_config`` and the unknown-keyword error still
see every argument, each subclass's ``__init__`` gets a ``__signature__`` that adds the
options after its positional arguments (``affine_signature``).
"""

from __future__ import annotations

import inspect

from .. import constraints, initializers, regularizers
from . import activations
from .base import Layer


class AffineLayer(Layer):
    """Base of the layers ``y = activation(x ⊛ W + b)``; see the module docstring.

    Keyword-only options (Keras's names and defaults)
    -------------------------------------------------
    activation : str or None
        Name of an activation applied after the product (``"relu"``, ``"softmax"``, ...).
    use_bias : bool
        Whether to add ``b``.
    kernel_initializer, bias_initializer : str or Initializer
        Names from ``minidl.nn.initializers`` (Glorot uniform and zeros by default, as Keras).
    kernel_regularizer, bias_regularizer, activity_regularizer : Regularizer, str or None
        Penalties on ``W``, ``b`` and the output added to the loss (``"l2"``,
        ``regularizers.L2(1e-4)``); the output's is divided by the batch size, as Keras.
    kernel_constraint, bias_constraint : Constraint, str or None
        Applied to ``W`` and ``b`` by the optimizer after each step (``"MaxNorm"``, ...).
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None:
            init.__signature__ = affine_signature(init)

    def __init__(
        self,
        name=None,
        *,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        """Keep the options; an unknown activation, regularizer or constraint name raises
        here, an unknown keyword in ``Layer.__init__``."""
        super().__init__(name, **kwargs)
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


def affine_signature(init) -> inspect.Signature:
    """The signature of a subclass's ``__init__(self, ..., **options)`` with the options it
    passes on to ``AffineLayer.__init__`` written out: its positional arguments, then the
    options it does not name itself (keyword-only), then its own keyword-only arguments and
    ``**kwargs`` (``input_shape=``, ``trainable=``, ...). The order is the one ``get_config``
    and ``repr`` show. An ``__init__`` without ``**`` takes no options and keeps its own."""
    own = inspect.signature(init)
    params = list(own.parameters.values())
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        return own
    options = [
        p
        for p in inspect.signature(AffineLayer.__init__).parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.name not in own.parameters
    ]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    rest = [p for p in params if p not in positional]
    return own.replace(parameters=positional + options + rest)
