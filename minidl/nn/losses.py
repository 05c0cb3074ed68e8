"""Losses: a scalar to minimise, and its gradient with respect to the prediction.

A loss is called PyTorch-style, prediction first, and then asked for its gradient:

    loss = loss_fn(y_pred, y_true)      # a float, the mean over the batch
    dy = loss_fn.backward()             # dL/dy_pred, same shape as y_pred

``loss_fn(y_pred, y_true, sample_weight=w)`` weighs sample n by ``w[n]``:
``L = mean_n(w_n l_n)`` (divided by N, not by the sum of the weights), so its gradient is
the unweighted one with each sample's rows scaled by ``w_n``.

    MeanSquaredError             L = mean((y - t)^2)                      dL/dy = 2 (y - t) / size
    BinaryCrossentropy           L = -mean(t log p + (1 - t) log(1 - p))  logits: dL/dz = (sigmoid(z) - t) / size
    CategoricalCrossentropy      L = -mean_n sum_k t_nk log p_nk          logits: dL/dz = (softmax(z) sum_k t - t) / N
    SparseCategoricalCrossentropy  the same with integer labels            logits: dL/dz = (softmax(z) - onehot(t)) / N
    GaussianKL                   L = beta mean_n KL(N(mu, sigma^2) || N(0, I))   dL/dmu = beta mu / N
    InfoNCE                      L = mean over 2N rows of -log softmax(cos / tau)[positive]   (SimCLR, CLIP)

With ``from_logits=True`` the prediction is the raw score ``z`` and the softmax (or
sigmoid) is fused into the loss, which is cheaper and numerically stable. With the
default ``from_logits=False`` the prediction must be probabilities; values that clearly
are not (negative, or rows not summing to one) trigger a one-time warning, and the
computation goes on with the values clipped to [1e-7, 1 - 1e-7].
"""

import warnings

import numpy as np

from .. import backend
from ..kernels.common import sigmoid
from .configurable import Configurable

EPSILON = 1e-7


class Loss(Configurable):
    """Base class: ``__call__(y_pred, y_true) -> float`` caches, ``backward() -> dL/dy_pred``.

    A subclass implements ``compute(y_pred, y_true) -> (losses, dL/dy_pred)``: ``losses``
    holds the loss of each sample (or of each element, each row, samples first) and the
    loss is their mean; the gradient is that of the mean. A loss that reads no targets
    (``GaussianKL``, ``InfoNCE``, ``BradleyTerry``) is called without them, ``loss(y_pred)``.
    """

    #: which accuracy ``metrics=["accuracy"]`` means with this loss; None: no accuracy
    accuracy: str | None = "categorical_accuracy"
    #: whether ``y_pred`` holds raw scores (the cross-entropies take ``from_logits=``)
    from_logits = False

    #: whether swapping y_pred and y_true changes nothing (then argument order cannot be wrong)
    symmetric = False

    _reduction = None  # set_reduction's function; None: mean

    def __init__(self):
        self._grad, self._warned, self._order_checked = None, False, False

    def __call__(self, y_pred, y_true=None, sample_weight=None) -> float:
        if not self._order_checked:  # the first call tells: some libraries take (y_true, y_pred)
            self._order_checked = True
            if not self.symmetric:
                _warn_if_arguments_look_swapped(type(self).__name__, y_pred, y_true)
        y_pred = _as_float_array(y_pred, type(self).__name__)
        losses, self._grad = self.compute(y_pred, y_true)
        if self._reduction is not None:
            return self._reduction(self, losses, y_pred, sample_weight)
        return self.mean(losses, y_pred, sample_weight)

    def mean(self, losses, y_pred, sample_weight=None) -> float:
        """The loss from the ``losses`` of ``compute``: their mean, each sample's weighted by
        ``sample_weight`` (``self._grad`` scaled to match)."""
        if sample_weight is None:
            return float(losses.mean())
        w = sample_weights(sample_weight, y_pred, type(self).__name__)
        self._grad = self._grad * w.reshape((-1,) + (1,) * (y_pred.ndim - 1))
        per_sample = losses.reshape(len(w), -1).mean(axis=1)
        return float((per_sample * w).mean())

    def set_reduction(self, reduce) -> None:
        """Replace ``mean`` by ``reduce(loss, losses, y_pred, sample_weight) -> float`` (a sum,
        a mean over the real steps of a padded sequence), which scales the gradient to match
        with ``scale_grad``; ``None`` restores the mean. Not saved with the loss's config."""
        self._reduction = reduce

    def scale_grad(self, factor) -> None:
        """Multiply the gradient of the last call by ``factor`` (a number, or an array that
        broadcasts against ``y_pred``): what a ``set_reduction`` other than the mean does."""
        self._grad = self._grad * factor

    def compute(self, y_pred, y_true):
        """Return ``(losses, dL/dy_pred)``: the losses whose mean is the loss, samples
        first, and the gradient of that mean; subclasses implement it."""
        raise NotImplementedError

    def backward(self):
        """``dL/dy_pred`` of the last call."""
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before the loss was computed")
        return self._grad

    def _warn_not_probabilities(self, why: str):
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"{type(self).__name__} received values that are not probabilities ({why}); "
                f"if the model outputs raw scores, use {type(self).__name__}(from_logits=True). "
                "Continuing with the values clipped to [1e-7, 1 - 1e-7].",
                UserWarning,
                stacklevel=4,
            )


