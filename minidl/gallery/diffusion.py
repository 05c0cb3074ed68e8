"""Denoising diffusion (DDPM, Ho et al., 2020; DDIM, Song, Meng & Ermon, 2021), small and by hand.

The **forward process** adds Gaussian noise in T small steps with variances ``betas`` (the
schedule); with ``alpha_t = 1 - beta_t`` and ``alpha_bar_t = prod_{s <= t} alpha_s`` it has a
closed form for any step, so training never simulates the chain::

    q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)
    x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps,    eps ~ N(0, I)        (``q_sample``)

(steps are numbered t = 0 .. T-1 here, the paper's 1 .. T, so ``alpha_bar[0] = 1 - beta[0]``.)

A **denoiser** f(x_t, t) is trained by mean squared error to predict either the noise eps
(Ho et al.'s choice) or the clean image x_0; either prediction gives the other through the
line above. **Ancestral sampling** (``ddpm_sample``) starts from x_{T-1} ~ N(0, I) and draws
each x_{t-1} from the Gaussian posterior q(x_{t-1} | x_t, x_0) with the predicted x_0 in place of
the true one::

    mean = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) * x0_hat
         + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) * x_t
    var  = beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)                 (no noise at the last step)

**DDIM** (``ddim_sample``) visits only a few of the T steps, t_k > t_{k+1}, and moves
deterministically: keep the predicted noise, swap the predicted clean image's weight::

    x_{t_{k+1}} = sqrt(alpha_bar_{t_{k+1}}) x0_hat + sqrt(1 - alpha_bar_{t_{k+1}}) eps_hat

Two denoisers, both told the step by a **sinusoidal embedding** of t (``timestep_embedding``, the
Transformer's positional code) projected by a ``Dense`` and added at every block (with ``classes=K``
the code also carries a one-hot class, or a (K+1)-th "no class" slot: **classifier-free guidance**,
Ho & Salimans, 2022, trains with the class dropped now and then (``DiffusionTrainer``'s
``drop_condition``) and samples with ``out = out_c + w (out_c - out_none)``, ``guidance=w``):
``UNetDenoiser``, a small convolutional U-Net (Ho et al.'s kind of network, cut to one scale and
one convolution per block so that it trains in about a minute on 2 cores on 14 x 14 digits), and
``MLPDenoiser``, a multilayer perceptron on the flattened image, about ten times cheaper per step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from time import perf_counter

import numpy as np

from .. import backend
from ..nn import optim
from ..nn.layers.activations import ReLU
from ..nn.layers.core import Dense
from ..nn.layers.unet import UNet
from ..nn.losses import MeanSquaredError

__all__ = ["NoiseSchedule", "q_sample", "timestep_embedding", "MLPDenoiser", "UNetDenoiser"]
__all__ += ["DiffusionTrainer", "ddpm_sample", "ddim_sample", "ddim_timesteps"]


# ------------------------------------------------------------------ the forward process
@dataclass(frozen=True)
class NoiseSchedule:
    """The variances ``betas`` (T,) of the forward process and the products derived from them.

    ``NoiseSchedule.linear(T)`` spaces betas evenly (Ho et al. used 1e-4 .. 0.02 for T = 1000;
    for fewer steps both ends are scaled by 1000 / T so that the chain still ends near pure noise).
    """

    betas: np.ndarray

    def __post_init__(self):
        betas = np.asarray(self.betas, dtype=np.float64)
        if betas.ndim != 1 or len(betas) == 0 or not np.all((betas > 0) & (betas < 1)):
            raise ValueError(f"NoiseSchedule expected betas (T,) in (0, 1), got {np.asarray(self.betas)!r}")
        object.__setattr__(self, "betas", betas)

    @classmethod
    def linear(cls, steps: int, beta_start: float | None = None, beta_end: float | None = None):
        """``steps`` betas evenly from ``beta_start`` to ``beta_end`` (defaults: 1e-4 and 0.02
        times 1000 / steps)."""
        scale = 1000.0 / steps
        start = 1e-4 * scale if beta_start is None else beta_start
        end = min(0.02 * scale, 0.999) if beta_end is None else beta_end
        return cls(np.linspace(start, end, int(steps)))

    @property
    def T(self) -> int:
        return len(self.betas)

    @property
    def alphas(self) -> np.ndarray:
        return 1.0 - self.betas

    @property
    def alpha_bars(self) -> np.ndarray:
        """``alpha_bar_t = prod_{s <= t} (1 - beta_s)``: how much of x_0 is left in x_t (squared)."""
        return np.cumprod(1.0 - self.betas)

    def snr(self, t):
        """Signal-to-noise ratio ``alpha_bar_t / (1 - alpha_bar_t)`` of x_t, for steps ``t``."""
        ab = self.alpha_bars[np.asarray(t)]
        return ab / (1.0 - ab)


def _per_sample(values, x):
    """(N,) values shaped to broadcast over x (N, ...), in x's dtype."""
    return np.asarray(values, dtype=x.dtype).reshape((-1,) + (1,) * (x.ndim - 1))


