"""Plots for the course: training curves, image grids, confusion matrices, decision boundaries.

Every function returns the Matplotlib ``Figure`` (so notebooks show it and scripts can
``savefig`` it); every axis is labelled and every figure titled.
"""

from __future__ import annotations

import math

import numpy as np


def _plt():
    import matplotlib.pyplot as plt

    return plt


def plot_history(history, metrics=None, title: str = "Training history"):
    """Loss and each metric per epoch, training vs validation, one panel each.

    ``history`` is a ``History`` (from ``fit``) or its ``.history`` dict.
    """
    logs = getattr(history, "history", history)
    names = metrics or [k for k in logs if not k.startswith("val_") and k != "lr"]
    if not names:
        raise ValueError(f"nothing to plot: the history has keys {sorted(logs)}")
    plt = _plt()
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = np.arange(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], marker="o", label="training")
        if f"val_{name}" in logs:
            ax.plot(epochs, logs[f"val_{name}"], marker="s", label="validation")
        ax.set(xlabel="epoch", ylabel=name, title=name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(
    images,
    labels=None,
    predictions=None,
    class_names=None,
    ncols: int = 8,
    title: str = "Images",
    cmap="gray",
):
    """Show images (N, C, H, W), (N, H, W) or flattened squares (N, H*W) in a grid.

    With ``predictions`` each title reads ``label / prediction`` and mistakes are red.
    """
    images = np.asarray(images)
    if images.ndim == 2:
        side = int(math.isqrt(images.shape[1]))
        if side * side != images.shape[1]:
            raise ValueError(
                f"image_grid cannot reshape flat images of {images.shape[1]} values into squares"
            )
        images = images.reshape(-1, side, side)
    if images.ndim == 4:
        images = images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
    n = len(images)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    plt = _plt()
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.4 * ncols, 1.6 * nrows), squeeze=False)

    def name(c):
        return str(class_names[c]) if class_names is not None else str(c)

    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap=cmap if images[i].ndim == 2 else None)
        if labels is not None and predictions is not None:
            wrong = labels[i] != predictions[i]
            ax.set_title(
                f"{name(labels[i])} / {name(predictions[i])}", fontsize=9, color="red" if wrong else "black"
            )
        elif labels is not None:
            ax.set_title(name(labels[i]), fontsize=9)
    fig.suptitle(title + (" (label / prediction)" if predictions is not None else ""))
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts (K, K): row = true class, column = predicted class."""
    y_true, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"confusion_matrix needs equal shapes, got {y_true.shape} and {y_pred.shape}")
    k = num_classes or int(max(y_true.max(), y_pred.max())) + 1
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def plot_confusion_matrix(y_true, y_pred, class_names=None, title: str = "Confusion matrix"):
    """Heat map of ``confusion_matrix`` with the counts written in the cells."""
    counts = confusion_matrix(y_true, y_pred, len(class_names) if class_names is not None else None)
    k = len(counts)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(0.55 * k + 2.5, 0.55 * k + 2))
    im = ax.imshow(counts, cmap="Blues")
    ticks = np.arange(k)
    names = class_names if class_names is not None else ticks
    ax.set_xticks(ticks, labels=names)
    ax.set_yticks(ticks, labels=names)
    for i in range(k):
        for j in range(k):
            color = "white" if counts[i, j] > counts.max() / 2 else "black"  # readable on the dark cells
            ax.text(j, i, counts[i, j], ha="center", va="center", fontsize=8, color=color)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    fig.colorbar(im, ax=ax, label="number of samples")
    fig.tight_layout()
    return fig


def plot_decision_boundary(
    model,
    x,
    y,
    resolution: int = 200,
    title: str = "Decision boundary",
    xlabel: str = "x1",
    ylabel: str = "x2",
):
    """Colour the plane by the class ``model.predict`` gives (or the sign of one output),
    with the 2-D points ``x`` (N, 2) coloured by ``y``."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D points (N, 2), got shape {x.shape}")
    margin = 0.5
    (x0, y0), (x1, y1) = x.min(axis=0) - margin, x.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    scores = np.asarray(model.predict(grid, batch_size=4096) if hasattr(model, "predict") else model(grid))
    classes = (
        scores.argmax(axis=1)
        if scores.ndim == 2 and scores.shape[1] > 1
        else (scores.ravel() > (0.5 if scores.min() >= 0 and scores.max() <= 1 else 0.0)).astype(int)
    )
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.contourf(gx, gy, classes.reshape(gx.shape), alpha=0.3, cmap="viridis")
    points = ax.scatter(x[:, 0], x[:, 1], c=y, s=12, cmap="viridis", edgecolors="k", linewidths=0.3)
    ax.legend(*points.legend_elements(), title="class", loc="best", fontsize=8)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    fig.tight_layout()
    return fig