class MeanSquaredError(Loss):
    """``mean((y_pred - y_true)^2)`` over every element: regression, autoencoders."""

    accuracy = None
    symmetric = True

    def compute(self, y_pred, y_true):
        y_true = targets_like(y_pred, y_true, type(self).__name__)
        diff = y_pred - y_true
        return diff * diff, (2.0 / diff.size) * diff


class Huber(Loss):
    """Squared error near the target, absolute error far from it (``Huber(delta=1.0)``)::

    l = d^2 / 2                  if |d| <= delta        dl/dd = d
    l = delta (|d| - delta / 2)  otherwise              dl/dd = delta sign(d)
    """

    accuracy = None
    symmetric = True

    def __init__(self, delta: float = 1.0):
        super().__init__()
        self.delta = positive(delta, "Huber delta")

    def compute(self, y_pred, y_true):
        y_true = targets_like(y_pred, y_true, type(self).__name__)
        d = y_pred - y_true
        xp = backend.get_array_module(d)
        near = xp.abs(d) <= self.delta
        losses = xp.where(near, 0.5 * d * d, self.delta * (xp.abs(d) - 0.5 * self.delta))
        grad = xp.where(near, d, self.delta * xp.sign(d)) / d.size
        return losses.astype(d.dtype), grad.astype(d.dtype)


class _Crossentropy(Loss):
    """A cross-entropy: ``y_pred`` holds probabilities, or raw scores with ``from_logits=True``."""

    def __init__(self, from_logits: bool = False):
        super().__init__()
        self.from_logits = from_logits


class BinaryCrossentropy(_Crossentropy):
    """Cross-entropy of independent yes/no outputs; targets in [0, 1], same shape as ``y_pred``.

    From logits ``z``: ``L = mean(max(z, 0) - z t + log(1 + e^-|z|))`` (never overflows).
    """

    accuracy = "binary_accuracy"

    def compute(self, y_pred, y_true):
        t = targets_like(y_pred, y_true, type(self).__name__)
        xp = backend.get_array_module(y_pred)
        if self.from_logits:
            z = y_pred
            losses = xp.maximum(z, 0) - z * t + xp.log1p(xp.exp(-xp.abs(z)))
            return losses, (sigmoid(z) - t) / z.size
        if bool(xp.any(y_pred < 0)) or bool(xp.any(y_pred > 1)):
            self._warn_not_probabilities("some are outside [0, 1]")
        p = xp.clip(y_pred, EPSILON, 1 - EPSILON)
        losses = -(t * xp.log(p) + (1 - t) * xp.log(1 - p))
        inside = (y_pred > EPSILON) & (y_pred < 1 - EPSILON)
        grad = (p - t) / (p * (1 - p)) * inside / y_pred.size
        return losses, grad.astype(y_pred.dtype)


class CategoricalCrossentropy(_Crossentropy):
    """Cross-entropy against one-hot (or soft) targets ``y_true`` shaped like ``y_pred`` (..., K).

    From probabilities, rows are normalised to sum to one, then clipped.
    """

    accuracy = "categorical_accuracy"

    def compute(self, y_pred, y_true):
        return _categorical(self, y_pred, targets_like(y_pred, y_true, type(self).__name__))


