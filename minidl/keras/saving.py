"""``keras.saving``: ``load_model`` and ``save_model``, minidl's one-file ``.npz`` format."""

from .models import load_model

__all__ = ["load_model", "save_model"]


def save_model(model, filepath, include_optimizer: bool = True) -> None:
    """``model.save(filepath)``: architecture, weights and (by default) the training state."""
    model.save(filepath, include_optimizer=include_optimizer)
