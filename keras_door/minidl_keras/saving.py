"""``keras.saving``: ``load_model`` and ``save_model``, minidl's one-file ``.npz`` format."""

from .models import load_model

__all__ = [
    "load_model",
    "register_keras_serializable",
    "save_model",
    "get_registered_name",
    "get_registered_object",
]

#: the classes and functions ``register_keras_serializable`` recorded, by ``"package>name"``
_REGISTERED: dict[str, object] = {}


def save_model(model, filepath, include_optimizer: bool = True) -> None:
    """``model.save(filepath)``: architecture, weights and (by default) the training state."""
    model.save(filepath, include_optimizer=include_optimizer)


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Keras's class decorator, which records a custom layer or model for ``load_model``.
    minidl's files name a custom class and ``load_model`` finds it among ``custom_objects``
    (or the classes defined where the model was built), so the decorator returns the class
    unchanged; it records its name (``get_registered_name``: ``"package>Name"``)."""

    def register(cls):
        _REGISTERED[f"{package}>{name or cls.__name__}"] = cls
        return cls

    return register


def get_registered_name(obj) -> str:
    """Keras's ``get_registered_name``: ``"package>name"`` for a class or function registered
    with ``register_keras_serializable``, else its own ``__name__``."""
    for key, value in _REGISTERED.items():
        if value is obj:
            return key
    return obj.__name__


def get_registered_object(name: str, custom_objects=None, module_objects=None):
    """Keras's ``get_registered_object``: the class or function registered (or given in
    ``custom_objects``/``module_objects``) under ``name``; None if none is."""
    for table in (custom_objects or {}, _REGISTERED, module_objects or {}):
        if name in table:
            return table[name]
    return None
