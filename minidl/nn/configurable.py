"""Objects that are their constructor's arguments: initializers, constraints, regularizers, losses.

An ``Initializer(stddev=0.05)`` or a ``MaxNorm(2.0, axis=0)`` keeps each argument under its
own name, so its configuration is its attributes (``get_config``), it is made again from
them (``from_config``: how a saved layer gets its initializer back), two of them are equal
when class and configuration are, and it prints as the call that made it. ``made_again``
makes a saved ``{"class", "config"}`` again by its class's name (initializers, optimizers).
"""

from __future__ import annotations

from typing import Any


class Configurable:
    """Base of the objects above; attributes starting with ``_`` are not configuration."""

    def get_config(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    @classmethod
    def from_config(cls, config: dict) -> Any:
        return cls(**config)

    def __eq__(self, other):
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self):
        return hash(type(self).__name__)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


def made_again(spec: dict, classes: dict, what: str) -> Any:
    """The object a saved ``{"class", "config"}`` describes, made by ``from_config`` of the
    class of that name in ``classes`` (every subclass, by name); a ``ValueError`` naming the
    known ones where there is none (``what``: "initializer", "optimizer")."""
    cls = classes.get(str(spec["class"]))
    if cls is None:
        raise ValueError(
            f"unknown {what} class {spec['class']!r} (known: {sorted(classes)}); "
            "a class defined outside minidl is known once its module is imported"
        )
    return cls.from_config(dict(spec.get("config", {})))
