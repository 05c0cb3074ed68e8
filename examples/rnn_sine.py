"""Forecasting a noisy sine wave one step ahead with a small LSTM.

Each series is a sine of random amplitude, period and phase plus Gaussian noise
(sigma = 0.05); the model sees 50 values and predicts the 51st. The baseline every
forecaster must beat is the naive "next = last" forecast; the floor no model can beat
is the noise itself, sigma^2 = 0.0025.

    python examples/rnn_sine.py [--epochs 30] [--units 32] [--series 2000] [--quick]

Prints the test MSE of the LSTM and of the naive forecast, and their ratio (above 1: the
LSTM forecasts better).
"""

import argparse
import time

import numpy as np
from _arguments import parse_args

import minidl as mdl
from minidl import datasets, losses, optim
from minidl import layers as L


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument(
        "--series", type=int, default=2000, help="training series (a quarter as many to test)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parse_args(parser, epochs=3, units=8, series=400)

    mdl.seed(args.seed)
    noise = 0.05
    x_train, y_train = datasets.make_sine_sequences(n_series=args.series, length=50, noise=noise, seed=1)
    x_test, y_test = datasets.make_sine_sequences(n_series=args.series // 4, length=50, noise=noise, seed=2)

    model = mdl.Sequential([L.LSTM(args.units), L.Dense(1)], input_shape=x_train.shape[1:])
    model.compile(optimizer=optim.Adam(5e-3, clipnorm=1.0), loss=losses.MeanSquaredError())
    started = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=0)
    seconds = time.perf_counter() - started

    lstm_mse = float(np.mean((model.predict(x_test) - y_test) ** 2))
    naive_mse = float(np.mean((datasets.last_value_forecast(x_test) - y_test) ** 2))
    print(f"LSTM({args.units}) trained {args.epochs} epochs on {len(x_train)} series in {seconds:.0f} s")
    print(f"test MSE: LSTM {lstm_mse:.5f}, naive last value {naive_mse:.5f}, noise floor {noise**2:.5f}")
    print(f"naive MSE / LSTM MSE = {naive_mse / lstm_mse:.1f} (above 1: the LSTM forecasts better)")


if __name__ == "__main__":
    main()
