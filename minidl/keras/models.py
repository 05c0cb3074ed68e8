"""``keras.models``: ``Sequential`` (minidl's own class) and ``load_model``.

The functional API (``keras.Model(inputs, outputs)``) and subclassed models are not in
minidl: ``Model`` says so and names the minidl way.
"""

from ..training.model import Sequential, load_model

__all__ = ["Sequential", "Model", "load_model"]


class Model:
    """Not in minidl: raises with the ways that are."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError(
            "minidl.keras has Sequential models only: keras.Model(inputs, outputs) (the functional "
            "API) and subclasses of keras.Model are not implemented. Write the network as "
            "keras.Sequential([keras.Input(shape), layer, ...]), or, for branches and custom "
            "steps, as a PyTorch-style loop over minidl layers (y = layer.forward(x); "
            "dx = layer.backward(dy); optimizer.step(layers))."
        )

    def __init_subclass__(cls, **kwargs):
        raise NotImplementedError(
            f"class {cls.__name__}(keras.Model): subclassed models are not in minidl.keras; write "
            "the network as keras.Sequential([...]) or as a PyTorch-style loop over minidl layers"
        )
