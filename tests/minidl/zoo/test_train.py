"""minidl.zoo.train: the digits the zoo's models were trained on (the script is tools/zoo_train.py)."""

import subprocess
import sys

import numpy as np

from minidl.zoo import train as zoo_train


def test_digits_subset_keeps_and_relabels_in_the_given_order():
    x = np.arange(6, dtype=np.float32)[:, None]
    y = np.array([5, 0, 7, 9, 5, 3])
    xs, ys = zoo_train.digits_subset(x, y, [9, 5])
    assert xs[:, 0].tolist() == [0.0, 3.0, 4.0]
    assert ys.tolist() == [1, 0, 1]


def test_the_old_script_says_where_it_went():
    run = subprocess.run(
        [sys.executable, "-m", "minidl.zoo.train", "lenet-mnist-0to4"], capture_output=True, text=True
    )
    assert run.returncode == 1 and "tools/zoo_train.py" in run.stderr
