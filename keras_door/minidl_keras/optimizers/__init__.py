"""``keras.optimizers``: minidl's optimizers with Keras 3's argument names, defaults and rules.

Each name is a function that returns a subclass of the minidl optimizer
(``minidl.nn.optim``, PyTorch's rules) with Keras's rules; the defaults are Keras's:

    SGD(learning_rate=0.01, momentum=0.0, nesterov=False)
    RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7)
    Adagrad(learning_rate=0.001, epsilon=1e-7)
    Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
    AdamW(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7)

``learning_rate`` may be a schedule from ``keras.optimizers.schedules``; each also takes
one of ``clipnorm`` (``g * clipnorm / max(|g|, clipnorm)`` per weight), ``global_clipnorm``
(all weights together) and ``clipvalue`` (each entry clipped to ``[-clipvalue, clipvalue]``),
as Keras (two of them are a ``ValueError``), and ``name``.

Keras's rules, where they differ from minidl's (PyTorch's):

* epsilon: RMSprop and Adagrad divide by ``sqrt(s + epsilon)`` (minidl: ``sqrt(s) + eps``;
  centred RMSprop ``sqrt(s - a^2 + epsilon)``); Adam adds it to ``sqrt(v)`` before the bias
  correction, ``p -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)``, which is minidl's
  rule with ``eps / sqrt(1 - b2^t)`` in place of ``eps`` (``KerasAdam.epsilon``);
* SGD's velocity holds the steps times the learning rate (``v = momentum v - lr g``;
  ``p += v``; minidl's holds the gradients, ``v = mu v + g; p -= lr v``), which matters when the
  rate changes: a schedule, ``ReduceLROnPlateau``, ``LearningRateScheduler``;
* RMSprop's momentum buffer holds the steps times the learning rate
  (``b = momentum b + lr g / sqrt(...)``; ``p -= b``), which matters when the rate changes;
* Adagrad's sum starts at ``initial_accumulator_value`` (0.1; minidl's 0);
* ``weight_decay`` is decoupled for every optimizer: each weight shrinks by
  ``p -= p * weight_decay * lr`` before its update (``Adam(weight_decay=...)`` is therefore
  minidl's ``AdamW`` with Keras's epsilon); minidl's own ``weight_decay`` of SGD, RMSprop and
  Adagrad is PyTorch's L2 term added to the gradient;
* a schedule is evaluated at the step count before each update, and ``lr`` (also read and set
  as ``learning_rate``) reports the next step's rate after it; setting the rate of an optimizer
  driven by a schedule is a ``TypeError``, as in Keras (a ``LearningRateScheduler`` or
  ``ReduceLROnPlateau`` would otherwise be overridden at the next step).

The classes (``KerasSGD``, ..., ``KerasAdamW``) take minidl's argument names, as a saved
optimizer's configuration holds them; ``minidl.nn.optim.get`` finds them by class name.
"""

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from minidl import backend
from minidl.nn import optim as _optim

from ..keras_api import KerasAbsent
from . import schedules

__all__ = ["SGD", "RMSprop", "Adagrad", "Adam", "AdamW", "Optimizer", "schedules", "get"]

Optimizer = _optim.Optimizer

# KerasRules is a mixin placed before one of minidl's optimizers; the type checker reads it as
# the Optimizer it always extends.
if TYPE_CHECKING:
    _RulesBase = _optim.Optimizer
else:
    _RulesBase = object


