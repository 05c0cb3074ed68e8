"""Optimizers: how a gradient becomes a step, and learning-rate schedules.

Every optimizer follows the update rule PyTorch documents, so results can be compared
number for number. With ``g`` the gradient, ``p`` a parameter and ``lr`` the learning rate:

    SGD        v = mu v + g;  p -= lr (g + mu v if nesterov else v)        (v starts at 0)
    RMSprop    s = alpha s + (1 - alpha) g^2;  p -= lr g / (sqrt(s) + eps)
    Adagrad    s = s + g^2;  p -= lr g / (sqrt(s) + eps)
    Adam       m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
               p -= lr m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)
    AdamW      Adam, but weight decay shrinks p directly: p *= 1 - lr wd  (not added to g)

Each rule is one kernel (``sgd_update``, ``rmsprop_update``, ``adagrad_update``,
``adam_update`` in ``minidl/kernels``), run in place on the parameter and its state.
``weight_decay`` (all but AdamW) adds ``wd * p`` to ``g``: L2 regularisation.
``clipnorm`` rescales each parameter's gradient to norm at most ``clipnorm``,
``g * clipnorm / max(|g|, clipnorm)``; ``global_clipnorm`` rescales all gradients
together (PyTorch's ``clip_grad_norm_``); ``clipvalue`` clips each entry to
``[-clipvalue, clipvalue]`` (PyTorch's ``clip_grad_value_``).

After the updates, a parameter with a constraint (``layer.constraint_of(key)``: a layer's
``kernel_constraint=``, ``minidl.nn.constraints``) is replaced by ``constraint(param)``.

Use with ``model.compile(optimizer=Adam(1e-3))``, or by hand:
``opt.step(model); model.zero_grad()``. The schedules at the end of this file (``StepDecay``,
``ExponentialEpochDecay``, ``CosineEpochDecay``) give the learning rate of each epoch to the
``LearningRateScheduler`` callback.

A subclass (one with another update rule, defined anywhere) is found again by its class name
when a saved model is loaded (``get``), once the module defining it has been imported.
"""

import inspect
import math

import numpy as np

from .. import backend
from .configurable import made_again


