"""Checking hand-written gradients against finite differences.

A backward pass is easy to get subtly wrong (a missing transpose, a sum over the wrong
axis) and still produce numbers of the right shape. The cure is to compare it with the
definition of the derivative, evaluated numerically by central differences:

    df/dx_i  ~=  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)        error O(eps^2)

In float64 with eps = 1e-6 a correct backward agrees to a relative error of about 1e-8;
anything above 1e-6 is a bug, not rounding.

One case needs more than a relative error: a gradient that is exactly zero by construction
(the key bias of attention: a softmax ignores a constant added to a row of scores). Both sides
are then rounding noise, the analytic one about 1e-17 and the numerical one about 1e-11, and the
relative error of two such numbers is 1 however correct the layer is. So a gradient also agrees
when its largest absolute difference is below an **absolute floor** scaled by the size of the
layer's other gradients, ``atol * max|gradient|`` over all of them (the role of ``atol`` in
PyTorch's ``gradcheck``; CS231n's notes compare such near-zero gradients in absolute terms).
A wrong gradient of a parameter that should get none, even a small one, is still caught: with
``atol = 1e-7`` an error of 1e-6 of the largest gradient fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import backend

__all__ = ["numerical_gradient", "rel_error", "check_layer", "check_loss", "GradCheckReport"]


def numerical_gradient(f, x: np.ndarray, df=None, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of ``sum(f() * df)`` with respect to ``x``.

    ``f`` takes no arguments and reads ``x``, which is perturbed **in place** one element
    at a time and restored afterwards. With ``df=None``, ``f`` must return a scalar.

    Returns an array shaped like ``x``.
    """
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"numerical_gradient needs a floating-point array, got dtype {x.dtype}")
    if not x.flags.c_contiguous:
        raise ValueError("numerical_gradient needs a C-contiguous array (it perturbs x in place)")
    grad = np.zeros_like(x, dtype=np.float64)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)

    def value():
        out = f()
        return float(out) if df is None else float(np.sum(out * df))

    for i in range(flat_x.size):
        original = flat_x[i]
        flat_x[i] = original + eps
        f_plus = value()
        flat_x[i] = original - eps
        f_minus = value()
        flat_x[i] = original
        flat_grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def rel_error(a, b) -> float:
    """Relative error of two arrays as a whole: ``||a - b|| / (||a|| + ||b||)`` (Euclidean norms).

    Measured over the whole array rather than element by element, so entries that are
    almost zero (where finite differences are mostly rounding noise) cannot dominate it:
    a correct float64 gradient gives about 1e-9, a wrong one 1e-2 or more. Arrays holding an
    inf or a nan give ``inf``.
    """
    a, b = np.asarray(backend.to_numpy(a), np.float64), np.asarray(backend.to_numpy(b), np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes, got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("inf")  # an inf or a nan gradient is never right
    largest = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))
    if largest == 0.0:
        return 0.0
    a, b = a / largest, b / largest  # the error is scale-free; 1e200 would overflow the norms
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))


@dataclass
class GradCheckReport:
    """Result of a gradient check, one entry per analytic gradient.

    ``errors[key]`` is the relative error (``rel_error``) of the gradient ``key`` and
    ``abs_errors[key]`` its largest absolute difference from the numerical one. A gradient
    agrees when its relative error is below ``tolerance`` **or** its absolute difference is
    at most ``floor`` (``atol`` times the largest entry of all the gradients checked): the
    second test is what accepts a gradient that is zero by construction, where both sides are
    rounding noise and their relative error means nothing.
    """

    name: str
    errors: dict = field(default_factory=dict)
    tolerance: float = 1e-6
    abs_errors: dict = field(default_factory=dict)
    floor: float = 0.0

    def agrees(self, key: str) -> bool:
        """Whether the gradient ``key`` matches: relative error below tolerance, or within the floor."""
        return self.errors[key] < self.tolerance or self.abs_errors.get(key, float("inf")) <= self.floor

    @property
    def passed(self) -> bool:
        return all(self.agrees(key) for key in self.errors)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        lines = [
            f"gradient check of {self.name}: {'passed' if self.passed else 'FAILED'} "
            f"(tolerance {self.tolerance:.0e})"
        ]
        for key, err in self.errors.items():
            if err < self.tolerance:
                mark = "ok"
            elif self.agrees(key):
                mark = (
                    f"ok (both zero to rounding: |difference| {self.abs_errors[key]:.1e} "
                    f"<= floor {self.floor:.1e})"
                )
            else:
                mark = "WRONG"
            lines.append(f"  d/d{key:<10} relative error {err:.2e}  {mark}")
        return "\n".join(lines)

    __repr__ = __str__


