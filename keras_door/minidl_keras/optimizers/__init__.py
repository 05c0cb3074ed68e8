"""``keras.optimizers``: minidl's optimizers with Keras 3's argument names and defaults.

Each name is a function that returns the minidl optimizer (``minidl.nn.optim``), so the update
rules are minidl's (PyTorch's, documented in ``minidl.nn.optim``); the defaults are Keras's:

    SGD(learning_rate=0.01, momentum=0.0, nesterov=False)
    RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7)
    Adagrad(learning_rate=0.001, epsilon=1e-7)
    Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
    AdamW(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7)

``learning_rate`` may be a schedule from ``keras.optimizers.schedules``; each also takes
one of ``clipnorm`` (``g * clipnorm / max(|g|, clipnorm)`` per weight), ``global_clipnorm``
(all weights together) and ``clipvalue`` (each entry clipped to ``[-clipvalue, clipvalue]``),
as Keras (two of them are a ``ValueError``), and ``name``. ``RMSprop(centered=True)`` and
``Adam``/``AdamW(amsgrad=True)`` follow Keras's rules (``minidl.nn.optim``'s ``centered`` and
``amsgrad`` with ``keras_epsilon=True``). Keras's
``weight_decay`` is decoupled (the weights shrink by ``lr * weight_decay`` each step):
``Adam(weight_decay=...)`` is therefore minidl's ``AdamW``; for SGD, RMSprop and Adagrad it is
``keras_weight_decay`` (the same shrinking before the step; minidl's own ``weight_decay`` of
those classes is PyTorch's L2 term added to the gradient). Epsilon sits where Keras 3 puts it
(``keras_epsilon=True``): RMSprop and Adagrad divide by ``sqrt(s + epsilon)``, Adam adds it to
``sqrt(v)`` before the bias correction; Adagrad's sum starts at ``initial_accumulator_value``
(0.1). ``minidl.nn.optim`` keeps PyTorch's rules for its own names.
"""

from collections.abc import Callable

from minidl.nn import optim as _optim
from . import schedules

__all__ = ["SGD", "RMSprop", "Adagrad", "Adam", "AdamW", "Optimizer", "schedules", "get"]

Optimizer = _optim.Optimizer


def _common(options: dict, who: str, weight_decay, decay_by_kernel: bool = False, **rule) -> dict:
    """The arguments every Keras optimizer takes, as minidl's optimizers take them:
    ``weight_decay`` (None: 0; Keras's decoupled decay: AdamW's kernel does it
    (``decay_by_kernel``), for the others ``keras_weight_decay``), one of ``clipnorm``,
    ``global_clipnorm`` and ``clipvalue``
    (Keras's rule), ``name`` (ignored); ``rule`` adds minidl's switches (``keras_epsilon=True``).
    Anything else is not in minidl."""
    options = dict(options)
    options.pop("name", None)
    clipping = {key: options.pop(key, None) for key in ("clipnorm", "global_clipnorm", "clipvalue")}
    if sum(value is not None for value in clipping.values()) > 1:
        given = ", ".join(f"{key}={value}" for key, value in clipping.items())
        raise ValueError(
            f"{who}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set "
            f"(as in Keras). Received: {given}"
        )
    if options:
        raise TypeError(f"{who} got argument(s) minidl does not have: {', '.join(sorted(options))}")
    if decay_by_kernel:
        return {"weight_decay": weight_decay or 0.0, **clipping, **rule}
    return {"keras_weight_decay": weight_decay or 0.0, **clipping, **rule}


def SGD(
    learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False, weight_decay=None, **common
) -> _optim.SGD:
    """Keras's SGD as ``minidl.nn.optim.SGD`` (PyTorch's momentum rule, the same steps as
    Keras's for a constant learning rate)."""
    options = _common(common, "SGD", weight_decay)
    return _optim.SGD(learning_rate, momentum=momentum, nesterov=nesterov, **options)


def RMSprop(
    learning_rate=0.001,
    rho: float = 0.9,
    momentum: float = 0.0,
    epsilon: float = 1e-7,
    centered: bool = False,
    weight_decay=None,
    **common,
) -> _optim.RMSprop:
    """Keras's RMSprop (``rho`` 0.9) as ``minidl.nn.optim.RMSprop`` (whose ``alpha`` is ``rho``)."""
    options = _common(common, "RMSprop", weight_decay, keras_epsilon=True)
    return _optim.RMSprop(
        learning_rate, alpha=rho, eps=epsilon, momentum=momentum, centered=centered, **options
    )


def Adagrad(
    learning_rate=0.001,
    initial_accumulator_value: float = 0.1,
    epsilon: float = 1e-7,
    weight_decay=None,
    **common,
) -> _optim.Adagrad:
    """Keras's Adagrad as ``minidl.nn.optim.Adagrad`` with Keras's starting sum and epsilon."""
    options = _common(common, "Adagrad", weight_decay, keras_epsilon=True)
    return _optim.Adagrad(
        learning_rate, eps=epsilon, initial_accumulator_value=initial_accumulator_value, **options
    )


def Adam(
    learning_rate=0.001,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    amsgrad: bool = False,
    weight_decay=None,
    **common,
):
    """Keras's Adam as ``minidl.nn.optim.Adam`` (``minidl.nn.optim.AdamW`` with a ``weight_decay``,
    which Keras applies decoupled)."""
    cls = _optim.AdamW if weight_decay else _optim.Adam
    return _adam("Adam", cls, learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, common)


def AdamW(
    learning_rate=0.001,
    weight_decay: float = 0.004,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    amsgrad: bool = False,
    **common,
) -> _optim.AdamW:
    """Keras's AdamW (weight decay 0.004) as ``minidl.nn.optim.AdamW``."""
    return _adam("AdamW", _optim.AdamW, learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, common)


def _adam(who, cls, learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, common):
    """Keras's Adam or AdamW (``who``) as minidl's ``cls``, epsilon where Keras puts it."""
    options = _common(common, who, weight_decay, decay_by_kernel=True, keras_epsilon=True)
    return cls(learning_rate, beta1=beta_1, beta2=beta_2, eps=epsilon, amsgrad=amsgrad, **options)


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
