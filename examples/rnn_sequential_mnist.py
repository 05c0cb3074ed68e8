"""Sequential MNIST: an LSTM reads each digit row by row and names it after the last row.

Each 28x28 image becomes a sequence of T = 28 steps of D = 28 pixels; the label is only
known once the whole sequence has been read, so the LSTM must carry what it saw in its
state. Trained on the bundled subset (4,000 training images) and scored on its 1,000
test images.

    python examples/rnn_sequential_mnist.py [--epochs 25] [--units 128] [--train 4000] [--quick]

Prints the test accuracy and the training time.
"""

import argparse
import time

from _arguments import parse_args

import minidl as mdl
from minidl import callbacks, datasets, losses, optim
from minidl import layers as L


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train", type=int, default=None, help="use the first N training images")
    parser.add_argument("--seed", type=int, default=0)
    args = parse_args(parser, epochs=3, units=32, train=1000)

    mdl.seed(args.seed)
    (x_train, y_train), (x_test, y_test) = datasets.load_sequential_mnist()
    x_train, y_train = x_train[: args.train], y_train[: args.train]
    print(f"train {x_train.shape}, test {x_test.shape}, kernels: {mdl.backend.current()}")

    model = mdl.Sequential([L.LSTM(args.units), L.Dense(10)], input_shape=x_train.shape[1:])
    model.compile(
        optimizer=optim.Adam(2e-3, clipnorm=1.0),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.summary()

    started = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=0.1,
        verbose=2,
        callbacks=[callbacks.EarlyStopping(patience=5, restore_best_weights=True)],
    )
    seconds = time.perf_counter() - started
    result = model.evaluate(x_test, y_test, return_dict=True)
    print(f"epochs run: {len(history.history['loss'])}, training time {seconds:.0f} s")
    print(
        f"test accuracy {result['accuracy']:.4f}, test loss {result['loss']:.4f} "
        f"(bundled test split, {len(x_test)} images)"
    )


if __name__ == "__main__":
    main()
