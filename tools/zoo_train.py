"""Rebuild a ``minidl.zoo`` weights file from a seed: ``python tools/zoo_train.py NAME [--out PATH]``.

    python tools/zoo_train.py lenet-mnist-0to4            # overwrites minidl/zoo/lenet-mnist-0to4.npz
    python tools/zoo_train.py lenet-mnist-0to4 --out /tmp/lenet.npz
    python tools/zoo_train.py vgg-mnist-0to4              # the VGG-style network, same data

A tool of the repository (it writes into the package's folder), not part of the installed
minidl. Each recipe seeds minidl, builds the model, trains it on the bundled data, prints the
test accuracy and saves the model. With the same seed, kernel tier and NumPy/BLAS build
the file comes out the same; on another machine the float rounding of BLAS may differ a
little, which is why the tests check the accuracy a file reaches, not its bytes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's minidl

from minidl import backend, datasets, models  # noqa: E402
from minidl.nn import losses, optim  # noqa: E402
from minidl.training import augment  # noqa: E402
from minidl.training.model import Sequential  # noqa: E402
from minidl.zoo import UnknownModelError, available, entry, weights_path  # noqa: E402
from minidl.zoo.train import digits_subset  # noqa: E402


def lenet5(num_classes: int) -> Sequential:
    """The zoo's LeNet-5: ``minidl.models.lenet5`` with He-uniform hidden weights (a ReLU network)."""
    return models.lenet5(num_classes, kernel_initializer="he_uniform")


def random_shifts(x, max_shift: int = 2):
    """Each image of ``x`` (N, C, H, W) moved by a random whole number of pixels in
    [-max_shift, max_shift] along each axis, zeros shifted in; drawn from ``backend.rng()``.

    A cheap augmentation: the network has to recognise a stroke wherever it sits, which
    makes its convolutional features more general -- what transfer learning reuses.
    It is ``minidl.training.augment.RandomShift`` (chapter 8), applied here to the whole training
    set once per epoch; it draws the same numbers as the per-image loop the zoo's weights
    were trained with, so the committed files are still what this script produces.
    """
    return augment.RandomShift(max_shift)(x)


def train_on_shifted_digits(
    name: str, build, seed: int = 0, epochs: int = 15, lr: float = 1e-3, verbose: int = 2
) -> tuple[Sequential, float]:
    """Train ``build(len(classes))`` on the digits of zoo entry ``name`` from the bundled train
    split, each epoch on a fresh random shift (up to 2 pixels) of every image; Adam ``lr``, batch 32.

    Returns ``(model, accuracy on the bundled test images of the entry's classes)``.
    """
    e = entry(name)
    backend.seed(seed)
    (x, y), (xt, yt) = datasets.load_mnist()
    x, y = digits_subset(x, y, e.classes)
    xt, yt = digits_subset(xt, yt, e.classes)
    model = build(len(e.classes))
    model.compile(
        optimizer=optim.Adam(lr),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    for epoch in range(epochs):
        logs = model.fit(random_shifts(x), y, epochs=1, batch_size=32, verbose=0).history
        if verbose:
            print(
                f"epoch {epoch + 1}/{epochs} - loss: {logs['loss'][0]:.4f} - "
                f"accuracy: {logs['accuracy'][0]:.4f} (on shifted images)"
            )
    return model, model.evaluate(xt, yt, return_dict=True)["accuracy"]


# each zoo entry's recipe: the network and its epochs (LeNet-5 15, the VGG-style network 10)
RECIPES = {
    "lenet-mnist-0to4": (lenet5, 15),
    "vgg-mnist-0to4": (models.vgg_style, 10),  # its defaults: 8-16-32 channels, Dense 64, He-uniform
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/zoo_train.py",
        description="Retrain a minidl.zoo model from a seed and save its weights.",
    )
    parser.add_argument("name", help=f"zoo model name, one of: {', '.join(available())}")
    parser.add_argument("--out", help="where to write the .npz (default: the file inside the package)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0, the shipped file)")
    args = parser.parse_args(argv)
    try:
        e = entry(args.name)
    except UnknownModelError as err:
        parser.error(str(err))
    build, epochs = RECIPES[e.name]
    start = time.perf_counter()
    model, accuracy = train_on_shifted_digits(e.name, build, seed=args.seed, epochs=epochs)
    out = args.out or weights_path(e.name)
    model.save(out)
    print(
        f"{e.name}: test accuracy {accuracy:.4f} on the bundled test digits {list(e.classes)} "
        f"(stated minimum {e.min_test_accuracy:.2f}); trained in {time.perf_counter() - start:.1f} s "
        f"with the {backend.current()} kernels; saved to {out}"
    )
    if accuracy < e.min_test_accuracy:
        print(f"warning: below the stated minimum {e.min_test_accuracy:.2f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
