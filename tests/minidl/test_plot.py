"""Plots: each returns a titled figure with labelled axes, and rejects input it cannot draw."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import minidl as mdl  # noqa: E402
from minidl import layers as L  # noqa: E402
from minidl import plot


def labelled(fig):
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    return all(ax.get_xlabel() and ax.get_ylabel() and ax.get_title() for ax in axes)


def test_plot_history():
    history = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.8], "val_loss": [1.1, 0.7], "val_accuracy": [0.4, 0.7]}
    fig = plot.plot_history(history)
    assert len(fig.axes) == 2 and labelled(fig) and fig._suptitle.get_text()
    with pytest.raises(ValueError, match="nothing to plot"):
        plot.plot_history({"val_loss": [1.0]})


def test_confusion_matrix_counts_and_figure():
    counts = plot.confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2])
    np.testing.assert_array_equal(counts, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
    fig = plot.plot_confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2], class_names=["a", "b", "c"])
    assert labelled(fig)


def test_image_grid_accepts_nchw_and_flat():
    images = np.random.default_rng(0).random((5, 1, 4, 4))
    fig = plot.image_grid(images, labels=[0, 1, 2, 3, 4], predictions=[0, 1, 0, 3, 4], ncols=3)
    assert "prediction" in fig._suptitle.get_text()
    plot.image_grid(images.reshape(5, 16))
    with pytest.raises(ValueError, match="cannot reshape flat images of 15 values"):
        plot.image_grid(np.zeros((2, 15)))


def test_decision_boundary():
    model = mdl.Sequential([L.Dense(4, activation="tanh"), L.Dense(2)], input_shape=(2,))
    x = np.random.default_rng(0).standard_normal((30, 2)).astype(np.float32)
    fig = plot.plot_decision_boundary(model, x, (x[:, 0] > 0).astype(int), resolution=20)
    assert labelled(fig)
    with pytest.raises(ValueError, match=r"2-D points \(N, 2\), got shape \(30, 3\)"):
        plot.plot_decision_boundary(model, np.zeros((30, 3)), np.zeros(30))