def _report(name, pairs: dict, tolerance: float, atol: float) -> GradCheckReport:
    """A report from ``{key: (analytic, numerical)}``; the floor is ``atol`` times the largest
    absolute entry of all the gradients, analytic and numerical."""
    pairs = {key: [np.asarray(backend.to_numpy(g), np.float64) for g in pair] for key, pair in pairs.items()}
    arrays = [g for pair in pairs.values() for g in pair]
    scale = max((float(np.abs(g[np.isfinite(g)]).max(initial=0.0)) for g in arrays), default=0.0)
    report = GradCheckReport(name=name, tolerance=tolerance, floor=atol * scale)
    for key, (analytic, numeric) in pairs.items():
        report.errors[key] = rel_error(analytic, numeric)  # inf where either holds an inf or a nan
        finite = np.isfinite(report.errors[key])
        report.abs_errors[key] = float(np.abs(analytic - numeric).max(initial=0.0)) if finite else np.inf
    return report


def check_layer(
    layer,
    x,
    training: bool = False,
    seed: int = 0,
    eps: float = 1e-6,
    tolerance: float = 1e-6,
    wrt_input: bool = True,
    atol: float = 1e-7,
) -> GradCheckReport:
    """Compare a layer's ``backward`` with finite differences, in float64.

    The layer is built (if needed) and cast to float64; the scalar checked is
    ``L = sum(forward(x) * dy) + layer.regularization_loss()`` for a fixed random ``dy``,
    so ``dL/dy = dy``.
    minidl's generator is reseeded before every forward, so a stochastic layer
    (Dropout) draws the same mask each time. ``wrt_input=False`` skips ``dL/dx``
    (for integer inputs such as token ids).

    Returns a ``GradCheckReport`` (``report.passed``, ``report.errors``, ``print(report)``), which
    judges each gradient by ``tolerance`` and ``atol`` as its docstring says.
    """
    x = np.array(x, dtype=np.float64) if wrt_input else np.array(x)
    if not layer.built:
        layer.build(tuple(x.shape[1:]), dtype=np.float64)
    layer.astype(np.float64)

    def forward():
        backend.seed(seed)
        return layer.forward(x, training=training)

    dy = np.random.default_rng(seed + 1).standard_normal(forward().shape)

    def scalar():
        return float(np.sum(forward() * dy)) + layer.regularization_loss()

    forward()
    dx = layer.backward(dy)
    layer.add_penalty_gradients()  # the penalty's gradient, as an optimizer step adds it
    pairs = {}
    if wrt_input:
        pairs["x"] = (dx, numerical_gradient(scalar, x, eps=eps))
    analytic = {key: np.array(g, copy=True) for key, g in layer.grads.items()}
    for key, param in layer.params.items():
        pairs[key] = (analytic[key], numerical_gradient(scalar, param, eps=eps))
    return _report(layer.label, pairs, tolerance, atol)


def check_loss(
    loss, y_pred, y_true, eps: float = 1e-6, tolerance: float = 1e-6, atol: float = 1e-7
) -> GradCheckReport:
    """Compare ``loss.backward()`` with finite differences of ``loss(y_pred, y_true)``, judged
    as in ``check_layer`` (``GradCheckReport``)."""
    y_pred = np.array(y_pred, dtype=np.float64)
    loss(y_pred, y_true)
    analytic = np.array(loss.backward(), copy=True)
    numeric = numerical_gradient(lambda: loss(y_pred, y_true), y_pred, eps=eps)
    return _report(type(loss).__name__, {"y_pred": (analytic, numeric)}, tolerance, atol)