class SparseCategoricalCrossentropy(_Crossentropy):
    """Cross-entropy against integer class labels: ``y_pred`` (..., K), ``y_true`` (...) in [0, K)."""

    accuracy = "sparse_categorical_accuracy"

    def compute(self, y_pred, y_true):
        labels = _check_labels(y_pred, y_true, type(self).__name__)
        if not self.from_logits:
            one_hot = labels[..., None] == backend.get_array_module(y_pred).arange(y_pred.shape[-1])
            return _categorical(self, y_pred, one_hot.astype(y_pred.dtype))
        k = y_pred.shape[-1]
        logits, flat_labels = y_pred.reshape(-1, k), labels.reshape(-1)
        kernels = backend.kernels_for(y_pred)
        losses, probs = kernels.softmax_cross_entropy(logits, flat_labels)
        grad = kernels.softmax_cross_entropy_backward(probs, flat_labels, 1.0 / logits.shape[0])
        return losses, grad.reshape(y_pred.shape)


class GaussianKL(Loss):
    """``beta * KL(N(mu, diag sigma^2) || N(0, I))``, summed over the latent axis, mean over samples.

    The regulariser of a variational autoencoder's loss (Kingma & Welling, 2014; ``beta`` as in
    Higgins et al., 2017). ``y_pred`` is the encoder's output ``[mu | logvar]`` joined on the last
    axis, (N, ..., 2D), the input of ``layers.GaussianSample``; ``y_true`` is not used (the prior
    is fixed: pass ``None``). In closed form, per sample::

        KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2),   sigma_j^2 = exp(logvar_j)
        dKL/dmu_j     = mu_j
        dKL/dlogvar_j = (sigma_j^2 - 1) / 2

    and the loss is ``beta`` times the mean of that over the N samples (and any axes between),
    so its gradient is the one above times ``beta / N``: the same scale as a reconstruction
    term summed over pixels and averaged over samples, which together give the negative ELBO.
    """

    accuracy = None
    symmetric = True  # y_true is not read: no argument order to check

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = positive(beta, "GaussianKL beta", zero_ok=True)

    def compute(self, y_pred, y_true):
        if y_pred.ndim < 2 or y_pred.shape[-1] % 2:
            raise ValueError(
                "GaussianKL expected [mu | logvar] joined on the last axis, (N, ..., 2 * latent_dim) "
                f"with an even last axis, got shape {tuple(y_pred.shape)}"
            )
        d = y_pred.shape[-1] // 2
        mu, logvar = y_pred[..., :d], y_pred[..., d:]
        xp = backend.get_array_module(y_pred)
        var = xp.exp(logvar)
        kl = 0.5 * (mu * mu + var - 1.0 - logvar).sum(axis=-1)  # (N, ...): one KL per code
        scale = self.beta / kl.size
        grad = xp.concatenate([scale * mu, scale * 0.5 * (var - 1.0)], axis=-1)
        return self.beta * kl, grad.astype(y_pred.dtype)


class InfoNCE(Loss):
    """The contrastive loss of SimCLR (NT-Xent; Oord et al., 2018; Chen et al., 2020) and of CLIP
    (Radford et al., 2021): each embedding must pick out its partner among the batch's others.

    ``y_pred`` (2N, D) stacks two views ``[a; b]`` (N, D) each, row i of ``a`` the partner of row
    i of ``b``; ``y_true`` is not used. Rows are L2-normalised, ``u = z / |z|``, and scored by
    cosine over the temperature ``tau``. Row i of ``a`` is a softmax cross-entropy over the
    candidates ``b`` (its positive: ``b_i``), and with ``within=True`` (SimCLR) also over the other
    rows of ``a`` (itself excluded); row i of ``b`` likewise. The loss is the mean over the 2N
    rows: ``within=False`` is CLIP's symmetric loss, image -> text and text -> image averaged::

        S = u u^T / tau (2N, 2N), diagonal excluded (and, unless within, the same-view blocks)
        l_r = -log softmax(S_r)[partner(r)],    L = mean_r l_r
        G = (softmax(S) - onehot(partner)) / 2N                      (dL/dS, row by row)
        dL/du = (G + G^T) u / tau,    dL/dz = (dL/du - u (u . dL/du)) / |z|
        dL/dtau = -sum(G * S) / tau                                     (``d_temperature``)
    """

    accuracy = None
    symmetric = True  # y_true is not read

    def __init__(self, temperature: float = 0.1, within: bool = True):
        super().__init__()
        self.temperature, self.within = positive(temperature, "InfoNCE temperature"), bool(within)
        self.d_temperature = 0.0

    def compute(self, y_pred, y_true):
        if y_pred.ndim != 2 or len(y_pred) % 2 or len(y_pred) < 2:
            raise ValueError(
                f"InfoNCE expected [a; b] stacked, (2N, D) with N >= 1, got shape {tuple(y_pred.shape)}"
            )
        xp, n2, tau = backend.get_array_module(y_pred), len(y_pred), self.temperature
        n = n2 // 2
        norm = xp.sqrt((y_pred * y_pred).sum(axis=1, keepdims=True)) + 1e-12
        u = y_pred / norm
        scores = u @ u.T / tau
        first = xp.arange(n2) < n
        excluded = xp.eye(n2, dtype=bool) if self.within else first[:, None] == first[None, :]
        scores = xp.where(excluded, -xp.inf, scores)
        partner = (xp.arange(n2) + n) % n2
        shifted = scores - scores.max(axis=1, keepdims=True)
        p = xp.exp(shifted)
        total = p.sum(axis=1, keepdims=True)
        p /= total
        rows = xp.arange(n2)
        losses = xp.log(total[:, 0]) - shifted[rows, partner]  # -log p, without its underflow
        g = p.copy()
        g[rows, partner] -= 1.0
        g /= n2
        du = (g + g.T) @ u / tau
        self.d_temperature = float(-(g * xp.where(excluded, 0.0, scores)).sum() / tau)
        grad = (du - u * (u * du).sum(axis=1, keepdims=True)) / norm
        return losses, grad.astype(y_pred.dtype)


