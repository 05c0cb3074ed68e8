"""GANs trained by hand: a ring of 8 Gaussians (mode coverage), then MNIST digits.

Both parts use ``minidl.gallery.gan.GANTrainer``: per batch one discriminator step on
real + fake samples, then one generator step that backpropagates D's gradient into G
(``d_x = D.backward(...)``; ``G.backward(d_x)``) without updating D.

1. Ring: 8 Gaussians of std 0.05 on a circle of radius 2; G and D are 3-layer MLPs
   (128 units, LeakyReLU). Prints D and G losses per epoch and, every few epochs, how many
   of the 8 modes 2,000 generated points cover (a mode is covered when at least 1% of the
   points fall within 3 std of it).
2. MNIST: MLP generator (64 -> 256 -> 512 -> 784, tanh) and discriminator
   (784 -> 512 -> 256 -> 1) on the 4,000 bundled training images scaled to [-1, 1].
   Prints the losses per epoch and writes a grid of 32 samples (``--plots DIR``).

    python examples/gallery_gan.py [--ring-epochs 40] [--mnist-epochs 30] [--plots DIR] [--quick]
"""

import argparse
import os
import time

import numpy as np
from _arguments import parse_args

import minidl as mdl
from minidl import datasets
from minidl.gallery import gan

MODES, RADIUS, STD = 8, 2.0, 0.05


def ring_experiment(epochs, seed, latent_dim, lr, points=8000):
    mdl.seed(seed)
    data = gan.sample_ring(points, MODES, RADIUS, STD)
    trainer = gan.GANTrainer(
        gan.ring_generator(latent_dim=latent_dim),
        gan.ring_discriminator(),
        latent_dim=latent_dim,
        g_optimizer=mdl.optim.Adam(lr, beta1=0.5),
        d_optimizer=mdl.optim.Adam(lr, beta1=0.5),
    )
    centers = gan.ring_centers(MODES, RADIUS)
    print(
        f"1. ring of {MODES} Gaussians (std {STD}, radius {RADIUS}), {len(data)} points, "
        f"noise dim {latent_dim}, batch 128, Adam {lr:g} (beta1 0.5) for both"
    )
    print("   epoch   D loss   G loss   modes covered")
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        d_loss, g_loss = trainer.train_epoch(data, batch_size=128)
        coverage = ""
        if epoch % 5 == 0 or epoch == epochs:
            coverage = f"{gan.mode_coverage(trainer.sample(2000), centers, STD).covered}/{MODES}"
        print(f"   {epoch:5d}   {d_loss:.4f}   {g_loss:.4f}   {coverage}")
    seconds = time.perf_counter() - start
    final = gan.mode_coverage(trainer.sample(2000), centers, STD)
    print(f"   final: {final}  ({seconds:.1f} s)")
    return trainer, final


def mnist_experiment(epochs, seed, images=None):
    mdl.seed(seed)
    (x, _), _ = datasets.load_mnist()
    x = x[:images]
    x = 2.0 * x - 1.0  # the generator ends in tanh: (-1, 1)
    trainer = gan.GANTrainer(gan.mnist_generator(latent_dim=64), gan.mnist_discriminator(), latent_dim=64)
    print(f"\n2. MNIST, {len(x)} images in [-1, 1], batch 64, Adam 2e-4 (beta1 0.5) for both")
    print("   epoch   D loss   G loss   mean D(real)   mean D(fake)")
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        d_loss, g_loss = trainer.train_epoch(x, batch_size=64)
        real = _sigmoid(trainer.D.predict(x[:500])).mean()
        fake = _sigmoid(trainer.D.predict(trainer.sample(500))).mean()
        print(f"   {epoch:5d}   {d_loss:.4f}   {g_loss:.4f}   {real:12.3f}   {fake:12.3f}")
    print(f"   ({time.perf_counter() - start:.1f} s)")
    return trainer


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ring-epochs", type=int, default=40)
    parser.add_argument("--ring-latent-dim", type=int, default=2)
    parser.add_argument("--ring-lr", type=float, default=1e-3)
    parser.add_argument("--mnist-epochs", type=int, default=30)
    parser.add_argument("--ring-points", type=int, default=8000)
    parser.add_argument("--mnist-images", type=int, default=None, help="use the first N training images")
    parser.add_argument("--plots", help="directory for the figures (ring samples, digit grid)")
    parser.add_argument("--seed", type=int, default=0)
    args = parse_args(parser, ring_epochs=5, ring_points=2000, mnist_epochs=1, mnist_images=512)
    print(f"kernels: {mdl.backend.current()}")

    ring, _ = ring_experiment(
        args.ring_epochs, args.seed, args.ring_latent_dim, args.ring_lr, args.ring_points
    )
    digits = (
        mnist_experiment(args.mnist_epochs, args.seed, args.mnist_images) if args.mnist_epochs > 0 else None
    )
    if args.plots:
        save_plots(args.plots, ring, digits)


def save_plots(directory, ring, digits):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from minidl import plot

    os.makedirs(directory, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 5))
    real = gan.sample_ring(1000, MODES, RADIUS, STD)
    fake = ring.sample(1000)
    ax.scatter(real[:, 0], real[:, 1], s=4, label="data")
    ax.scatter(fake[:, 0], fake[:, 1], s=4, label="generated")
    ax.set(title="Ring of Gaussians: data and GAN samples", xlabel="x1", ylabel="x2", aspect="equal")
    ax.legend()
    fig.savefig(os.path.join(directory, "gan_ring.png"), dpi=100)
    if digits is not None:
        samples = (digits.sample(32) + 1.0) / 2.0
        plot.image_grid(samples, title="GAN samples after training on the bundled MNIST subset").savefig(
            os.path.join(directory, "gan_mnist_samples.png"), dpi=100
        )
    print(f"\nfigures written to {directory}/")


if __name__ == "__main__":
    main()
