"""A gallery of models built from minidl's layers: autoencoders, GANs, RL, transfer learning.

* ``autoencoders`` -- dense and convolutional autoencoders, denoising, anomaly detection
  by reconstruction error (``detect_anomalies`` returns the threshold and detection rate);
* ``gan`` -- a generator and a discriminator trained by hand (``GANTrainer``), the
  ring-of-Gaussians toy problem and its mode-coverage measure;
* ``rl`` -- reinforcement learning (chapter 22): a batched NumPy CartPole that follows
  Gymnasium's, discounted returns, the policy-gradient and Huber losses, a replay buffer,
  tic-tac-toe and its memoised minimax solver;
* ``transfer`` -- ``freeze`` / ``unfreeze``, ``replace_head``, ``extract_features``, to
  reuse a pretrained model from ``minidl.zoo``.

The experiments that go with them are ``examples/gallery_*.py``; ``rl``'s are in chapter 22.
"""

from . import autoencoders, gan, rl, transfer

__all__ = ["autoencoders", "gan", "rl", "transfer"]
