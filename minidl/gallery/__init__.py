"""A gallery of models built from minidl's layers: autoencoders, GANs, VAEs, diffusion, RL, transfer.

* ``autoencoders`` -- dense and convolutional autoencoders, denoising, anomaly detection
  by reconstruction error (``detect_anomalies`` returns the threshold and detection rate);
* ``gan`` -- a generator and a discriminator trained by hand (``GANTrainer``), the
  ring-of-Gaussians toy problem and its mode-coverage measure;
* ``vae`` -- the variational autoencoder trained by hand (``VAE``, ``dense_vae``): the
  reparameterised sample and the KL term joined to a Bernoulli decoder (chapter 19);
* ``diffusion`` -- DDPM and DDIM: the noise schedule, ``q_sample``, the sinusoidal step code, a
  small MLP denoiser, ancestral and deterministic sampling (chapter 19);
* ``sample_quality`` -- a classifier's confidence and class entropy on samples, and the Fréchet
  distance in its features (chapter 19);
* ``rl`` -- reinforcement learning (chapter 24): a batched NumPy CartPole that follows
  Gymnasium's, discounted returns, the policy-gradient and Huber losses, a replay buffer,
  tic-tac-toe and its memoised minimax solver;
* ``trust`` -- FGSM and PGD attacks, integrated gradients and Grad-CAM, the softmax of an
  ensemble or of MC dropout and its predictive entropy (chapter 23);
* ``transfer`` -- ``freeze`` / ``unfreeze``, ``replace_head``, ``extract_features``, to
  reuse a pretrained model from ``minidl.zoo``.

The experiments that go with them are ``examples/gallery_*.py``; ``rl``'s are in chapter 24.
"""

from . import autoencoders, diffusion, gan, rl, sample_quality, transfer, trust, vae

__all__ = ["autoencoders", "diffusion", "gan", "rl", "sample_quality", "transfer", "trust", "vae"]