def q_sample(schedule: NoiseSchedule, x0, t, noise):
    """``x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise`` for each sample.

    x0 (N, ...) clean data; t (N,) integer steps in [0, T); noise like x0 (eps ~ N(0, I)).
    """
    t = np.asarray(t)
    if t.shape != (len(x0),) or noise.shape != x0.shape:
        raise ValueError(
            f"q_sample expected t ({len(x0)},) and noise {tuple(x0.shape)} for x0 {tuple(x0.shape)}, "
            f"got t {t.shape} and noise {tuple(noise.shape)}"
        )
    if t.size and (t.min() < 0 or t.max() >= schedule.T):
        raise ValueError(f"q_sample expected steps in [0, {schedule.T}), got {int(t.min())}..{int(t.max())}")
    ab = schedule.alpha_bars[t]
    return _per_sample(np.sqrt(ab), x0) * x0 + _per_sample(np.sqrt(1.0 - ab), x0) * noise


def timestep_embedding(t, dim: int = 32, max_period: float = 10000.0) -> np.ndarray:
    """Sinusoidal codes of integer steps: (N,) -> (N, dim) float32, ``[sin(t w_k) | cos(t w_k)]``
    with frequencies ``w_k = max_period^(-k / (dim/2))``, k = 0 .. dim/2 - 1 (Vaswani et al.'s
    positional encoding, as Ho et al. use it for the step)."""
    if dim % 2:
        raise ValueError(f"timestep_embedding needs an even dim, got {dim}")
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    half = dim // 2
    freqs = np.exp(-math.log(max_period) * np.arange(half) / half)
    angles = t[:, None] * freqs[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)


