"""Sequence tasks for recurrent networks, as (N, T, D) float32 inputs.

* ``make_sine_sequences`` -- forecast the next value of a noisy sine wave. Compare a
  model with ``last_value_forecast`` (tomorrow = today), the baseline any forecaster
  must beat.
* ``make_adding_problem`` -- add the two marked numbers in a long sequence (Hochreiter
  and Schmidhuber, 1997): a test of long-range memory that a plain RNN fails as T grows.

Randomness comes from ``seed`` when given, else from minidl's generator.
"""

from __future__ import annotations

import numpy as np

from .synthetic import _check_count, _check_noise, _generator

__all__ = ["make_sine_sequences", "last_value_forecast", "make_adding_problem"]


def make_sine_sequences(
    n_series: int = 1000,
    length: int = 50,
    noise: float = 0.05,
    period_range=(10.0, 40.0),
    amplitude_range=(0.5, 1.0),
    seed=None,
):
    """Noisy sine waves, each to be continued by one step.

    Series i is ``v_t = a_i sin(2 pi t / P_i + phi_i) + noise * e_t`` for
    t = 0 .. length, with amplitude a_i, period P_i (in steps) and phase phi_i drawn
    uniformly from ``amplitude_range``, ``period_range`` and [0, 2 pi), and e_t standard
    normal. The first ``length`` values are the input, the last one the target, so even
    a perfect model has mean squared error ``noise ** 2`` on average.

    Returns
    -------
    x : float32 (n_series, length, 1) -- v_0 .. v_{T-1}.
    y : float32 (n_series, 1) -- v_T, the value to forecast.

    The naive baseline is ``last_value_forecast(x)`` (= ``x[:, -1, :]``).
    """
    _check_count("n_series", n_series)
    _check_count("length", length)
    _check_noise(noise)
    low_period, high_period = _check_range("period_range", period_range)
    if low_period <= 2:
        raise ValueError(f"periods must exceed 2 steps (the Nyquist limit), got {period_range}")
    low_amplitude, high_amplitude = _check_range("amplitude_range", amplitude_range)
    rng = _generator(seed)
    amplitude = rng.uniform(low_amplitude, high_amplitude, size=(n_series, 1))
    period = rng.uniform(low_period, high_period, size=(n_series, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(n_series, 1))
    t = np.arange(length + 1)
    values = amplitude * np.sin(2 * np.pi * t / period + phase)
    values += noise * rng.standard_normal(values.shape)
    x = values[:, :length, None].astype(np.float32)
    y = values[:, length:].astype(np.float32)
    return x, y


def last_value_forecast(x):
    """The naive forecast: the next value equals the last one seen.

    x : (N, T, D) sequences -> (N, D), a copy of ``x[:, -1, :]``.
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"last_value_forecast expected sequences (N, T, D), got shape {x.shape}")
    return x[:, -1, :].copy()


def make_adding_problem(n: int = 1000, length: int = 50, seed=None):
    """The adding problem: remember two marked numbers across ``length`` steps and add them.

    Each sequence has two features per step: a value drawn uniformly from [0, 1] and a
    marker that is 1 at exactly two steps -- one in the first half (t < length // 2),
    one in the second -- and 0 elsewhere. The target is the sum of the two marked values.
    Always answering 1.0 (the mean) scores a mean squared error of 1/6, about 0.167;
    a model that learned the task does much better.

    Returns
    -------
    x : float32 (n, length, 2) -- ``x[..., 0]`` values, ``x[..., 1]`` markers.
    y : float32 (n, 1) -- the sum of the two marked values.
    """
    _check_count("n", n)
    _check_count("length", length, minimum=2)
    rng = _generator(seed)
    values = rng.uniform(0.0, 1.0, size=(n, length))
    half = length // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    markers = np.zeros((n, length))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (x[rows, first, 0] + x[rows, second, 0])[:, None]
    return x, y.astype(np.float32)


def _check_range(name, bounds):
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high), got {bounds!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and 0 < low <= high):
        raise ValueError(f"{name} must satisfy 0 < low <= high, got {bounds!r}")
    return low, high