def _categorical(loss: Loss, y_pred, t):
    """Categorical cross-entropy and its gradient; ``t`` (..., K) one-hot or soft targets."""
    xp = backend.get_array_module(y_pred)
    n = y_pred.size // y_pred.shape[-1]
    if loss.from_logits:
        z = y_pred - y_pred.max(axis=-1, keepdims=True)
        log_sum_exp = xp.log(xp.exp(z).sum(axis=-1, keepdims=True))
        log_p = z - log_sum_exp
        losses = -(t * log_p).sum(axis=-1)
        grad = xp.exp(log_p) * t.sum(axis=-1, keepdims=True) - t
        return losses, (grad / n).astype(y_pred.dtype)
    row_sums = y_pred.sum(axis=-1, keepdims=True)
    if bool(xp.any(y_pred < 0)):
        loss._warn_not_probabilities("some are negative")
    elif bool(xp.any(xp.abs(row_sums - 1) > 1e-3)):
        loss._warn_not_probabilities("rows do not sum to one")
    p = y_pred / row_sums
    clipped = xp.clip(p, EPSILON, 1 - EPSILON)
    losses = -(t * xp.log(clipped)).sum(axis=-1)
    # chain rule through the clip (zero outside) and through p = y / sum(y)
    dp = -t / clipped * ((p > EPSILON) & (p < 1 - EPSILON))
    grad = (dp - (dp * p).sum(axis=-1, keepdims=True)) / row_sums
    return losses, (grad / n).astype(y_pred.dtype)


# ------------------------------------------------------------------ input checks
def positive(value, what: str, zero_ok: bool = False) -> float:
    """``value`` as a float > 0 (>= 0 with ``zero_ok``), else a ``ValueError`` naming ``what``."""
    if not (value >= 0 if zero_ok else value > 0):
        raise ValueError(f"{what} must be {'>=' if zero_ok else '>'} 0, got {value!r}")
    return float(value)


ORDER_HINT = (
    "minidl's losses take loss(y_pred, y_true), prediction first (PyTorch's order); "
    "some libraries take loss(y_true, y_pred), the other way round"
)


def _as_float_array(y_pred, who):
    if not hasattr(y_pred, "dtype"):
        y_pred = np.asarray(y_pred, dtype=np.float32)
    if not np.issubdtype(y_pred.dtype, np.floating):
        raise TypeError(
            f"{who} expected floating-point predictions as its first argument, got "
            f"dtype {y_pred.dtype} (class labels?). {ORDER_HINT}: if you passed "
            "(y_true, y_pred), swap them"
        )
    return y_pred