# ------------------------------------------------------------------ the denoisers
class _Denoiser:
    """What both denoisers share: the image shape, the target (``predict``), the code of the
    step (and of the class), ``zero_grad`` over ``layers`` and ``x0_and_eps``."""

    def __init__(self, image_shape, time_dim: int, predict: str, classes: int):
        if predict not in ("x0", "eps"):
            raise ValueError(f"{type(self).__name__} predict must be 'x0' or 'eps', got {predict!r}")
        self.predict = predict
        self.image_shape = tuple(int(d) for d in image_shape)
        self.time_dim, self.classes = int(time_dim), int(classes)

    @property
    def layers(self) -> list:  # every layer, for an optimizer: the subclass's
        raise NotImplementedError

    def forward(self, x_t, t, training: bool = False, y=None):  # the subclass's
        raise NotImplementedError

    def zero_grad(self) -> None:
        for layer in self.layers:
            layer.zero_grad()

    def _code(self, x_t, t, y, dtype=np.float32):
        """(N, width) codes for x_t (N, *image_shape): the step's sinusoidal code, then with ``classes``
        the one-hot of ``y`` (N,) ints, the last slot standing for "no class" (None, or a label < 0)."""
        if tuple(x_t.shape[1:]) != self.image_shape:
            raise ValueError(
                f"{type(self).__name__} expected x_t (N, {', '.join(map(str, self.image_shape))}), "
                f"got shape {x_t.shape}"
            )
        n = len(x_t)
        e = timestep_embedding(np.broadcast_to(np.asarray(t), (n,)), self.time_dim).astype(dtype)
        if not self.classes:
            return e
        y = np.full(n, -1) if y is None else np.broadcast_to(np.asarray(y), (n,))
        if y.max(initial=-1) >= self.classes:
            raise ValueError(f"{type(self).__name__} has classes 0..{self.classes - 1}, got {y.max()}")
        onehot = np.zeros((n, self.classes + 1), dtype)
        onehot[np.arange(n), np.where(y < 0, self.classes, y)] = 1.0
        return np.concatenate([e, onehot], axis=1)

    def x0_and_eps(self, schedule: NoiseSchedule, x_t, t: int, y=None, guidance: float = 0.0):
        """Both estimates at step ``t`` (one int), whichever the denoiser predicts (either is affine in
        the other): ``(x0_hat, eps_hat)``, x0_hat clipped to [-1, 1] (the data's range) and eps_hat
        recomputed from it, so the two stay consistent. ``y`` the classes (n,) and ``guidance`` the
        weight w of classifier-free guidance: ``out_y + w (out_y - out_none)``."""
        out = self.forward(x_t, t, y=y)
        if guidance:
            out = out + guidance * (out - self.forward(x_t, t))
        ab = float(schedule.alpha_bars[t])
        if self.predict == "x0":
            x0 = out
        else:
            x0 = (x_t - math.sqrt(1.0 - ab) * out) / math.sqrt(ab)
        x0 = np.clip(x0, -1.0, 1.0)
        eps = (x_t - math.sqrt(ab) * x0) / math.sqrt(1.0 - ab)
        return x0.astype(x_t.dtype), eps.astype(x_t.dtype)


class MLPDenoiser(_Denoiser):
    """f(x_t, t): a ReLU MLP on the flattened x_t, the step's sinusoidal code added at every layer.

    Each hidden layer is ``h_i = relu(Dense_i(h_{i-1}) + Time_i(e))`` with ``e`` the step's code
    (``timestep_embedding``) and ``Time_i`` a ``Dense`` of its own, so every layer knows how noisy
    its input is (a U-Net's blocks receive the step the same way); the last ``Dense`` gives an
    image-sized output. ``predict="x0"`` (the default) trains the output toward the clean image,
    ``"eps"`` toward the noise (Ho et al.); ``x0_and_eps`` gives both estimates whichever is learned.

    Shapes: x_t (N, *image_shape), t (N,) or one int -> (N, *image_shape). ``layers`` and
    ``zero_grad`` let an optimizer step it like a model.
    """

    def __init__(
        self,
        image_shape=(1, 14, 14),
        hidden=(256, 256),
        time_dim: int = 32,
        predict: str = "x0",
        classes: int = 0,
    ):
        super().__init__(image_shape, time_dim, predict, classes)
        pixels = math.prod(self.image_shape)
        self.dense = [Dense(h, kernel_initializer="he_uniform") for h in hidden]
        self.time = [Dense(h, use_bias=False) for h in hidden]
        self.relu = [ReLU() for _ in hidden]
        self.out = Dense(pixels)
        width = pixels
        for dense, time, h in zip(self.dense, self.time, hidden):
            dense.build((width,))
            time.build((self.time_dim + (self.classes + 1 if self.classes else 0),))
            width = h
        self.out.build((width,))

    @property
    def layers(self) -> list:
        return [*self.dense, *self.time, *self.relu, self.out]

    def forward(self, x_t, t, training: bool = False, y=None):
        e = self._code(x_t, t, y)
        h = x_t.reshape(len(x_t), -1).astype(np.float32)
        for dense, time, relu in zip(self.dense, self.time, self.relu):
            h = relu.forward(dense.forward(h, training) + time.forward(e, training), training)
        return self.out.forward(h, training).reshape(x_t.shape)

    def backward(self, dy) -> None:
        """Fill every weight's gradient from dL/d(output) (the inputs x_t and t need none)."""
        dh = self.out.backward(dy.reshape(len(dy), -1))
        for dense, time, relu in zip(self.dense[::-1], self.time[::-1], self.relu[::-1]):
            da = relu.backward(dh)
            time.backward(da)  # the code's branch: its weights' gradient only
            dh = dense.backward(da)