class Optimizer:
    """Base class. ``step(model)`` updates every trainable parameter of ``model`` in place.

    ``model`` may be a ``Sequential``, a layer, or a list of layers. The arguments have
    PyTorch's names (``lr``, ``beta1``, ``beta2``, ``alpha``, ``eps``); other libraries'
    spellings (``learning_rate``, ``beta_1``, ...) are refused with minidl's name (``RENAMED``).
    """

    #: every optimizer class by name, filled as subclasses are defined (``get`` reads it)
    classes: dict[str, type["Optimizer"]] = {}
    #: the name a saved model records for this class, its key in ``classes``: the class name,
    #: unless the class says another (``class Adam(optim.Adam, saved_name="OtherAdam")``: a
    #: subclass that shows the name of one of minidl's classes leaves that name to minidl's)
    saved_name: str = "Optimizer"

    def __init_subclass__(cls, saved_name: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.saved_name = saved_name or cls.__name__
        Optimizer.classes[cls.saved_name] = cls

    def __init__(
        self,
        lr: float,
        clipnorm: float | None = None,
        global_clipnorm: float | None = None,
        clipvalue: float | None = None,
        **unknown,
    ):
        who, accepted = type(self).__name__, _accepted_names(type(self))
        for name in sorted(unknown):
            if RENAMED.get(name) in accepted:
                raise TypeError(
                    f"{who}() got an unexpected keyword {name!r}: minidl's name is {RENAMED[name]}"
                )
        if unknown:
            raise TypeError(
                f"{who} got unexpected keyword argument(s) {', '.join(sorted(unknown))}; it takes {', '.join(accepted)}"
            )
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating, np.integer)):
            raise TypeError(f"{who} learning rate must be a number, e.g. lr=1e-3, got {lr!r}")
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr!r}")
        clipping = {"clipnorm": clipnorm, "global_clipnorm": global_clipnorm, "clipvalue": clipvalue}
        for name, value in clipping.items():
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive or None, got {value!r}")
        self.lr = float(lr)
        self.clipnorm, self.global_clipnorm, self.clipvalue = clipnorm, global_clipnorm, clipvalue
        self.iterations = 0
        self.state: dict = {}

    def step(self, model) -> None:
        """Apply one update to every trainable parameter, using the gradients in ``layer.grads``
        plus the gradients of the layers' weight penalties (``layer.add_penalty_gradients()``)."""
        for layer in _layers_of(model):
            layer.add_penalty_gradients()
        slots = [(layer, name) for layer in _layers_of(model) for name in layer.trainable_keys()]
        grads = [layer.grads[name] for layer, name in slots]
        grads = self._clip(grads)
        for (layer, name), grad in zip(slots, grads):
            key = (id(layer), name)
            if key not in self.state:
                self.state[key] = self.init_state(layer.params[name])
            self.update(layer.params[name], grad, self.state[key])
        for layer, name in slots:  # weight constraints after the step
            constraint = layer.constraint_of(name)
            if constraint is not None:
                param = layer.params[name]
                param[...] = constraint(param)
        self.iterations += 1

    def _clip(self, grads):
        """The gradients after ``clipnorm``, ``global_clipnorm`` and ``clipvalue``, in that order
        (PyTorch's clipping functions compose)."""
        if self.clipnorm is not None:
            c = self.clipnorm
            grads = [g * g.dtype.type(c / max(_norm(g), c)) for g in grads]
        if self.global_clipnorm is not None:
            c = self.global_clipnorm
            total = math.sqrt(sum(_norm(g) ** 2 for g in grads))
            grads = [g * g.dtype.type(c / max(total, c)) for g in grads]
        if self.clipvalue is not None:
            v = self.clipvalue
            grads = [backend.get_array_module(g).clip(g, -v, v) for g in grads]
        return grads

    def init_state(self, param) -> dict:
        """Per-parameter state (moment estimates), created at the parameter's first update."""
        return {}

    def update(self, param, grad, state) -> None:
        """Update ``param`` in place from ``grad`` and ``state``."""
        raise NotImplementedError

    def to(self, device: str) -> "Optimizer":
        """Move the state arrays to ``device`` (``Sequential.to`` calls this)."""
        for slot in self.state.values():
            for key, value in slot.items():
                if hasattr(value, "shape"):
                    slot[key] = backend.to_device(value, device)
        return self

    def get_config(self) -> dict:
        """The constructor's arguments, under their own names (a saved model keeps them)."""
        return {k: v for k, v in vars(self).items() if k not in ("state", "iterations")}

    @classmethod
    def from_config(cls, config: dict) -> "Optimizer":
        """The optimizer ``get_config`` described (``get`` calls this for a saved one)."""
        return cls(**config)

    # ------------------------------------------------------------------ saving the progress
    def get_state(self, layers) -> tuple[dict, dict]:
        """What the optimizer has learned so far, for ``model.save``: ``(info, arrays)``.

        ``info`` (JSON-able) holds ``iterations`` and, per parameter slot, its position
        (``layer`` index in ``layers``, ``param`` key) and its scalar state (Adam's
        ``step``); ``arrays`` maps ``"{layer}/{param}/{key}"`` to each state array
        (moments, velocity) as a NumPy copy. Slots of layers not in ``layers`` are skipped.
        """
        position = {id(layer): i for i, layer in enumerate(layers)}
        slots, arrays = [], {}
        for (layer_id, param), slot in self.state.items():
            if layer_id not in position:
                continue
            i = position[layer_id]
            scalars = {}
            for key, value in slot.items():
                if hasattr(value, "shape"):
                    arrays[f"{i}/{param}/{key}"] = backend.to_numpy(value).copy()
                else:
                    scalars[key] = value
            slots.append({"layer": i, "param": param, "scalars": scalars})
        return {"iterations": self.iterations, "slots": slots}, arrays

    def set_state(self, layers, info: dict, arrays: dict) -> None:
        """Restore what ``get_state`` returned, for the same architecture ``layers``.

        Raises ``ValueError`` when a slot names a layer or parameter that ``layers`` lacks
        or an array's shape differs from its parameter's.
        """
        state = {}
        for slot in info["slots"]:
            i, param = slot["layer"], slot["param"]
            if not (0 <= i < len(layers) and param in layers[i].params):
                raise ValueError(
                    f"optimizer state names parameter {param!r} of layer {i}, which this model does not have"
                )
            target = layers[i].params[param]
            values = dict(slot["scalars"])
            prefix = f"{i}/{param}/"
            for name, array in arrays.items():
                if name.startswith(prefix):
                    if array.shape != tuple(target.shape):
                        raise ValueError(
                            f"optimizer state {name} has shape {array.shape}, the "
                            f"parameter it belongs to has {tuple(target.shape)}"
                        )
                    values[name[len(prefix) :]] = backend.to_device(
                        array.astype(target.dtype, copy=True), backend.device_of(target)
                    )
            state[(id(layers[i]), param)] = values
        self.state = state
        self.iterations = int(info["iterations"])

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _norm(g) -> float:
    xp = backend.get_array_module(g)
    return float(xp.sqrt((g * g).sum()))


