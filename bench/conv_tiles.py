"""The Numba convolution's tile size, measured: ``python -m bench.conv_tiles``.

``kernels/cpu/conv.py`` runs a convolution by one of two routes (``conv2d_route``): tiles of a
few images, or the whole batch's patch matrix. This times ``conv2d_forward`` +
``conv2d_backward`` (dx included unless said) on the tiles with several tile budgets
``CONV_TILE_BYTES``, against the whole-batch im2col route (one patch matrix, kept from the
forward for the backward), all interleaved round by round
in one process (the method of ``python -m bench``), and prints each contender's median
time and GFLOP/s per shape: the measurement behind ``conv2d_route``'s rule (its table is in
docs/performance.md), to repeat on another machine. ``--cpu-time`` reads the thread's CPU time instead of the wall clock (with
one thread, a fairer number on a machine shared with other jobs). Like ``python -m minidl``
it first calls ``backend.keep_freed_memory()``; ``--default-malloc`` leaves glibc's defaults.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from minidl import backend
from minidl.kernels import cpu
from minidl.kernels.common import conv_output_length

#: (N, C, F, k, H, pad, stride, dx wanted)
Shape = tuple[int, int, int, int, int, int, int, bool]
SHAPES: dict[str, Shape] = {
    "16->32 3x3 pad 1 on 14x14": (64, 16, 32, 3, 14, 1, 1, True),
    "6->16 5x5 on 14x14 (LeNet-5 conv2)": (64, 6, 16, 5, 14, 0, 1, True),
    "1->6 5x5 pad 2 on 28x28, no dx (conv1)": (64, 1, 6, 5, 28, 2, 1, False),
    "1->8 5x5 pad 2 on 28x28": (64, 1, 8, 5, 28, 2, 1, True),
    "16->32 3x3 pad 1 stride 2 on 14x14": (64, 16, 32, 3, 14, 1, 2, True),
    "32->64 3x3 pad 1 on 7x7": (64, 32, 64, 3, 7, 1, 1, True),
}
TILES = (256 * 1024, 512 * 1024, 1024 * 1024)


def conv_flops(N, C, F, k, H, pad, stride, dx):
    """Forward, dW (and dx): 2 N F C k^2 OH OW flops each."""
    OH = conv_output_length(H, k, stride, pad)
    return (3 if dx else 2) * 2 * N * F * C * k * k * OH * OH


def contenders(N, C, F, k, H, pad, stride, dx, tiles=TILES, seed=0):
    """{label: step} for one shape: the whole-batch im2col route, then one step per tile budget."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, H)).astype(np.float32)
    weight = (rng.standard_normal((F, C, k, k)) / np.sqrt(C * k * k)).astype(np.float32)
    bias = np.zeros(F, np.float32)
    OH = conv_output_length(H, k, stride, pad)
    dy = rng.standard_normal((N, F, OH, OH)).astype(np.float32)
    geometry = (stride, stride, pad, pad)

    def whole_batch():  # the "whole" route: cols kept from the forward for the backward
        W2 = weight.reshape(F, -1)
        cols = cpu.conv.im2col(x, k, k, *geometry)
        y2d = W2 @ cols + bias[:, None]
        np.ascontiguousarray(y2d.reshape(F, N, OH, OH).transpose(1, 0, 2, 3))
        dy2d = dy.transpose(1, 0, 2, 3).reshape(F, -1)
        dy2d @ cols.T, dy2d.sum(axis=1)
        if dx:
            cpu.conv.col2im(W2.T @ dy2d, x.shape, k, k, *geometry)

    def tiled(tile_bytes):
        def step():  # the "tiles" route forced, whatever conv2d_route would choose
            conv, names = (
                cpu.conv,
                ("CONV_TILE_BYTES", "CONV_TILE_MAX_FILTERS", "CONV_TILE_MAX_FILTERS_STRIDED"),
            )
            saved = [getattr(conv, name) for name in names]
            for name, value in zip(names, (tile_bytes, F, F)):
                setattr(conv, name, value)
            try:
                _, cols = conv.conv2d_forward(x, weight, bias, *geometry)  # cols: None on this route
                conv.conv2d_backward(dy, x, cols, weight, *geometry, dx)
            finally:
                for name, value in zip(names, saved):
                    setattr(conv, name, value)

        return step

    steps = {"whole batch": whole_batch}
    steps.update({f"tiles {t // 1024}K": tiled(t) for t in tiles})
    return steps


def sweep(shape: Shape, rounds=10, calls=3, clock=time.perf_counter, tiles=TILES):
    """Median ms of each contender for ``shape`` (a SHAPES value): ``rounds`` rounds, each the
    best of ``calls`` calls of every contender in turn, after two warm-up calls each."""
    steps = contenders(*shape, tiles=tiles)
    for step in steps.values():
        step()
        step()
    times: dict[str, list[float]] = {label: [] for label in steps}
    for _ in range(rounds):
        for label, step in steps.items():
            best = float("inf")
            for _ in range(calls):
                start = clock()
                step()
                best = min(best, clock() - start)
            times[label].append(best)
    return {label: 1e3 * float(np.median(t)) for label, t in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.conv_tiles", description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--cpu-time", action="store_true", help="thread CPU time, not wall clock")
    parser.add_argument("--default-malloc", action="store_true", help="skip backend.keep_freed_memory()")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.default_malloc:
        backend.keep_freed_memory()
    clock = time.thread_time if args.cpu_time else time.perf_counter
    for name, shape in SHAPES.items():
        ms = sweep(shape, rounds=args.rounds, clock=clock)
        flops = conv_flops(*shape)
        cells = "  ".join(f"{label} {t:.2f} ms ({flops / t / 1e6:.0f} GFLOP/s)" for label, t in ms.items())
        print(f"{name}: {cells}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