class _StepUNet(UNet, register=False):
    """``UNet`` whose block i adds the step's code ``code`` (N, width), through its own ``Dense``
    ``time[i]`` (one number per channel), to its convolution's output before the ReLU."""

    time: list  # the blocks' Dense layers, set by UNetDenoiser
    code: np.ndarray  # (N, width), set before each forward

    def forward_block(self, i: int, h, training: bool):
        conv, relu = self.blocks[i]
        a = conv.forward(h, training) + self.time[i].forward(self.code, training)[:, :, None, None]
        return relu.forward(a, training)

    def backward_block(self, i: int, dh):
        conv, relu = self.blocks[i]
        da = relu.backward(dh)
        self.time[i].backward(da.sum(axis=(2, 3)))  # the code's branch: its weights' gradient only
        return conv.backward(da)


class UNetDenoiser(_Denoiser):
    """f(x_t, t): a small convolutional U-Net, the step's sinusoidal code added to every block.

    Chapter 22's ``UNet`` with one 3 x 3 convolution per block, and each block told the step:
    the code ``e = timestep_embedding(t)`` passes through a ``Dense`` of the block's own, giving
    one number per channel, added to every pixel of that channel before the ReLU (Ho et al.'s
    blocks add their projected code the same way). With ``channels = (c_0, ..., c_L)``::

        encoder   a_l = relu(Conv_l(h) + Time_l(e))      h = x_t, then pool(a_l)      l = 0 .. L-1
        bottom    b   = relu(Conv_L(h) + Time_L(e))      (N, c_L, H / 2^L, W / 2^L)
        decoder   d_l = relu(Conv'_l([Up_l(d_{l+1}) | a_l]) + Time'_l(e))   (d_L = b)  l = L-1 .. 0
        head      y   = Conv2D(C, 1)(d_0)                 (N, C, H, W)

    ``pool`` a 2 x 2 max-pool, ``Up_l`` a 2 x 2 transposed convolution of stride 2 to c_l
    channels, ``[u | a]`` a ``Concatenate`` of the channels (the skip connection). An odd size is
    allowed: the pool drops the last row (7 -> 3) and ``Up`` adds it back (``output_padding``). The backward
    walks the graph in reverse: a code's gradient is its block's summed over the pixels, and each
    a_l, used by the pool and by the skip, receives the sum of the two gradients (``UNet``'s rule).
    The graph is ``UNet``'s (``net``, with ``convs=1``); its blocks add the code
    (``UNet.forward_block``). ``conv``, ``time``, ``relu`` hold the blocks' layers in forward
    order, ``up`` the upsamplings from the bottom up, ``head`` the last convolution.

    ``predict`` and ``x0_and_eps`` as for ``MLPDenoiser``. Shapes: x_t (N, *image_shape) with H and
    W at least 2^L, t (N,) or one int -> (N, *image_shape). ``backward`` returns dL/dx_t (for a
    gradient check; training needs only the weights' gradients). Float64 after ``layer.astype``
    of every layer in ``layers``.
    """

    def __init__(
        self,
        image_shape=(1, 14, 14),
        channels=(16, 32),
        time_dim: int = 32,
        predict: str = "x0",
        classes: int = 0,
    ):
        super().__init__(image_shape, time_dim, predict, classes)
        self.channels = tuple(int(c) for c in channels)
        depth = len(self.channels) - 1
        c, h, w = self.image_shape
        if depth < 0 or min(h, w) < 2**depth:
            raise ValueError(
                f"UNetDenoiser with channels {self.channels} needs at least one width and H, W >= "
                f"{2 ** max(depth, 0)}, got image_shape {self.image_shape}"
            )
        self.net = _StepUNet(
            c, self.channels[:-1], bottom_filters=self.channels[-1], convs=1, kernel_initializer="he_uniform"
        )
        self.net.time = [Dense(f, use_bias=False) for f in self.channels + self.channels[-2::-1]]
        for time in self.time:
            time.build((self.time_dim + (self.classes + 1 if self.classes else 0),))
        self.forward(np.zeros((1,) + self.image_shape, np.float32), 0)  # builds the convolutions

    conv = property(lambda self: [block[0] for block in self.net.blocks])
    relu = property(lambda self: [block[1] for block in self.net.blocks])
    time = property(lambda self: self.net.time)
    up = property(lambda self: self.net.up[::-1])
    head = property(lambda self: self.net.head)

    @property
    def layers(self) -> list:
        return [*self.conv, *self.time, *self.relu, *self.up, self.head]

    def forward(self, x_t, t, training: bool = False, y=None):
        dtype = self.head.params["W"].dtype if self.head.built else np.float32
        self.net.code = self._code(x_t, t, y, dtype)
        return self.net.forward(np.asarray(x_t, dtype=dtype), training)

    def backward(self, dy):
        """Fill every weight's gradient from dL/d(output); returns dL/dx_t."""
        return self.net.backward(dy)


