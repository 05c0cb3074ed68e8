"""Small pretrained models, produced by this repository's own training script.

    >>> import minidl as mdl
    >>> mdl.zoo.available()
    ['lenet-mnist-0to4', 'vgg-mnist-0to4']
    >>> model = mdl.zoo.load("lenet-mnist-0to4")    # compiled, with its weights
    >>> print(mdl.zoo.describe("lenet-mnist-0to4"))

Every weights file next to this module was written by the repository's
``python tools/zoo_train.py NAME``, which retrains it from a fixed seed: the file is a
reproducible artefact, not a download. Each entry states the test accuracy the shipped weights reach,
and ``tests/minidl/zoo/test_init.py`` checks that claim against the bundled MNIST test digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..training.model import Sequential, load_model

__all__ = ["available", "load", "describe", "entry", "weights_path", "ZooEntry", "MODELS"]
__all__ += ["UnknownModelError"]

HERE = Path(__file__).resolve().parent


class UnknownModelError(KeyError, ValueError):
    """An unknown zoo name; the message lists the available ones."""

    def __str__(self):  # KeyError would print the message in quotes
        return str(self.args[0])


@dataclass(frozen=True)
class ZooEntry:
    """What a zoo model is, how it was made, and what it scores."""

    name: str
    description: str
    classes: tuple  # the digit labels the model was trained on; output k means classes[k]
    input_shape: tuple  # per-sample input shape, e.g. (1, 28, 28)
    min_test_accuracy: float  # accuracy on the bundled test images of ``classes`` (checked by the tests)


def _on_shifted_digits_0to4(name: str, architecture: str, epochs: int, note: str) -> ZooEntry:
    """An entry made by ``tools/zoo_train.py``: ``architecture`` trained ``epochs`` epochs on the
    digits 0-4 of the bundled MNIST, 97 % stated."""
    return ZooEntry(
        name=name,
        description=(
            f"{architecture} trained on the digits 0-4 of the bundled MNIST train split (2,000 "
            f"images, randomly shifted by up to 2 pixels each epoch, {epochs} epochs); outputs 5 "
            f"logits, one per digit 0-4. {note}"
        ),
        classes=(0, 1, 2, 3, 4),
        input_shape=(1, 28, 28),
        min_test_accuracy=0.97,
    )


MODELS: dict[str, ZooEntry] = {
    entry.name: entry
    for entry in (
        _on_shifted_digits_0to4(
            "lenet-mnist-0to4",
            "LeNet-5 (Conv 6@5x5 pad 2, max-pool, Conv 16@5x5, max-pool, Dense 120, 84, 5; ReLU)",
            15,
            "Made for transfer learning to digits 5-9.",
        ),
        _on_shifted_digits_0to4(
            "vgg-mnist-0to4",
            "VGG-style network (three blocks of two Conv 3x3 'same' + ReLU and a 2x2 max-pool, "
            "8, 16, 32 channels; Dense 64, 5)",
            10,
            "The shape of VGG16 at 1/8 of its width; made for transfer learning to digits "
            "5-9 next to the LeNet.",
        ),
    )
}


def available() -> list[str]:
    """Names of the models in the zoo, sorted."""
    return sorted(MODELS)


def entry(name: str) -> ZooEntry:
    """The ``ZooEntry`` of ``name``; an unknown name raises ``UnknownModelError`` (a ``KeyError``
    and a ``ValueError``) listing the available ones."""
    if name not in MODELS:
        raise UnknownModelError(f"unknown zoo model {name!r}; available: {', '.join(available())}")
    return MODELS[name]


def weights_path(name: str) -> Path:
    """Where the weights of ``name`` live: ``NAME.npz`` next to this module, in the installed package."""
    return HERE / f"{entry(name).name}.npz"


def describe(name: str) -> str:
    """A few lines on ``name``: architecture, training data, stated accuracy, how to rebuild it."""
    e = entry(name)
    return (
        f"{e.name}: {e.description}\n"
        f"  input (N, {', '.join(map(str, e.input_shape))}); classes {list(e.classes)}; "
        f"test accuracy >= {e.min_test_accuracy:.0%} on the bundled test images of those classes\n"
        f"  rebuild the weights with: python tools/zoo_train.py {e.name} (in the repository)"
    )


def load(name: str) -> Sequential:
    """The pretrained model ``name``, compiled (its saved optimizer and loss) with its weights.

    Every call returns a fresh, independent copy, so fine-tuning one does not change the next.
    """
    path = weights_path(name)
    if not path.exists():
        raise FileNotFoundError(
            f"the weights of {name!r} are missing ({path}); "
            f"rebuild them with: python tools/zoo_train.py {name} (in the repository)"
        )
    from ..nn.layers import conv, upsampling  # noqa: F401  (register their layer classes for load_model)

    model = load_model(path)
    model.name = name
    return model
