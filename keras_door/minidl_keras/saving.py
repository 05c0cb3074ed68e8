"""``keras.saving``: ``load_model`` and ``save_model``, minidl's one-file ``.npz`` format."""

from .models import load_model

__all__ = ["load_model", "register_keras_serializable", "save_model"]


def save_model(model, filepath, include_optimizer: bool = True) -> None:
    """``model.save(filepath)``: architecture, weights and (by default) the training state."""
    model.save(filepath, include_optimizer=include_optimizer)


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Keras's class decorator, which records a custom layer or model for ``load_model``.
    minidl's files name a custom class and ``load_model`` finds it among ``custom_objects``
    (or the classes defined where the model was built), so the decorator returns the class
    unchanged."""

    def register(cls):
        return cls

    return register
