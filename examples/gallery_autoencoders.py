"""Autoencoders on the bundled MNIST subset: reconstruction, a 2-D code, denoising, anomalies.

Four short experiments, each printing its numbers (test MSE is the mean over pixels and
images of (x_hat - x)^2 on the 1,000 bundled test images, pixels in [0, 1]):

1. dense autoencoder with a 2-D code (784-256-64-2-64-256-784): test MSE; the codes of
   the test digits are drawn in the plane (``--plots DIR``);
2. convolutional autoencoders, 16-D code, upsampling by Conv2DTranspose and by
   UpSampling2D + Conv2D: test MSE and training time;
3. denoising: the transposed-conv autoencoder trained on noisy -> clean images
   (Gaussian noise, std 0.3, clipped): MSE of the noisy test images and of their
   reconstructions, both against the clean ones;
4. anomaly detection: a conv autoencoder trained on digits 0-4 only; threshold = 95th
   percentile of the reconstruction error of held-out 0-4 images; detection rate on the
   test digits 5-9 and false-alarm rate on the test digits 0-4.

    python examples/gallery_autoencoders.py [--epochs 10] [--train 4000] [--plots DIR] [--quick]
    python examples/gallery_autoencoders.py --only-anomaly --anomaly-latent-dim 4
"""

import argparse
import os
import time

import numpy as np
from _arguments import parse_args

import minidl as mdl
from minidl import datasets
from minidl.gallery import autoencoders as ae


def fit_timed(model, x, y, epochs):
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
    return time.perf_counter() - start


def mse(a, b):
    return float(np.mean((a - b) ** 2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--anomaly-latent-dim",
        type=int,
        default=16,
        help="code size of the anomaly detector (smaller: less able to copy unseen digits)",
    )
    parser.add_argument("--only-anomaly", action="store_true", help="run experiment 4 only")
    parser.add_argument("--plots", help="directory for the figures (latent plane, reconstructions)")
    parser.add_argument("--train", type=int, default=None, help="use the first N training images")
    parser.add_argument("--seed", type=int, default=0)
    args = parse_args(parser, epochs=1, train=500)

    (x, y), (xt, yt) = datasets.load_mnist()
    x, y = x[: args.train], y[: args.train]
    print(f"train {x.shape}, test {xt.shape}, {args.epochs} epochs each, kernels: {mdl.backend.current()}")
    print(f"baseline: predicting the mean training image gives test MSE {mse(x.mean(axis=0), xt):.4f}")

    if args.only_anomaly:
        anomaly_experiment(x, y, xt, yt, args)
        return

    # 1. dense, 2-D code
    mdl.seed(args.seed)
    dense = ae.dense_autoencoder(latent_dim=2)
    seconds = fit_timed(dense.model, x, x, args.epochs)
    codes = dense.encoder.predict(xt)
    print(f"\n1. dense autoencoder, 2-D code: test MSE {dense.model.evaluate(xt, xt):.4f} ({seconds:.1f} s)")
    centroids = np.stack([codes[yt == d].mean(axis=0) for d in range(10)])
    nearest = np.linalg.norm(codes[:, None] - centroids[None], axis=2).argmin(axis=1)
    print(
        f"   digits cluster in the code plane: nearest class centroid = label for "
        f"{np.mean(nearest == yt):.1%} of test digits (chance 10%), no label used in training"
    )

    # 2. convolutional, two kinds of upsampling
    print("\n2. convolutional autoencoders, 16-D code:")
    conv = {}
    for upsampling in ("transpose", "nearest"):
        mdl.seed(args.seed)
        conv[upsampling] = ae.conv_autoencoder(latent_dim=16, upsampling=upsampling)
        seconds = fit_timed(conv[upsampling].model, x, x, args.epochs)
        test_mse = conv[upsampling].model.evaluate(xt, xt)
        print(f"   {upsampling:>9} upsampling: test MSE {test_mse:.4f} ({seconds:.1f} s)")

    # 3. denoising
    mdl.seed(args.seed)
    denoiser = ae.conv_autoencoder(latent_dim=16, upsampling="transpose")
    x_noisy = ae.corrupt(x, noise_std=0.3)
    seconds = fit_timed(denoiser.model, x_noisy, x, args.epochs)
    xt_noisy = ae.corrupt(xt, noise_std=0.3)
    cleaned = denoiser.model.predict(xt_noisy)
    print(
        f"\n3. denoising (noise std 0.3): noisy test images MSE {mse(xt_noisy, xt):.4f} -> "
        f"denoised {mse(cleaned, xt):.4f} ({seconds:.1f} s)"
    )

    anomaly_experiment(x, y, xt, yt, args)

    if args.plots:
        save_plots(args.plots, codes, yt, xt, xt_noisy, cleaned, conv["transpose"].model)


def anomaly_experiment(x, y, xt, yt, args):
    """4. anomaly detection: normal = digits 0-4."""
    normal, normal_t = y < 5, yt < 5
    cut = 4 * int(normal.sum()) // 5  # 1,600 of the 2,000 to train, 400 for the threshold
    x_normal, x_val = x[normal][:cut], x[normal][cut:]
    mdl.seed(args.seed)
    detector = ae.conv_autoencoder(latent_dim=args.anomaly_latent_dim, upsampling="transpose")
    seconds = fit_timed(detector.model, x_normal, x_normal, args.epochs)
    report = ae.detect_anomalies(
        detector.model, x_val, xt[~normal_t], x_normal_test=xt[normal_t], quantile=0.95
    )
    print(
        f"\n4. anomaly detection, {args.anomaly_latent_dim}-D code, trained on digits 0-4 "
        f"({len(x_normal)} images, {seconds:.1f} s), threshold = 95th percentile on "
        f"{len(x_val)} held-out 0-4 images:"
    )
    print(f"   {report}")
    print(
        f"   (anomalies: {int((~normal_t).sum())} test digits 5-9; false alarms on "
        f"{int(normal_t.sum())} test digits 0-4)"
    )
    errors = ae.reconstruction_errors(detector.model, xt)
    print(
        "   detection rate per digit: "
        + ", ".join(f"{d}: {np.mean(errors[yt == d] > report.threshold):.0%}" for d in range(5, 10))
    )


def save_plots(directory, codes, yt, xt, xt_noisy, cleaned, model):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from minidl import plot

    os.makedirs(directory, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 5))
    points = ax.scatter(codes[:, 0], codes[:, 1], c=yt, cmap="tab10", s=6)
    fig.colorbar(points, ax=ax, label="digit")
    ax.set(title="2-D codes of the test digits (dense autoencoder)", xlabel="z1", ylabel="z2")
    fig.savefig(os.path.join(directory, "autoencoder_latent.png"), dpi=100)
    rows = np.concatenate([xt[:8], model.predict(xt[:8]), xt_noisy[:8], cleaned[:8]])
    plot.image_grid(rows, title="test digits, conv reconstruction, noisy, denoised").savefig(
        os.path.join(directory, "autoencoder_reconstructions.png"), dpi=100
    )
    print(f"\nfigures written to {directory}/")


if __name__ == "__main__":
    main()
