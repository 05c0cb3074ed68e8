"""NumPy reference kernels: the ground truth, written to be read.

One module per family of the contract (``kernels/contract.py``): ``loss``, ``attention``,
``dropout``, ``optim``, ``conv``, ``pool``, ``batchnorm``, ``recurrent``. Every function has a
twin with the same name and signature in the module of the same name in ``cpu/`` (Numba) and
``gpu/`` (CUDA). The tests feed all tiers the same random inputs and require the same outputs,
so these files are the specification of what the fast tiers compute.

Conventions: images are NCHW, sequences (N, T, D); "in place" arguments are updated and
also documented as such; no function here allocates more than its outputs need.
"""

from .attention import masked_softmax, masked_softmax_backward
from .batchnorm import batchnorm_backward, batchnorm_forward
from .conv import col2im, conv2d_backward, conv2d_forward, im2col
from .dropout import dropout_backward, dropout_forward
from .loss import softmax_cross_entropy, softmax_cross_entropy_backward
from .optim import adagrad_update, adam_update, rmsprop_update, sgd_update
from .pool import avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward
from .recurrent import (
    gru_backward_sequence,
    gru_cell_backward,
    gru_cell_forward,
    gru_forward_sequence,
    lstm_backward_sequence,
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_forward_sequence,
)

__all__ = [
    "softmax_cross_entropy",
    "softmax_cross_entropy_backward",
    "masked_softmax",
    "masked_softmax_backward",
    "dropout_forward",
    "dropout_backward",
    "sgd_update",
    "rmsprop_update",
    "adagrad_update",
    "adam_update",
    "im2col",
    "col2im",
    "conv2d_forward",
    "conv2d_backward",
    "max_pool_forward",
    "max_pool_backward",
    "avg_pool_forward",
    "avg_pool_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "lstm_cell_forward",
    "lstm_cell_backward",
    "gru_cell_forward",
    "gru_cell_backward",
    "lstm_forward_sequence",
    "lstm_backward_sequence",
    "gru_forward_sequence",
    "gru_backward_sequence",
]
