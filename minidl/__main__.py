"""``python -m minidl {demo, info, exercises}``; ``grade``, ``release`` and ``bench`` say where those are."""

from __future__ import annotations

import argparse
import sys


def info() -> int:
    """Print versions, the kernel tier and whether a GPU can be used."""
    import platform

    import numpy as np

    import minidl
    from minidl import backend

    print(f"minidl {minidl.__version__} (Python {platform.python_version()}, NumPy {np.__version__})")
    if backend.numba_available():
        import numba

        print(f"Numba {numba.__version__}: available ({numba.get_num_threads()} threads)")
    else:
        print("Numba: not installed (the NumPy reference kernels are used)")
    print(f"kernel backend: {backend.current()}  (change with minidl.backend.use('numpy' | 'numba'))")
    available, description = backend.gpu_status()
    print(f"GPU: {'available: ' if available else 'none -- '}{description}")
    return 0


def demo(epochs: int = 8, output: str | None = None, verbose: int = 1) -> int:
    """Train a small MLP on the bundled MNIST subset and save its training curves."""
    import os
    import time

    import minidl as mdl
    from minidl import callbacks, datasets, losses, optim, plot
    from minidl import layers as L

    mdl.seed(0)
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist(flatten=True)
    print(
        f"bundled MNIST: {len(x_train)} training and {len(x_test)} test images; "
        f"kernel backend {mdl.backend.current()}"
    )
    model = mdl.Sequential(
        [L.Dense(256, activation="relu"), L.Dropout(0.2), L.Dense(128, activation="relu"), L.Dense(10)],
        input_shape=(784,),
    )
    model.compile(
        optimizer=optim.Adam(1e-3),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.summary()
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=64,
        validation_split=0.1,
        verbose=verbose,
        callbacks=[callbacks.EarlyStopping(patience=3, restore_best_weights=True)],
    )
    seconds = time.perf_counter() - start
    result = model.evaluate(x_test, y_test, return_dict=True)
    print(
        f"test accuracy {result['accuracy']:.4f}, test loss {result['loss']:.4f} "
        f"({len(history.epoch)} epochs in {seconds:.1f} s)"
    )
    output = output or os.path.join(os.getcwd(), "minidl-demo-history.png")
    figure = plot.plot_history(history, title="MLP on the bundled MNIST subset")
    figure.savefig(output, dpi=100, bbox_inches="tight")
    print(f"training curves saved to {output}")
    return 0


GRADER_MOVED = """The grader is not part of minidl: it is its own distribution, minidl-grader,
in the repository's grader/ folder. Install it and use its command:

    pip install ./grader
    minidl-grade {command} ...

(minidl-grade grade, minidl-grade package, minidl-grade release; see grader/README.md)"""


BENCH_MOVED = """The benchmarks are not part of the installed minidl: they are a tool of the
repository (its bench/ folder). From a checkout of the repository, run

    make bench          (or, at the repository's root: python -m bench --help)

(see docs/performance.md)"""


def grader_moved(command: str) -> int:
    """``python -m minidl grade|release``: grade nothing, say how to install the grader."""
    print(GRADER_MOVED.format(command=command), file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minidl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="versions, kernel backend, GPU")
    demo_parser = commands.add_parser("demo", help="train an MLP on the bundled MNIST subset")
    demo_parser.add_argument("--epochs", type=int, default=8)
    demo_parser.add_argument("--output", help="where to save the training-curve PNG")
    demo_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    commands.add_parser("bench", help="moved: make bench, from a checkout of the repository", add_help=False)
    commands.add_parser(
        "exercises",
        help="copy|reset|where NN: your own copies of the exercises, in workspace/",
        add_help=False,
    )
    commands.add_parser("grade", help="moved: pip install ./grader, then minidl-grade grade", add_help=False)
    commands.add_parser(
        "release", help="moved: pip install ./grader, then minidl-grade release", add_help=False
    )

    argv = sys.argv[1:] if argv is None else argv
    from minidl import backend

    backend.wait_passively()  # before any thread pool starts (see its docstring)
    backend.keep_freed_memory()  # reuse freed arrays instead of faulting fresh pages in (see its docstring)
    if argv and argv[0] == "bench":
        print(BENCH_MOVED, file=sys.stderr)
        return 2
    if argv and argv[0] == "exercises":
        from minidl.exercises.workspace import main as exercises_main

        return exercises_main(argv[1:])
    if argv and argv[0] in ("grade", "release"):
        return grader_moved(argv[0])
    args = parser.parse_args(argv)
    if args.command == "info":
        return info()
    return demo(epochs=args.epochs, output=args.output, verbose=0 if args.quiet else 1)


if __name__ == "__main__":
    sys.exit(main())
