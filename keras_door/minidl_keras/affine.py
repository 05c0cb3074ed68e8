"""Keras's options of ``Dense``, ``Conv1D``, ``Conv2D`` and ``Conv2DTranspose`` that minidl's
layers do not take, added from outside.

minidl's affine layers take ``activation``, ``use_bias``, ``kernel_initializer`` and
``kernel_regularizer`` (``minidl.nn.layers.affine``). Keras's also take

    bias_initializer        how ``b`` is drawn (zeros by default)
    bias_regularizer        a penalty on ``b``, added to the loss
    activity_regularizer    a penalty on the output ``y``, divided by the batch size, as Keras
    kernel_constraint       applied to ``W`` by the optimizer after each step (in Keras's layout:
    bias_constraint         ``KerasNames.constraint_of``), and to ``b``

``KerasAffineOptions`` is the mixin that keeps them and does what each asks around minidl's
``forward`` and ``backward`` (which it does not change): the output penalty's gradient is
added to ``dy`` before minidl's ``backward``; the bias penalty's is added to ``grads["b"]`` by
``add_penalty_gradients``, which the optimizer's step calls. ``with_keras_options`` gives a
door class the ``__init__`` (and the signature ``get_config`` reads) that takes them.
"""

from __future__ import annotations

import inspect

from minidl.nn import initializers, regularizers

from . import constraints

__all__ = ["KerasAffineOptions", "with_keras_options"]

#: Keras's options that minidl's affine layers lack, with Keras's defaults, in Keras's order
KERAS_OPTIONS = {
    "bias_initializer": "zeros",
    "bias_regularizer": None,
    "activity_regularizer": None,
    "kernel_constraint": None,
    "bias_constraint": None,
}


class KerasAffineOptions:
    """Mixin of the door's affine layers (before minidl's class in the bases); see the module
    docstring. ``activity_loss`` is the output penalty of the last forward pass."""

    bias_initializer = "zeros"
    bias_regularizer = activity_regularizer = kernel_constraint = bias_constraint = None
    activity_loss = 0.0

    def set_keras_options(
        self,
        bias_initializer="zeros",
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
    ) -> None:
        """Keep the options; an unknown name raises here."""
        self.bias_initializer = initializers.from_saved(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def add_kernel_and_bias(self, kernel_shape, outputs, fan_in, fan_out, dtype) -> None:
        """minidl's ``W`` and ``b``, then ``b`` drawn again by ``bias_initializer`` (same fans)."""
        super().add_kernel_and_bias(kernel_shape, outputs, fan_in, fan_out, dtype)  # type: ignore[misc]
        if self.use_bias:  # type: ignore[attr-defined]
            bias = initializers.get(self.bias_initializer)((outputs,), fan_in, fan_out, dtype)
            self.add_param("b", bias)  # type: ignore[attr-defined]

    def forward(self, x, training=False):
        """minidl's forward; with an ``activity_regularizer``, keeps ``penalty(y) / N``."""
        y = super().forward(x, training)  # type: ignore[misc]
        if self.activity_regularizer is not None:
            self.activity_loss = self.activity_regularizer.loss(y) / max(len(y), 1)
            self.activity_output = y
        return y

    def _with_output_penalty(self, dy):
        """``dy`` plus the output penalty's gradient (what minidl's backward then receives)."""
        if self.activity_regularizer is None:
            return dy
        y = self.activity_output
        return dy + self.activity_regularizer.gradient(y) / max(len(y), 1)

    def backward(self, dy):
        return super().backward(self._with_output_penalty(dy))  # type: ignore[misc]

    def backward_params(self, dy) -> None:
        """minidl's ``backward_params`` where the layer has one (a first convolution), else
        its ``backward`` with the input's gradient dropped."""
        dy = self._with_output_penalty(dy)
        inner = getattr(super(), "backward_params", None)
        if inner is not None:
            inner(dy)
        else:
            super().backward(dy)  # type: ignore[misc]

    def regularization_loss(self) -> float:
        """minidl's (the kernel's penalty), the bias's, and the output's of the last forward pass."""
        total = super().regularization_loss() + self.activity_loss  # type: ignore[misc]
        if self.bias_regularizer is not None and self.built and self.use_bias:  # type: ignore[attr-defined]
            total += self.bias_regularizer.loss(self.params["b"])  # type: ignore[attr-defined]
        return total

    def add_penalty_gradients(self) -> None:
        """minidl's (the kernel's penalty) and the bias penalty's gradient."""
        super().add_penalty_gradients()  # type: ignore[misc]
        if self.bias_regularizer is not None and self.built and self.use_bias:  # type: ignore[attr-defined]
            self.grads["b"] += self.bias_regularizer.gradient(self.params["b"])  # type: ignore[attr-defined]

    def own_constraints(self) -> dict:
        return {
            key: fn
            for key, fn in (("W", self.kernel_constraint), ("b", self.bias_constraint))
            if fn is not None and key in self.params  # type: ignore[attr-defined]
        }


def with_keras_options(cls: type) -> type:
    """Class decorator for a door subclass of ``KerasAffineOptions`` and a minidl affine layer:
    an ``__init__`` that takes minidl's arguments and Keras's options (``KERAS_OPTIONS``), with
    a signature listing them in Keras's order (``help``, ``get_config`` and saving read it)."""
    minidl_init = cls.__init__  # type: ignore[misc]

    def __init__(self, *args, **kwargs):
        options = {name: kwargs.pop(name) for name in KERAS_OPTIONS if name in kwargs}
        minidl_init(self, *args, **kwargs)
        self.set_keras_options(**options)

    params = list(inspect.signature(minidl_init).parameters.values())
    names = [p.name for p in params]
    added = {
        name: inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
        for name, default in KERAS_OPTIONS.items()
    }
    at_initializer = names.index("kernel_initializer") + 1
    at_regularizer = names.index("kernel_regularizer") + 1
    params = (
        params[:at_initializer]
        + [added["bias_initializer"]]
        + params[at_initializer:at_regularizer]
        + [added[name] for name in list(KERAS_OPTIONS)[1:]]
        + params[at_regularizer:]
    )
    __init__.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    __init__.__doc__ = minidl_init.__doc__
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = __init__  # type: ignore[misc]
    return cls