class KerasRules(KerasAbsent, _RulesBase):
    """What every Keras optimizer adds to minidl's: ``lr`` may be a ``LearningRateSchedule``,
    ``decoupled_weight_decay`` shrinks each weight before its update, ``learning_rate`` is
    ``lr``. Placed before a minidl optimizer class among a subclass's bases. Keras's names it
    lacks raise ``KerasFeatureMissing`` with minidl's way (``keras_api``)."""

    keras_kind = "Optimizer"

    def __init__(self, lr, *args, decoupled_weight_decay: float = 0.0, **options):
        self.schedule = lr if isinstance(lr, schedules.LearningRateSchedule) else None
        super().__init__(lr if self.schedule is None else self.schedule(0), *args, **options)
        self.decoupled_weight_decay = float(decoupled_weight_decay)

    @property  # minidl's plain attribute, kept in vars(self) for get_config
    def lr(self) -> float:
        return self.__dict__["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        """Set the rate; refused, as in Keras, when a schedule gives it (a callback such as
        ``LearningRateScheduler`` or ``ReduceLROnPlateau`` would be overridden silently)."""
        if getattr(self, "schedule", None) is not None and "lr" in self.__dict__:
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not settable. "
                "If you need the learning rate to be settable, you should instantiate the "
                "optimizer with a float `learning_rate` argument."
            )
        self.__dict__["lr"] = float(value)

    @property
    def learning_rate(self) -> float:
        """Keras's name for ``lr``."""
        return self.lr

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self.lr = float(value)

    def step(self, model) -> None:
        if self.schedule is not None:
            self.__dict__["lr"] = float(self.schedule(self.iterations))
        super().step(model)
        if self.schedule is not None:  # what lr reports now is the next step's rate, as in Keras
            self.__dict__["lr"] = float(self.schedule(self.iterations))

    def decay(self, param) -> None:
        """Keras's decoupled weight decay, before the step: ``p -= p * wd * lr``."""
        if self.decoupled_weight_decay:
            param -= param * param.dtype.type(self.decoupled_weight_decay) * param.dtype.type(self.lr)

    def update(self, param, grad, state) -> None:
        self.decay(param)
        super().update(param, grad, state)

    def get_config(self) -> dict:
        config = super().get_config()
        schedule = config.pop("schedule")
        if schedule is not None:
            config["lr"] = schedule
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        if isinstance(config.get("lr"), dict):
            config["lr"] = schedules.from_saved(config["lr"])
        return cls(**config)


class KerasSGD(KerasRules, _optim.SGD):
    """SGD with Keras's momentum rule, the learning rate inside the velocity:
    ``v = momentum v - lr g``, then ``p += v`` (Nesterov: ``p += momentum v - lr g``, with the
    new ``v``). For a constant rate these are minidl's (PyTorch's) steps, whose velocity holds
    the gradients without the rate (``v = mu v + g; p -= lr v``); when the rate changes (a
    schedule, ``ReduceLROnPlateau``, ``LearningRateScheduler``) each past gradient keeps the
    rate it was taken with, as in Keras. The velocity is kept in Keras's units."""

    def update(self, param, grad, state) -> None:
        if not self.momentum:  # p -= lr g: one rule in both libraries, minidl's kernel
            super().update(param, grad, state)
            return
        self.decay(param)
        g = grad + param.dtype.type(self.weight_decay) * param if self.weight_decay else grad
        lr, momentum = param.dtype.type(self.lr), param.dtype.type(self.momentum)
        velocity = state["velocity"]
        velocity *= momentum
        velocity -= lr * g
        if self.nesterov:
            param += momentum * velocity - lr * g
        else:
            param += velocity


class KerasRMSprop(KerasRules, _optim.RMSprop):
    """RMSprop with Keras's rule: ``b = momentum b + lr g / sqrt(s [- a^2] + eps)``; ``p -= b``."""

    def update(self, param, grad, state) -> None:
        self.decay(param)
        xp = backend.get_array_module(param)
        g = self._averages(param, grad, state)
        variance = state["square_avg"]
        if self.centered:
            variance = variance - state["grad_avg"] * state["grad_avg"]
        step = self.lr * g / xp.sqrt(variance + self.eps)
        if self.momentum:
            buffer = state["buffer"]
            buffer *= self.momentum
            buffer += step
            step = buffer
        param -= step


class KerasAdagrad(KerasRules, _optim.Adagrad):
    """Adagrad with Keras's rule: ``p -= lr g / sqrt(s + eps)``."""

    def update(self, param, grad, state) -> None:
        self.decay(param)
        g = grad + self.weight_decay * param if self.weight_decay else grad
        total = state["sum"]
        total += g * g
        param -= self.lr * g / backend.get_array_module(total).sqrt(total + self.eps)


class KerasAdam(KerasRules, _optim.Adam):
    """Adam with Keras's epsilon, added to ``sqrt(v)`` before the bias correction."""

    def epsilon(self, step: int) -> float:
        return self.eps / math.sqrt(1.0 - self.beta2**step)


class KerasAdamW(KerasAdam, _optim.AdamW):
    """AdamW (decoupled decay in the kernel) with Keras's epsilon."""


def _common(options: dict, who: str, weight_decay, decay_by_kernel: bool = False) -> dict:
    """The arguments every Keras optimizer takes, as the classes above take them:
    ``weight_decay`` (None: 0; Keras's decoupled decay: AdamW's kernel does it
    (``decay_by_kernel``), for the others ``decoupled_weight_decay``), one of ``clipnorm``,
    ``global_clipnorm`` and ``clipvalue`` (Keras's rule), ``name`` (ignored).
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
        return {"weight_decay": weight_decay or 0.0, **clipping}
    return {"decoupled_weight_decay": weight_decay or 0.0, **clipping}


def SGD(
    learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False, weight_decay=None, **common
) -> KerasSGD:
    """Keras's SGD: ``minidl.nn.optim.SGD`` with Keras's momentum rule (``v = momentum v -
    lr g; p += v``: the rate inside the velocity, ``KerasSGD``)."""
    options = _common(common, "SGD", weight_decay)
    return KerasSGD(learning_rate, momentum=momentum, nesterov=nesterov, **options)


def RMSprop(
    learning_rate=0.001,
    rho: float = 0.9,
    momentum: float = 0.0,
    epsilon: float = 1e-7,
    centered: bool = False,
    weight_decay=None,
    **common,
) -> KerasRMSprop:
    """Keras's RMSprop (``rho`` 0.9) as ``minidl.nn.optim.RMSprop`` (whose ``alpha`` is ``rho``)."""
    options = _common(common, "RMSprop", weight_decay)
    return KerasRMSprop(
        learning_rate, alpha=rho, eps=epsilon, momentum=momentum, centered=centered, **options
    )


def Adagrad(
    learning_rate=0.001,
    initial_accumulator_value: float = 0.1,
    epsilon: float = 1e-7,
    weight_decay=None,
    **common,
) -> KerasAdagrad:
    """Keras's Adagrad as ``minidl.nn.optim.Adagrad`` with Keras's starting sum and epsilon."""
    options = _common(common, "Adagrad", weight_decay)
    return KerasAdagrad(
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
) -> KerasAdam:
    """Keras's Adam as ``minidl.nn.optim.Adam`` (``minidl.nn.optim.AdamW`` with a ``weight_decay``,
    which Keras applies decoupled)."""
    cls = KerasAdamW if weight_decay else KerasAdam
    return _adam("Adam", cls, learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, common)


def AdamW(
    learning_rate=0.001,
    weight_decay: float = 0.004,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    amsgrad: bool = False,
    **common,
) -> KerasAdamW:
    """Keras's AdamW (weight decay 0.004) as ``minidl.nn.optim.AdamW``."""
    return _adam("AdamW", KerasAdamW, learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, common)


def _adam(who, cls, learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, common):
    """Keras's Adam or AdamW (``who``) as ``cls``."""
    options = _common(common, who, weight_decay, decay_by_kernel=True)
    return cls(learning_rate, beta1=beta_1, beta2=beta_2, eps=epsilon, amsgrad=amsgrad, **options)


_BY_NAME: dict[str, Callable[[], Optimizer]] = {
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "adam": Adam,
    "adamw": AdamW,
}


def get(identifier):
    """An optimizer from a name (Keras's defaults), an optimizer object, or a saved
    ``{"class", "config"}`` (``minidl.nn.optim.get``)."""
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    return _optim.get(identifier)
