"""``keras.optimizers``: minidl's optimizers with Keras 3's argument names and defaults.

Each name is a function that returns the minidl optimizer (``minidl.nn.optim``), so the update
rules are minidl's (PyTorch's, documented in ``minidl.nn.optim``); the defaults are Keras's:

    SGD(learning_rate=0.01, momentum=0.0, nesterov=False)
    RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7)
    Adagrad(learning_rate=0.001, epsilon=1e-7)
    Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
    AdamW(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7)

``learning_rate`` may be a schedule from ``keras.optimizers.schedules``. Keras's
``weight_decay`` is decoupled (the weights shrink by ``lr * weight_decay`` each step):
``Adam(weight_decay=...)`` is therefore minidl's ``AdamW``; for SGD, RMSprop and Adagrad it
becomes minidl's L2 ``weight_decay`` (the same step for plain SGD; with momentum or an
adaptive rate the two differ slightly). Epsilon sits where Keras 3 puts it
(``keras_epsilon=True``): RMSprop and Adagrad divide by ``sqrt(s + epsilon)``, Adam adds it to
``sqrt(v)`` before the bias correction; Adagrad's sum starts at ``initial_accumulator_value``
(0.1). ``minidl.nn.optim`` keeps PyTorch's rules for its own names.
"""

from collections.abc import Callable

from ...nn import optim as _optim
from . import schedules

__all__ = ["SGD", "RMSprop", "Adagrad", "Adam", "AdamW", "Optimizer", "schedules", "get"]

Optimizer = _optim.Optimizer


def _clipping(clipnorm, clipvalue, global_clipnorm, who) -> dict:
    if clipvalue is not None:
        raise NotImplementedError(
            f"{who}(clipvalue=...) is not in minidl; the closest: clipnorm= (per weight) or "
            "global_clipnorm= (all weights together)"
        )
    return {"clipnorm": clipnorm, "global_clipnorm": global_clipnorm}


def _unused(kwargs: dict, who: str) -> None:
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"{who} got argument(s) minidl does not have: {', '.join(sorted(kwargs))}")


def SGD(
    learning_rate=0.01,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay=None,
    clipnorm=None,
    clipvalue=None,
    global_clipnorm=None,
    **kwargs,
) -> _optim.SGD:
    """Keras's SGD as ``minidl.nn.optim.SGD`` (PyTorch's momentum rule, the same steps as
    Keras's for a constant learning rate)."""
    _unused(kwargs, "SGD")
    return _optim.SGD(
        learning_rate,
        momentum=momentum,
        nesterov=nesterov,
        weight_decay=weight_decay or 0.0,
        **_clipping(clipnorm, clipvalue, global_clipnorm, "SGD"),
    )


def RMSprop(
    learning_rate=0.001,
    rho: float = 0.9,
    momentum: float = 0.0,
    epsilon: float = 1e-7,
    centered: bool = False,
    weight_decay=None,
    clipnorm=None,
    clipvalue=None,
    global_clipnorm=None,
    **kwargs,
) -> _optim.RMSprop:
    """Keras's RMSprop (``rho`` 0.9) as ``minidl.nn.optim.RMSprop`` (whose ``alpha`` is ``rho``)."""
    _unused(kwargs, "RMSprop")
    if centered:
        raise NotImplementedError(
            "RMSprop(centered=True) is not in minidl; the closest: RMSprop(centered=False) or Adam"
        )
    return _optim.RMSprop(
        learning_rate,
        alpha=rho,
        eps=epsilon,
        keras_epsilon=True,
        momentum=momentum,
        weight_decay=weight_decay or 0.0,
        **_clipping(clipnorm, clipvalue, global_clipnorm, "RMSprop"),
    )


def Adagrad(
    learning_rate=0.001,
    initial_accumulator_value: float = 0.1,
    epsilon: float = 1e-7,
    weight_decay=None,
    clipnorm=None,
    clipvalue=None,
    global_clipnorm=None,
    **kwargs,
) -> _optim.Adagrad:
    """Keras's Adagrad as ``minidl.nn.optim.Adagrad`` with Keras's starting sum and epsilon."""
    _unused(kwargs, "Adagrad")
    return _optim.Adagrad(
        learning_rate,
        eps=epsilon,
        keras_epsilon=True,
        initial_accumulator_value=initial_accumulator_value,
        weight_decay=weight_decay or 0.0,
        **_clipping(clipnorm, clipvalue, global_clipnorm, "Adagrad"),
    )


def Adam(
    learning_rate=0.001,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    amsgrad: bool = False,
    weight_decay=None,
    clipnorm=None,
    clipvalue=None,
    global_clipnorm=None,
    **kwargs,
):
    """Keras's Adam as ``minidl.nn.optim.Adam`` (``minidl.nn.optim.AdamW`` with a ``weight_decay``,
    which Keras applies decoupled)."""
    _unused(kwargs, "Adam")
    if amsgrad:
        raise NotImplementedError("Adam(amsgrad=True) is not in minidl; the closest: Adam(amsgrad=False)")
    clipping = _clipping(clipnorm, clipvalue, global_clipnorm, "Adam")
    if weight_decay:
        return _optim.AdamW(
            learning_rate,
            beta1=beta_1,
            beta2=beta_2,
            eps=epsilon,
            weight_decay=weight_decay,
            keras_epsilon=True,
            **clipping,
        )
    return _optim.Adam(learning_rate, beta1=beta_1, beta2=beta_2, eps=epsilon, keras_epsilon=True, **clipping)


def AdamW(
    learning_rate=0.001,
    weight_decay: float = 0.004,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    amsgrad: bool = False,
    clipnorm=None,
    clipvalue=None,
    global_clipnorm=None,
    **kwargs,
) -> _optim.AdamW:
    """Keras's AdamW (weight decay 0.004) as ``minidl.nn.optim.AdamW``."""
    _unused(kwargs, "AdamW")
    if amsgrad:
        raise NotImplementedError("AdamW(amsgrad=True) is not in minidl; the closest: AdamW(amsgrad=False)")
    return _optim.AdamW(
        learning_rate,
        beta1=beta_1,
        beta2=beta_2,
        eps=epsilon,
        weight_decay=weight_decay,
        keras_epsilon=True,
        **_clipping(clipnorm, clipvalue, global_clipnorm, "AdamW"),
    )


_BY_NAME: dict[str, Callable[[], _optim.Optimizer]] = {
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "adam": Adam,
    "adamw": AdamW,
}


def get(identifier):
    """An optimizer from a name (Keras's defaults) or an optimizer object."""
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    return _optim.get(identifier)