def _layers_of(model):
    if hasattr(model, "leaf_layers"):  # a model of nested models: the layers holding parameters
        return model.leaf_layers()
    if hasattr(model, "layers"):
        return model.layers
    if isinstance(model, (list, tuple)):
        return model
    return [model]


def _zeros_like(param):
    return backend.get_array_module(param).zeros_like(param)


# other libraries' names for minidl's arguments: refused with minidl's name
RENAMED = {"learning_rate": "lr", "beta_1": "beta1", "beta_2": "beta2", "rho": "alpha", "epsilon": "eps"}


def _accepted_names(cls) -> list[str]:
    """The keyword arguments an optimizer class takes."""
    names = [
        n
        for klass in cls.__mro__[: cls.__mro__.index(Optimizer) + 1]  # AdamW passes Adam's on
        for n in inspect.signature(klass.__init__).parameters
        if n not in ("self", "clipping", "options", "unknown", "adam_options")
    ]
    pytorch = ["betas"] if issubclass(cls, Adam) else []
    return list(dict.fromkeys(names + pytorch))


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and weight decay."""

    def __init__(
        self,
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        **clipping,
    ):
        super().__init__(lr, **clipping)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs a momentum > 0")
        self.momentum, self.nesterov, self.weight_decay = float(momentum), nesterov, float(weight_decay)

    def init_state(self, param):
        return {"velocity": _zeros_like(param)}

    def update(self, param, grad, state):
        backend.kernels_for(param).sgd_update(
            param, grad, state["velocity"], self.lr, self.momentum, self.nesterov, self.weight_decay
        )


class RMSprop(Optimizer):
    """Divides each step by a running RMS of recent gradients (``alpha``, 0.99 by default,
    weighs the past)."""

    def __init__(
        self,
        lr: float = 1e-3,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        **options,
    ):
        super().__init__(lr, **options)
        self.alpha, self.eps = float(alpha), float(eps)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)

    def init_state(self, param):
        return {"square_avg": _zeros_like(param), "buffer": _zeros_like(param)}

    def update(self, param, grad, state):
        s, b = state["square_avg"], state["buffer"]
        backend.kernels_for(param).rmsprop_update(
            param, grad, s, b, self.lr, self.alpha, self.eps, self.momentum, self.weight_decay
        )


class Adagrad(Optimizer):
    """Divides each step by the root of the sum of all past squared gradients; the sum starts
    at ``initial_accumulator_value`` (PyTorch's argument, 0 by default)."""

    def __init__(
        self,
        lr: float = 1e-2,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        **options,
    ):
        super().__init__(lr, **options)
        self.eps, self.weight_decay = float(eps), float(weight_decay)
        self.initial_accumulator_value = float(initial_accumulator_value)

    def init_state(self, param):
        return {"sum": _zeros_like(param) + param.dtype.type(self.initial_accumulator_value)}

    def update(self, param, grad, state):
        backend.kernels_for(param).adagrad_update(
            param, grad, state["sum"], self.lr, self.eps, self.weight_decay
        )


class Adam(Optimizer):
    """Momentum (first moment) + RMSprop (second moment), both bias-corrected.

    PyTorch's ``betas=(beta1, beta2)`` is accepted too. ``eps`` is added to ``sqrt(v_hat)``,
    after the bias correction (``epsilon(t)``, the ``eps`` of step ``t``, is where a subclass
    may move it).
    """

    decoupled = False

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        **options,
    ):
        who = type(self).__name__
        if "betas" in options:  # PyTorch's spelling: one pair
            if (beta1, beta2) != (0.9, 0.999):
                raise ValueError(f"{who}: give beta1/beta2 or betas (PyTorch's name), not both")
            betas = options.pop("betas")
            if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
                raise ValueError(f"{who} betas must be a pair (beta1, beta2), got {betas!r}")
            beta1, beta2 = betas
        super().__init__(lr, **options)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {beta!r}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps, self.weight_decay = float(eps), float(weight_decay)

    def init_state(self, param):
        return {"m": _zeros_like(param), "v": _zeros_like(param), "step": 0}

    def update(self, param, grad, state):
        state["step"] += 1
        t, m, v = state["step"], state["m"], state["v"]
        eps = self.epsilon(t)
        backend.kernels_for(param).adam_update(
            param, grad, m, v, self.lr, self.beta1, self.beta2, eps, t, self.weight_decay, self.decoupled
        )

    def epsilon(self, step: int) -> float:
        """The ``eps`` added to ``sqrt(v_hat)`` at step ``step`` (1 at the first update)."""
        return self.eps


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay``."""

    decoupled = True

    def __init__(self, lr: float = 1e-3, weight_decay: float = 0.01, **adam_options):
        """Adam's options (``beta1``, ``beta2``, ``eps``, clipping) by
        keyword; only the default weight decay differs (PyTorch's 0.01)."""
        super().__init__(lr, weight_decay=weight_decay, **adam_options)


OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad, "adam": Adam, "adamw": AdamW}