class DiffusionTrainer:
    """Mean squared error on the denoiser's target at random steps, one Adam step per batch.

    >>> trainer = DiffusionTrainer(MLPDenoiser(), NoiseSchedule.linear(100))
    >>> loss = trainer.train_step(x0_batch)     # x0 in [-1, 1]
    """

    def __init__(
        self, denoiser: MLPDenoiser, schedule: NoiseSchedule, optimizer=None, drop_condition: float = 0.1
    ):
        self.denoiser, self.schedule, self.drop_condition = denoiser, schedule, float(drop_condition)
        self.optimizer = optimizer or optim.Adam(1e-3)
        self.mse = MeanSquaredError()

    def train_step(self, x0, y=None) -> float:
        """One step; ``y`` (N,) the classes of a class-conditioned denoiser, each replaced by
        "no class" (-1) with probability ``drop_condition``."""
        rng = backend.rng()
        t = rng.integers(0, self.schedule.T, size=len(x0))
        noise = rng.standard_normal(x0.shape).astype(x0.dtype)
        x_t = q_sample(self.schedule, x0, t, noise)
        target = x0 if self.denoiser.predict == "x0" else noise
        if y is not None:
            y = np.where(rng.random(len(y)) < self.drop_condition, -1, y)
        loss = self.mse(self.denoiser.forward(x_t, t, training=True, y=y), target)
        self.denoiser.backward(self.mse.backward())
        self.optimizer.step(self.denoiser)
        self.denoiser.zero_grad()
        return loss

    def train(
        self, x, steps: int, batch_size: int = 128, cosine_decay: bool = True, y=None, progress: int = 0
    ) -> list[float]:
        """``steps`` steps on batches drawn with replacement from ``x`` (and its classes ``y``); the losses.

        With ``cosine_decay`` the learning rate falls from the optimizer's to 0 along half a cosine
        (``lr_s = lr (1 + cos(pi s / steps)) / 2``): the last steps average out the noise of the
        random steps and noises, as an average of the weights would. The optimizer's rate is restored.
        ``progress=k`` prints a line every k steps (the mean loss of those steps, the time so far);
        it changes nothing else.
        """
        rng, lr, losses = backend.rng(), self.optimizer.lr, []
        start = perf_counter()
        try:
            for s in range(int(steps)):
                if cosine_decay:
                    self.optimizer.lr = lr * 0.5 * (1.0 + math.cos(math.pi * s / steps))
                pick = rng.integers(0, len(x), size=batch_size)
                losses.append(self.train_step(x[pick], None if y is None else y[pick]))
                if progress and ((s + 1) % progress == 0 or s + 1 == steps):
                    recent = losses[-(((s + 1) - 1) % progress + 1) :]
                    print(
                        f"step {s + 1:>{len(str(steps))}}/{steps}: loss {sum(recent) / len(recent):.4f} "
                        f"({perf_counter() - start:.0f} s)",
                        flush=True,
                    )
        finally:
            self.optimizer.lr = lr
        return losses


