"""``keras.optimizers``: minidl's optimizers with Keras 3's argument names, defaults and rules.

Each is a class named as Keras's (``type(opt).__name__ == "Adam"``), a subclass of the minidl
optimizer (``minidl.nn.optim``, PyTorch's rules) with Keras's rules; the defaults are Keras's:

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
  rule with ``eps / sqrt(1 - b2^t)`` in place of ``eps`` (``Adam.epsilon(step)``);
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

``get_config()`` gives Keras's keys (``name``, ``learning_rate``, ``weight_decay``, ...), which
``from_config`` and a saved model read back; ``serialize``/``deserialize`` Keras's envelope. A
saved model names each class by its ``saved_name`` (``KerasSGD``, ..., ``KerasAdamW``), where
``minidl.nn.optim.get`` finds it, so that minidl's own ``Adam`` keeps the name ``Adam``.
"""

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from minidl import backend
from minidl.nn import optim as _optim

from ..keras_api import KerasAbsent
from ..missing import KerasFeatureMissing
from ..naming import auto_name
from . import schedules

__all__ = [
    "SGD", "RMSprop", "Adagrad", "Adam", "AdamW", "Optimizer", "schedules", "get", "serialize", "deserialize",
]  # fmt: skip

Optimizer = _optim.Optimizer


# KerasRules is a mixin placed before one of minidl's optimizers; the type checker reads it as
# the Optimizer it always extends.
if TYPE_CHECKING:
    _RulesBase = _optim.Optimizer
else:
    _RulesBase = object


#: Keras's options every optimizer takes that the door keeps at Keras's default (another value
#: is refused, naming the option): exponential moving averages, loss scaling, accumulation
_KERAS_DEFAULTS = {
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


class KerasRules(KerasAbsent, _RulesBase):
    """What every Keras optimizer adds to minidl's: Keras's constructor (``learning_rate``,
    ``weight_decay``, clipping, ``name``), ``lr`` may be a ``LearningRateSchedule``,
    ``decoupled_weight_decay`` shrinks each weight before its update, ``learning_rate`` is
    ``lr``, and ``get_config``/``from_config`` in Keras's keys. Placed before a minidl optimizer
    class among a subclass's bases. Keras's names it lacks raise ``KerasFeatureMissing`` with
    minidl's way (``keras_api``). Each class is named as Keras's (``Adam``) and saved under its
    own name (``KerasAdam``, minidl's ``saved_name``), so minidl's ``Adam`` keeps its own."""

    keras_kind = "Optimizer"
    #: Keras's configuration keys of this optimizer after the common ones, each with the
    #: attribute of minidl's optimizer that holds it
    keras_keys: tuple[tuple[str, str], ...] = ()

    def __init__(self, learning_rate, weight_decay, common: dict, decay_by_kernel=False, **minidl_options):
        who = type(self).__name__
        common = dict(common)
        name = common.pop("name", None)
        for key, default in _KERAS_DEFAULTS.items():
            value = common.pop(key, default)
            if value != default:
                raise KerasFeatureMissing(
                    f"keras.optimizers.{who}({key}={value!r}) is not in minidl_keras: it keeps "
                    f"{key}={default!r} (Keras's default)"
                )
        clipping = {key: common.pop(key, None) for key in ("clipnorm", "global_clipnorm", "clipvalue")}
        if sum(value is not None for value in clipping.values()) > 1:
            given = ", ".join(f"{key}={value}" for key, value in clipping.items())
            raise ValueError(
                f"{who}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set "
                f"(as in Keras). Received: {given}"
            )
        if common:
            raise TypeError(f"{who} got argument(s) minidl does not have: {', '.join(sorted(common))}")
        if isinstance(learning_rate, dict):  # a saved schedule (Keras's or the door's form)
            learning_rate = schedules.deserialize(learning_rate)
        self.schedule = learning_rate if isinstance(learning_rate, schedules.LearningRateSchedule) else None
        lr = learning_rate if self.schedule is None else self.schedule(0)
        if decay_by_kernel:
            minidl_options["weight_decay"] = weight_decay or 0.0
        super().__init__(lr, **minidl_options, **clipping)
        self.decoupled_weight_decay = 0.0 if decay_by_kernel else float(weight_decay or 0.0)
        self.keras_weight_decay = None if weight_decay is None else float(weight_decay)
        self.name = name or auto_name(who)

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
        """Keras's ``get_config()``: its keys, in its order (a schedule serialized as Keras
        serializes it; the learning rate as given, 0.01, where Keras shows the float32 it holds,
        0.009999999776482582)."""
        rate = schedules.serialize(self.schedule) if self.schedule is not None else self.lr
        config = {
            "name": self.name,
            "learning_rate": rate,
            "weight_decay": self.keras_weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            **_KERAS_DEFAULTS,
        }
        config.update({key: getattr(self, attribute) for key, attribute in type(self).keras_keys})
        return config

    @classmethod
    def from_config(cls, config: dict):
        """The optimizer ``get_config`` described (Keras's keys), as Keras's ``from_config``."""
        return cls(**config)


class SGD(KerasRules, _optim.SGD, saved_name="KerasSGD"):
    """Keras's SGD: ``minidl.nn.optim.SGD`` with Keras's momentum rule, the learning rate inside
    the velocity: ``v = momentum v - lr g``, then ``p += v`` (Nesterov: ``p += momentum v -
    lr g``, with the new ``v``). For a constant rate these are minidl's (PyTorch's) steps, whose
    velocity holds the gradients without the rate (``v = mu v + g; p -= lr v``); when the rate
    changes (a schedule, ``ReduceLROnPlateau``, ``LearningRateScheduler``) each past gradient
    keeps the rate it was taken with, as in Keras. The velocity is kept in Keras's units."""

    keras_keys = (("momentum", "momentum"), ("nesterov", "nesterov"))

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, **common):
        super().__init__(learning_rate, weight_decay, common, momentum=momentum, nesterov=nesterov)

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


