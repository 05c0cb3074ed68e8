"""Transfer learning: a LeNet pretrained on digits 0-4 learns digits 5-9 from a few labels.

For each budget of labels per class (10 and 50 by default), drawn from the bundled train
images of digits 5-9, three models are trained on exactly the same images and scored on
the 500 bundled test images of digits 5-9:

  scratch    LeNet-5 with random weights, all layers trained (Adam 1e-3) for 2 x epochs,
             the total budget of fine-tune
  features   minidl.zoo.load("lenet-mnist-0to4") with its whole classifier (Dense 120-84-5,
             fitted to digits 0-4) replaced by one new Dense(5) on the 400 convolutional
             features; the body frozen, only the new head trained (Adam 1e-2) -- feature
             extraction
  cached     the same, but the frozen body is run once (``extract_features``) and the
             head trained on the stored 400-D features: same idea, a fraction of the time
  fine-tune  the "features" model after its head training, then every layer unfrozen and
             trained on with a 10x lower learning rate (Adam 1e-3); its time includes the
             head training

    python examples/gallery_transfer.py [--labels 10 50] [--epochs 30] [--seeds 0 1 2] [--quick]

Prints accuracy and training time (seconds, on this machine) for each; with several seeds
(different label draws and initialisations) the mean and spread.
"""

import argparse
import time

import numpy as np
from _arguments import parse_args

import minidl as mdl
from minidl import datasets, losses, models, optim, zoo
from minidl.gallery.transfer import extract_features, freeze, replace_head, unfreeze
from minidl.nn.layers import Dense, Flatten
from minidl.zoo.train import digits_subset

TARGET_DIGITS = (5, 6, 7, 8, 9)


def few_labels(x, y, per_class, rng):
    """``per_class`` random images of each class of ``y`` (already relabelled 0..4)."""
    picks = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]
    )
    return x[picks], y[picks]


def compile_for(model, lr):
    model.compile(
        optimizer=optim.Adam(lr),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def timed_fit(model, x, y, epochs, batch_size):
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return time.perf_counter() - start


def run(per_class, seed, epochs, x_pool, y_pool, x_test, y_test):
    mdl.seed(seed)
    x, y = few_labels(x_pool, y_pool, per_class, np.random.default_rng(seed))
    batch_size = min(32, len(x))
    results = {}

    scratch = models.lenet5(len(TARGET_DIGITS), kernel_initializer="he_uniform")
    compile_for(scratch, 1e-3)
    seconds = timed_fit(scratch, x, y, 2 * epochs, batch_size)  # as many epochs as fine-tune in all
    results["scratch"] = (scratch.evaluate(x_test, y_test, return_dict=True)["accuracy"], seconds)

    pretrained = zoo.load("lenet-mnist-0to4")
    after_flatten = next(i for i, layer in enumerate(pretrained.layers) if isinstance(layer, Flatten)) + 1
    model = replace_head(pretrained, [Dense(len(TARGET_DIGITS))], head_start=after_flatten)
    freeze(model.layers[:-1])
    compile_for(model, 1e-2)
    seconds = timed_fit(model, x, y, epochs, batch_size)
    results["features"] = (model.evaluate(x_test, y_test, return_dict=True)["accuracy"], seconds)

    # the same feature extraction with the body run once: train the head on stored features
    mdl.seed(seed)
    start = time.perf_counter()
    features = extract_features(zoo.load("lenet-mnist-0to4"), x, head_start=after_flatten)
    head = mdl.Sequential([Dense(len(TARGET_DIGITS))], input_shape=features.shape[1:])
    compile_for(head, 1e-2)
    head.fit(features, y, epochs=epochs, batch_size=batch_size, verbose=0)
    cached_seconds = time.perf_counter() - start
    cached = replace_head(zoo.load("lenet-mnist-0to4"), head.layers, head_start=after_flatten)
    compile_for(cached, 1e-2)
    results["cached"] = (cached.evaluate(x_test, y_test, return_dict=True)["accuracy"], cached_seconds)

    unfreeze(model)
    compile_for(model, 1e-3)
    seconds += timed_fit(model, x, y, epochs, batch_size)
    results["fine-tune"] = (model.evaluate(x_test, y_test, return_dict=True)["accuracy"], seconds)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[5, 10, 50], help="labels per class")
    parser.add_argument(
        "--epochs", type=int, default=30, help="epochs of each transfer phase (scratch trains twice as long)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parse_args(parser, labels=[10], epochs=5, seeds=[0])

    (x_train, y_train), (x_test, y_test) = datasets.load_mnist()
    x_pool, y_pool = digits_subset(x_train, y_train, TARGET_DIGITS)
    x_test, y_test = digits_subset(x_test, y_test, TARGET_DIGITS)
    print(
        f"target digits {list(TARGET_DIGITS)}: pool of {len(x_pool)} train images, {len(x_test)} test "
        f"images; pretrained model: lenet-mnist-0to4; kernels: {mdl.backend.current()}"
    )
    warm_up = models.lenet5(
        len(TARGET_DIGITS), kernel_initializer="he_uniform"
    )  # compile the Numba kernels before any timing
    compile_for(warm_up, 1e-3)
    warm_up.fit(x_test[:4], y_test[:4], epochs=1, batch_size=2, verbose=0)
    print(f"{'labels/class':>12} {'seed':>4} {'method':>10} {'test acc':>9} {'time (s)':>9}")
    summary = {}
    for per_class in args.labels:
        for seed in args.seeds:
            for method, (accuracy, seconds) in run(
                per_class, seed, args.epochs, x_pool, y_pool, x_test, y_test
            ).items():
                print(f"{per_class:>12} {seed:>4} {method:>10} {accuracy:>9.3f} {seconds:>9.2f}")
                summary.setdefault((per_class, method), []).append((accuracy, seconds))
    print(
        f"\nmean over seeds {args.seeds} ({args.epochs} epochs per transfer phase, "
        f"{2 * args.epochs} for scratch):"
    )
    for per_class in args.labels:
        scratch = np.mean([a for a, _ in summary[(per_class, "scratch")]])
        for method in ("scratch", "features", "cached", "fine-tune"):
            acc = np.array([a for a, _ in summary[(per_class, method)]])
            secs = np.mean([s for _, s in summary[(per_class, method)]])
            gain = "" if method == "scratch" else f"  ({100 * (acc.mean() - scratch):+.1f} points vs scratch)"
            print(
                f"  {per_class:>3} labels/class  {method:>10}: accuracy {acc.mean():.3f} "
                f"(min {acc.min():.3f}, max {acc.max():.3f}), {secs:.2f} s{gain}"
            )


if __name__ == "__main__":
    main()