# ------------------------------------------------------------------ sampling
def _estimates(denoiser, schedule, x, t, y, guidance):
    """``denoiser.x0_and_eps``, given the class and the guidance only when there are some (any
    object with ``x0_and_eps(schedule, x_t, t)`` samples unconditionally)."""
    if y is None and not guidance:
        return denoiser.x0_and_eps(schedule, x, t)
    return denoiser.x0_and_eps(schedule, x, t, y, guidance)


def ddpm_sample(
    denoiser: MLPDenoiser, schedule: NoiseSchedule, n: int, keep=(), y=None, guidance: float = 0.0
):
    """``n`` samples by ancestral sampling through all T steps (noise from ``minidl.backend.rng()``).

    Returns ``(x, kept)``: the samples (n, *image_shape) and ``{t: x_t}`` for each step in ``keep``
    (the state *before* the step t is taken; ``-1`` for the end), for a picture of the trajectory.
    ``y`` and ``guidance`` as in ``x0_and_eps``.
    """
    rng = backend.rng()
    x = rng.standard_normal((n,) + denoiser.image_shape).astype(np.float32)
    betas, alphas, ab = schedule.betas, schedule.alphas, schedule.alpha_bars
    kept = {}
    for t in range(schedule.T - 1, -1, -1):
        if t in keep:
            kept[t] = x.copy()
        x0, _ = _estimates(denoiser, schedule, x, t, y, guidance)
        ab_prev = ab[t - 1] if t > 0 else 1.0
        mean = (math.sqrt(ab_prev) * betas[t] / (1 - ab[t])) * x0 + (
            math.sqrt(alphas[t]) * (1 - ab_prev) / (1 - ab[t])
        ) * x
        if t > 0:
            var = betas[t] * (1 - ab_prev) / (1 - ab[t])
            mean = mean + math.sqrt(var) * rng.standard_normal(x.shape)
        x = mean.astype(np.float32)
    if -1 in keep:
        kept[-1] = x.copy()
    return x, kept


def ddim_timesteps(T: int, steps: int) -> np.ndarray:
    """``steps`` distinct steps from T-1 down to 0, evenly spaced (rounded): the DDIM sub-sequence."""
    if not 1 <= steps <= T:
        raise ValueError(f"ddim_timesteps needs 1 <= steps <= T = {T}, got {steps}")
    return np.unique(np.linspace(0, T - 1, steps).round().astype(int))[::-1]


def ddim_sample(
    denoiser: MLPDenoiser, schedule: NoiseSchedule, n: int, steps: int, x=None, y=None, guidance: float = 0.0
):
    """``n`` samples by deterministic DDIM (eta = 0) over ``steps`` of the T steps.

    ``x`` (n, *image_shape) is the starting noise (drawn from ``minidl.backend.rng()`` if None):
    the same start gives the same sample, whatever else was drawn in between. ``y`` (n,) the
    classes and ``guidance`` the weight w of classifier-free guidance, as in ``x0_and_eps``.
    """
    if x is None:
        x = backend.rng().standard_normal((n,) + denoiser.image_shape).astype(np.float32)
    ab = schedule.alpha_bars
    ts = ddim_timesteps(schedule.T, steps)
    for k, t in enumerate(ts):
        x0, eps = _estimates(denoiser, schedule, x, int(t), y, guidance)
        ab_next = ab[ts[k + 1]] if k + 1 < len(ts) else 1.0
        x = (math.sqrt(ab_next) * x0 + math.sqrt(1.0 - ab_next) * eps).astype(np.float32)
    return x