class RMSprop(KerasRules, _optim.RMSprop, saved_name="KerasRMSprop"):
    """Keras's RMSprop (``rho`` 0.9, minidl's ``alpha``) with Keras's rule:
    ``b = momentum b + lr g / sqrt(s [- a^2] + eps)``; ``p -= b``."""

    keras_keys = (("rho", "alpha"), ("momentum", "momentum"), ("epsilon", "eps"), ("centered", "centered"))

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
        weight_decay=None,
        **common,
    ):
        super().__init__(learning_rate, weight_decay, common, alpha=rho, eps=epsilon, momentum=momentum)
        self.centered = bool(centered)  # (the door's: minidl's RMSprop has no centred form)

    def init_state(self, param):
        state = super().init_state(param)
        if self.centered:  # the running mean of the gradients, a = rho a + (1 - rho) g
            state["grad_avg"] = backend.get_array_module(param).zeros_like(param)
        return state

    def update(self, param, grad, state) -> None:
        self.decay(param)
        xp = backend.get_array_module(param)
        g = grad + self.weight_decay * param if self.weight_decay else grad
        variance = state["square_avg"]  # s = rho s + (1 - rho) g^2, in place
        variance *= self.alpha
        variance += (1.0 - self.alpha) * g * g
        if self.centered:  # the gradient's variance s - a^2 instead of its second moment
            a = state["grad_avg"]
            a *= self.alpha
            a += (1.0 - self.alpha) * g
            variance = variance - a * a
        step = self.lr * g / xp.sqrt(variance + self.eps)
        if self.momentum:
            buffer = state["buffer"]
            buffer *= self.momentum
            buffer += step
            step = buffer
        param -= step


class Adagrad(KerasRules, _optim.Adagrad, saved_name="KerasAdagrad"):
    """Keras's Adagrad (the sum starts at ``initial_accumulator_value``, 0.1) with Keras's rule:
    ``p -= lr g / sqrt(s + eps)``."""

    keras_keys = (("initial_accumulator_value", "initial_accumulator_value"), ("epsilon", "eps"))

    def __init__(
        self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None, **common
    ):
        super().__init__(
            learning_rate,
            weight_decay,
            common,
            eps=epsilon,
            initial_accumulator_value=initial_accumulator_value,
        )

    def update(self, param, grad, state) -> None:
        self.decay(param)
        g = grad + self.weight_decay * param if self.weight_decay else grad
        total = state["sum"]
        total += g * g
        param -= self.lr * g / backend.get_array_module(total).sqrt(total + self.eps)