def _warn_if_arguments_look_swapped(who, y_pred, y_true) -> None:
    """Warn when the first argument looks like targets (integers, or only 0s and 1s) and the
    second like predictions (fractions strictly between 0 and 1, or any non-whole number)."""
    if not (hasattr(y_pred, "dtype") and hasattr(y_true, "dtype")):
        return
    xp = backend.get_array_module(y_pred)
    if xp is not backend.get_array_module(y_true) or y_pred.size == 0 or y_true.size == 0:
        return
    if not np.issubdtype(y_pred.dtype, np.floating):
        return  # _as_float_array refuses it with the same hint
    first_is_targets = bool(xp.all((y_pred == 0) | (y_pred == 1)))
    second_is_predictions = np.issubdtype(y_true.dtype, np.floating) and bool(
        xp.any(y_true != xp.round(y_true))
    )
    if first_is_targets and second_is_predictions:
        warnings.warn(
            f"{who}: the first argument (shape {tuple(y_pred.shape)}) looks like targets "
            f"(only whole numbers such as 0 and 1) and the second (shape "
            f"{tuple(y_true.shape)}) like predictions. {ORDER_HINT}: call "
            "loss(y_pred, y_true).",
            UserWarning,
            stacklevel=3,
        )


def sample_weights(sample_weight, y_pred, who):
    """Per-sample weights as a float array (N,) of ``y_pred``'s dtype, on its device."""
    xp = backend.get_array_module(y_pred)
    w = xp.asarray(sample_weight, dtype=y_pred.dtype)
    if w.ndim == 2 and w.shape[1] == 1:
        w = w.reshape(-1)
    if w.shape != (y_pred.shape[0],):
        raise ValueError(
            f"{who} expected sample_weight of shape ({y_pred.shape[0]},), one weight per "
            f"sample, got shape {tuple(w.shape)}"
        )
    return w


def targets_like(y_pred, y_true, who):
    """Targets as a float array of ``y_pred``'s shape; (N,) and (N, 1) are accepted for each other
    (``who`` names the loss in the error). A loss defined elsewhere checks its targets with it."""
    xp = backend.get_array_module(y_pred)
    t = xp.asarray(y_true, dtype=y_pred.dtype)
    if t.size == y_pred.size and t.shape[:1] == y_pred.shape[:1] and max(t.ndim, y_pred.ndim) <= 2:
        t = t.reshape(y_pred.shape)  # (N,) and (N, 1) stand for each other
    if t.shape != y_pred.shape:
        sparse = who == "CategoricalCrossentropy" and t.ndim == y_pred.ndim - 1
        hint = " (integer class labels go with SparseCategoricalCrossentropy)" if sparse else ""
        raise ValueError(
            f"{who} expected y_true of shape {tuple(y_pred.shape)} like y_pred, "
            f"got {'none' if y_true is None else tuple(t.shape)}{hint}"
        )
    return t


def _check_labels(y_pred, y_true, who):
    """Integer labels of shape ``y_pred.shape[:-1]``, each in [0, K)."""
    xp = backend.get_array_module(y_pred)
    labels = xp.asarray(y_true)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"{who} expected integer class labels, got dtype {labels.dtype}; "
            "convert with y.astype('int64') (or use CategoricalCrossentropy for one-hot targets)"
        )
    expected = tuple(y_pred.shape[:-1])
    if labels.shape == expected + (1,):
        labels = labels.reshape(expected)
    if labels.shape != expected:
        raise ValueError(
            f"{who} expected labels of shape {expected} for predictions of shape "
            f"{tuple(y_pred.shape)}, got {tuple(labels.shape)}"
        )
    k = y_pred.shape[-1]
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= k):
        bad = int(labels.min()) if int(labels.min()) < 0 else int(labels.max())
        raise ValueError(f"{who} expected labels in [0, {k}) for {k} classes, got label {bad}")
    return labels


# ------------------------------------------------------------------ lookup by name
# (a library built on minidl may add its own losses to this table: LOSSES[name] = its class)
LOSSES = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "huber": Huber,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(spec) -> Loss:
    """A ``Loss`` from an instance, a name (``"mse"``, ...), or a saved config."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, str) and spec in LOSSES:
        return LOSSES[spec]()
    if isinstance(spec, dict) and spec.get("class") in {c.__name__ for c in LOSSES.values()}:
        cls = next(c for c in LOSSES.values() if c.__name__ == spec["class"])
        return cls(**spec.get("config", {}))
    raise ValueError(
        f"unknown loss {spec!r}; expected a minidl.nn.losses.Loss or one of "
        f"{sorted(set(LOSSES) - {'mean_squared_error'})}"
    )
