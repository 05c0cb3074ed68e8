"""``keras.optimizers.schedules``: learning rates that change every step (batch).

Pass one as the learning rate, ``Adam(learning_rate=ExponentialDecay(1e-3, 1000, 0.9))``;
the optimizer evaluates it at its step count before every update (``LearningRateSchedule``).
``step`` counts batches, not epochs, as in Keras (minidl's own schedules,
``minidl.nn.optim.StepDecay`` and the like, give the rate of an epoch to a callback).

    ExponentialDecay        lr = initial * decay_rate ** (step / decay_steps)   (floor with staircase)
    InverseTimeDecay        lr = initial / (1 + decay_rate * step / decay_steps)
    PiecewiseConstantDecay  values[i] while step <= boundaries[i] (values[-1] after the last)
    CosineDecay             initial * ((1 - alpha) * (1 + cos(pi * min(step, decay_steps) / decay_steps)) / 2 + alpha)
"""

import math

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "InverseTimeDecay",
    "PiecewiseConstantDecay",
    "CosineDecay",
    "serialize",
    "deserialize",
]


class LearningRateSchedule:
    """A learning rate that changes every step: ``schedule(step) -> lr``, with ``step`` the
    optimizer's ``iterations`` (0 at the first update). Subclasses store their constructor
    arguments under their own names (that is their ``get_config``; ``name`` defaults to Keras's:
    the class name, ``"PiecewiseConstant"`` for ``PiecewiseConstantDecay``) and are found again
    by class name when a saved optimizer is loaded (``from_saved``)."""

    classes: dict[str, type] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        LearningRateSchedule.classes[cls.__name__] = cls

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        return dict(vars(self))

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


def from_saved(spec: dict) -> LearningRateSchedule:
    """The schedule a saved optimizer describes as ``{"class", "config"}``."""
    cls = LearningRateSchedule.classes.get(str(spec.get("class")))
    if cls is None:
        raise ValueError(
            f"unknown learning-rate schedule {spec.get('class')!r} (known: "
            f"{sorted(LearningRateSchedule.classes)}); a schedule defined elsewhere is known once "
            "its module is imported"
        )
    return cls(**spec.get("config", {}))


def serialize(schedule: LearningRateSchedule) -> dict:
    """Keras's serialized schedule, as an optimizer's ``get_config()`` holds it."""
    return {
        "module": "keras.optimizers.schedules",
        "class_name": type(schedule).__name__,
        "config": schedule.get_config(),
        "registered_name": None,
    }


def deserialize(spec: dict) -> LearningRateSchedule:
    """The schedule ``serialize`` (Keras's ``class_name``) or a saved ``{"class", "config"}`` describes."""
    if "class_name" in spec:
        spec = {"class": spec["class_name"], "config": spec.get("config", {})}
    return from_saved(spec)


def _positive(value, what, who):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{who} {what} must be a positive number, got {value!r}")
    return value


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase`` the
    exponent is floored (the rate drops every ``decay_steps`` batches)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase: bool = False, name=None):
        self.initial_learning_rate = _positive(
            initial_learning_rate, "initial_learning_rate", "ExponentialDecay"
        )
        self.decay_steps = _positive(decay_steps, "decay_steps", "ExponentialDecay")
        self.decay_rate = _positive(decay_rate, "decay_rate", "ExponentialDecay")
        self.staircase, self.name = bool(staircase), name or "ExponentialDecay"

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase else p)


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (floored with ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase: bool = False, name=None):
        self.initial_learning_rate = _positive(
            initial_learning_rate, "initial_learning_rate", "InverseTimeDecay"
        )
        self.decay_steps = _positive(decay_steps, "decay_steps", "InverseTimeDecay")
        self.decay_rate, self.staircase = decay_rate, bool(staircase)
        self.name = name or "InverseTimeDecay"

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate / (1 + self.decay_rate * (math.floor(p) if self.staircase else p))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[1]`` while ``step <= boundaries[1]``,
    ..., ``values[-1]`` after the last boundary (``len(values) == len(boundaries) + 1``)."""

    def __init__(self, boundaries, values, name=None):
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"PiecewiseConstantDecay needs one value more than boundaries, got "
                f"{len(boundaries)} boundaries and {len(values)} values"
            )
        self.boundaries, self.values = list(boundaries), list(values)
        self.name = name or "PiecewiseConstant"  # Keras's default name (not the class's)

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]


class CosineDecay(LearningRateSchedule):
    """Cosine from ``initial_learning_rate`` down to ``alpha * initial_learning_rate`` over
    ``decay_steps`` batches, then constant (Keras's CosineDecay without warm-up)."""

    def __init__(self, initial_learning_rate, decay_steps, alpha: float = 0.0, name=None):
        self.initial_learning_rate = _positive(initial_learning_rate, "initial_learning_rate", "CosineDecay")
        self.decay_steps = _positive(decay_steps, "decay_steps", "CosineDecay")
        self.alpha, self.name = alpha, name or "CosineDecay"

    def __call__(self, step):
        cosine = 0.5 * (1 + math.cos(math.pi * min(step, self.decay_steps) / self.decay_steps))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)
