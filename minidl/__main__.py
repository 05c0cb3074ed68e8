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


# what moved out of minidl, and where: ``python -m minidl NAME`` says so and exits 2
GRADER = "the grader is its own distribution: pip install ./grader, then minidl-grade {0} (grader/README.md)"
MOVED = {
    "grade": GRADER.format("grade"),
    "release": GRADER.format("release"),
    "bench": "the benchmarks are not part of the installed minidl but a tool of the repository: "
    "make bench, or python -m bench --help at its root (docs/performance.md)",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minidl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="versions, kernel backend, GPU")
    demo_parser = commands.add_parser("demo", help="train an MLP on the bundled MNIST subset")
    demo_parser.add_argument("--epochs", type=int, default=8)
    demo_parser.add_argument("--output", help="where to save the training-curve PNG")
    demo_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    commands.add_parser(
        "exercises",
        help="copy|reset|where NN: your own copies of the exercises, in workspace/",
        add_help=False,
    )
    for name in MOVED:
        commands.add_parser(name, help="moved out of minidl (it says where)", add_help=False)

    argv = sys.argv[1:] if argv is None else argv
    from minidl import backend
    from minidl.kernels import blas_pool

    if not blas_pool.available():  # two pools: their idle threads should sleep, not spin
        backend.wait_passively()  # before any thread pool starts (see its docstring)
    backend.keep_freed_memory()  # reuse freed arrays instead of faulting fresh pages in (see its docstring)
    if argv and argv[0] in MOVED:
        print(f"python -m minidl {argv[0]}: {MOVED[argv[0]]}", file=sys.stderr)
        return 2
    if argv and argv[0] == "exercises":
        from minidl.exercises.workspace import main as exercises_main

        return exercises_main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "info":
        return info()
    return demo(epochs=args.epochs, output=args.output, verbose=0 if args.quiet else 1)


if __name__ == "__main__":
    sys.exit(main())
