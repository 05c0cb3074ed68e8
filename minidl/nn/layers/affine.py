"""What every affine layer shares: y = activation(x ⊛ W + b).

Dense (⊛ a matrix product), Conv1D, Conv2D and Conv2DTranspose (⊛ a convolution) differ in
the product and agree on everything around it:

    options     the activation after the product, whether there is a bias ``b``, the
                initializer of ``W`` and a penalty on ``W`` (``kernel_regularizer``)
    build       W drawn with the layer's fans, b (zeros) of one entry per output feature
    backward    dy goes back through the activation first, then through the product

A penalty on ``W`` is part of the loss, not of the layer's function: ``regularization_loss``
gives its value and ``add_penalty_gradients`` (``Layer``'s, which the optimizer's ``step``
calls) its gradient, so ``forward`` and ``backward`` show the layer's math alone.

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

from .. import initializers, regularizers
from . import activations
from .base import Layer


class AffineLayer(Layer):
    """Base of the layers ``y = activation(x ⊛ W + b)``; see the module docstring.

    Keyword-only options
    --------------------
    activation : str or None
        Name of an activation applied after the product (``"relu"``, ``"softmax"``, ...).
    use_bias : bool
        Whether to add ``b`` (zeros at first).
    kernel_initializer : str or Initializer
        How ``W`` is drawn: a name from ``minidl.nn.initializers`` (``"he_normal"``, ...);
        Glorot uniform by default.
    kernel_regularizer : Regularizer, str or None
        A penalty on ``W`` added to the loss (``"l2"``, ``regularizers.L2(1e-4)``).
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
        kernel_regularizer=None,
        **kwargs,
    ):
        """Keep the options; an unknown activation or regularizer name raises here, an
        unknown keyword in ``Layer.__init__``."""
        super().__init__(name, **kwargs)
        self.activation = activation
        self.activation_layer = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.from_saved(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)

    def add_kernel_and_bias(
        self, kernel_shape: tuple, outputs: int, fan_in: int, fan_out: int, dtype
    ) -> None:
        """Add ``W`` of ``kernel_shape``, drawn by the layer's initializer with the fans
        ``fan_in``, ``fan_out``, and (with ``use_bias``) ``b`` of shape (outputs,), zeros."""
        self.add_param("W", initializers.get(self.kernel_initializer)(kernel_shape, fan_in, fan_out, dtype))
        if self.use_bias:
            self.add_param("b", initializers.zeros((outputs,), dtype=dtype))


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