def get(spec) -> Optimizer:
    """An optimizer from an instance, a name with default settings (``"adam"``), or a saved
    ``{"class", "config"}`` (any ``Optimizer`` subclass, by ``Optimizer.classes``)."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str) and spec.lower() in OPTIMIZERS:
        return OPTIMIZERS[spec.lower()]()
    if isinstance(spec, dict) and spec.get("class") is not None:
        return made_again(spec, Optimizer.classes, "optimizer")
    raise ValueError(
        f"unknown optimizer {spec!r}; expected a minidl.nn.optim.Optimizer or one of {sorted(OPTIMIZERS)}"
    )


# ------------------------------------------------------------------ learning-rate schedules
class StepDecay:
    """``lr(epoch) = initial_lr * gamma ** (epoch // step_size)``: drop by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, initial_lr: float, step_size: int, gamma: float = 0.1):
        self.initial_lr, self.step_size, self.gamma = initial_lr, step_size, gamma

    def __call__(self, epoch: int) -> float:
        return self.initial_lr * self.gamma ** (epoch // self.step_size)


class ExponentialEpochDecay:
    """``lr(epoch) = initial_lr * gamma ** epoch``, once per epoch."""

    def __init__(self, initial_lr: float, gamma: float = 0.95):
        self.initial_lr, self.gamma = initial_lr, gamma

    def __call__(self, epoch: int) -> float:
        return self.initial_lr * self.gamma**epoch


class CosineEpochDecay:
    """``lr(epoch) = min_lr + (initial_lr - min_lr) (1 + cos(pi epoch / total_epochs)) / 2``, then
    ``min_lr``, once per epoch."""

    def __init__(self, initial_lr: float, total_epochs: int, min_lr: float = 0.0):
        if total_epochs <= 0:
            raise ValueError(f"total_epochs must be positive, got {total_epochs!r}")
        self.initial_lr, self.total_epochs, self.min_lr = initial_lr, total_epochs, min_lr

    def __call__(self, epoch: int) -> float:
        progress = min(epoch, self.total_epochs) / self.total_epochs
        return self.min_lr + (self.initial_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
