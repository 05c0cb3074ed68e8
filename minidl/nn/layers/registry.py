"""Layer classes by name, and how a layer saves itself (``get_config``: the constructor
arguments that rebuild it). Every subclass of ``Layer`` enters ``LAYER_CLASSES`` under its class
name when defined (``load_model`` reads it), unless defined with ``register=False`` (it saves as
the class it extends); ``library_package`` makes a package's classes the library's own.
"""

from __future__ import annotations

import inspect

#: every registered Layer subclass by class name (what ``load_model`` reads)
LAYER_CLASSES: dict[str, type] = {}

#: the packages whose layer classes are the library's own (not a user's): see ``library_package``
LIBRARY_PACKAGES = {"minidl"}

# Layer.__init__'s arguments that a model saves itself, not in a layer's config
NOT_CONFIG = ("input_shape", "input_dim", "trainable")


def library_package(name: str) -> None:
    """Count the layer classes of package ``name`` as library classes, not a user's: a library
    built on minidl that saves its layers by class name, as minidl does."""
    LIBRARY_PACKAGES.add(name)


def from_minidl(cls: type) -> bool:
    """Whether ``cls`` is one of the library's own classes (not a user's subclass)."""
    return cls.__module__.split(".")[0] in LIBRARY_PACKAGES


def register_layer_class(cls: type) -> None:
    """Make ``cls`` known to ``load_model`` by its class name. A user's class never takes the
    name of one of the library's own: a user's ``TransformerBlock`` would otherwise make every
    saved minidl ``TransformerBlock`` load as the user's class (such a class is loaded by
    passing it to the loader)."""
    known = LAYER_CLASSES.get(cls.__name__)
    if known is not None and from_minidl(known) and not from_minidl(cls):
        return
    LAYER_CLASSES[cls.__name__] = cls


def constructor_arguments(cls) -> list[str]:
    """The names ``cls(...)`` takes (for the error on an unknown argument)."""
    names = [
        name
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    return names + [n for n in NOT_CONFIG if n not in names]


class SavedByName:
    """What ``Layer`` inherits to be saved and found again: registration when a subclass is
    defined, ``get_config`` and the ``repr`` it gives."""

    def __init_subclass__(cls, register: bool = True, **kwargs):
        super().__init_subclass__(**kwargs)
        if register:
            register_layer_class(cls)

    def get_config(self) -> dict:
        """The constructor arguments that rebuild this layer (used by ``save``).

        Read from the attributes named like the ``__init__`` parameters, so a layer
        that stores its arguments under their own names needs no code here.
        """
        init = type(self).__init__
        plain = (init.__module__, init.__qualname__) == (f"{__package__}.base", "Layer.__init__")
        config = {}
        for name, parameter in inspect.signature(init).parameters.items():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD) or name == "self":
                continue
            if plain and name in NOT_CONFIG:  # Layer's own arguments, saved by the model
                continue
            config[name] = getattr(self, name)
        return config

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"
