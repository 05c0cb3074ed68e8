"""A character-level language model: Embedding -> LSTM -> Dense, trained on Python's docstrings.

At every step the model predicts the next character from the ones before it. After a
few minutes of CPU training its samples are made of real English words and Python
names, with spaces and punctuation in plausible places -- all learned from raw
characters.

    python examples/char_model.py [--minutes 4] [--units 256] [--window 64] [--epochs N] [--quick]

Trains for about ``--minutes`` (whole epochs, at least one; ``--epochs`` stops sooner),
printing the loss and a sample after each epoch, then a final sample at a lower temperature.
"""

import argparse
import time

from _arguments import parse_args

import minidl as mdl
from minidl import datasets, losses, optim
from minidl import layers as L


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--chars", type=int, default=200_000, help="corpus size in characters")
    parser.add_argument("--epochs", type=int, default=None, help="stop after this many epochs")
    parser.add_argument("--seed", type=int, default=0)
    args = parse_args(parser, units=32, window=16, chars=8000, epochs=3)

    mdl.seed(args.seed)
    text = datasets.load_text_corpus(args.chars)
    encoder = datasets.CharEncoder(text)
    ids = encoder.encode(text)
    inputs, targets = datasets.make_char_windows(ids, window=args.window, stride=args.window // 2)
    V = encoder.vocab_size
    print(f"{len(text):,} characters, vocabulary {V}, {len(inputs):,} windows of {args.window}")

    model = mdl.Sequential(
        [
            L.Embedding(V, 32),  # (N, T) ids -> (N, T, 32)
            L.LSTM(args.units, return_sequences=True),  # -> (N, T, H)
            L.Dense(V),
        ],  # -> (N, T, V) logits
        input_shape=(args.window,),
    )
    model.compile(
        optimizer=optim.Adam(3e-3, clipnorm=1.0), loss=losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.summary()

    prompt = "Return the "
    started = time.perf_counter()
    epoch = 0
    while epoch == 0 or (time.perf_counter() - started < 60 * args.minutes and epoch != args.epochs):
        epoch += 1
        loss = model.fit(inputs, targets, epochs=1, batch_size=64, verbose=0).history["loss"][-1]
        minutes = (time.perf_counter() - started) / 60
        text_out = datasets.sample(
            model, encoder, prompt, 120, temperature=0.8, window=args.window, seed=epoch
        )
        print(f"\nepoch {epoch}  loss {loss:.3f} nats/char  ({minutes:.1f} min)\n{text_out!r}")

    print(f"\nfinal samples after {epoch} epochs, {(time.perf_counter() - started) / 60:.1f} min:")
    for temperature in (0.5, 0.8):
        out = datasets.sample(
            model, encoder, prompt, 300, temperature=temperature, window=args.window, seed=123
        )
        print(f"\n--- temperature {temperature}\n{out}")


if __name__ == "__main__":
    main()