class Adam(KerasRules, _optim.Adam, saved_name="KerasAdam"):
    """Keras's Adam: Keras's epsilon, added to ``sqrt(v)`` before the bias correction; a
    ``weight_decay`` is decoupled, as Keras applies it (minidl's ``AdamW`` kernel)."""

    decoupled = True  # (with weight_decay 0, minidl's Adam step)
    keras_keys = (("beta_1", "beta1"), ("beta_2", "beta2"), ("epsilon", "eps"), ("amsgrad", "amsgrad"))

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        weight_decay=None,
        **common,
    ):
        super().__init__(
            learning_rate,
            weight_decay,
            common,
            decay_by_kernel=True,
            beta1=beta_1,
            beta2=beta_2,
            eps=epsilon,
        )
        self.amsgrad = bool(amsgrad)  # (the door's: minidl's Adam has no AMSGrad form)

    def epsilon(self, step: int) -> float:
        return self.eps / math.sqrt(1.0 - self.beta2**step)

    def init_state(self, param):
        state = super().init_state(param)
        if self.amsgrad:  # the largest second moment so far
            state["v_max"] = backend.get_array_module(param).zeros_like(param)
        return state

    def update(self, param, grad, state) -> None:
        """minidl's Adam step; with ``amsgrad``, that step (the ``adam_update`` kernel's rule,
        written out) dividing by ``sqrt(v_max)``, ``v_max = max(v_max, v)``, so a step never
        grows because ``v`` shrank (Reddi et al., 2018)."""
        if not self.amsgrad:
            super().update(param, grad, state)
            return
        xp = backend.get_array_module(param)
        state["step"] += 1
        t = state["step"]
        if self.weight_decay:  # decoupled, as the kernel applies it
            param *= 1.0 - self.lr * self.weight_decay
        m, v, v_max = state["m"], state["v"], state["v_max"]
        m *= self.beta1
        m += (1.0 - self.beta1) * grad
        v *= self.beta2
        v += (1.0 - self.beta2) * grad * grad
        xp.maximum(v_max, v, out=v_max)
        m_hat = m / (1.0 - self.beta1**t)
        v_hat = v_max / (1.0 - self.beta2**t)
        param -= self.lr * m_hat / (xp.sqrt(v_hat) + self.epsilon(t))


class AdamW(Adam, _optim.AdamW, saved_name="KerasAdamW"):
    """Keras's AdamW: Adam with ``weight_decay`` 0.004 by default (decoupled, in the kernel)."""

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        **common,
    ):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, **common)


_BY_NAME: dict[str, Callable[[], Optimizer]] = {
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "adam": Adam,
    "adamw": AdamW,
}


def get(identifier):
    """An optimizer from a name (Keras's defaults), an optimizer object, Keras's serialized
    ``{"class_name", "config"}`` or a saved ``{"class", "config"}`` (``minidl.nn.optim.get``)."""
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    if isinstance(identifier, dict) and "class_name" in identifier:
        return deserialize(identifier)
    return _optim.get(identifier)


def serialize(optimizer) -> dict:
    """Keras's ``keras.optimizers.serialize``: ``{"module", "class_name", "config", "registered_name"}``."""
    return {
        "module": "keras.optimizers",
        "class_name": type(optimizer).__name__,
        "config": optimizer.get_config(),
        "registered_name": None,
    }


def deserialize(config: dict):
    """Keras's ``keras.optimizers.deserialize``: the optimizer ``serialize`` described."""
    cls = {c.__name__: c for c in (SGD, RMSprop, Adagrad, Adam, AdamW)}.get(str(config.get("class_name")))
    if cls is None:
        raise ValueError(
            f"unknown optimizer class {config.get('class_name')!r}; minidl_keras has SGD, RMSprop, "
            "Adagrad, Adam and AdamW"
        )
    return cls.from_config(dict(config.get("config", {})))
