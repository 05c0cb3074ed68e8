"""The Numba tier: twins of ``reference/`` with the same names, signatures and results.

One module per family of the contract, each beside its reference twin (``cpu/conv.py``
mirrors ``reference/conv.py``, as minitorch's ``fast_ops.py`` mirrors its plain ops): ``loss``,
``attention``, ``dropout``, ``optim``, ``conv``, ``pool``, ``batchnorm``, ``recurrent``;
``loops.py`` says how their loop nests are compiled (threads or not, reordered sums). Each
module says why its kernels are shaped as they are, and each kernel in one line.

``NUMBA_DISABLE_JIT=1`` turns every kernel back into plain Python for debugging. The
tunables live where they are read: ``cpu.loops.PARALLEL_MIN_ELEMENTS``,
``cpu.conv.CONV_TILE_BYTES``, ``cpu.conv.CONV_TILE_MAX_FILTERS`` (set them there).
"""

from .attention import masked_softmax, masked_softmax_backward
from .batchnorm import batchnorm_backward, batchnorm_forward
from .conv import (
    col2im,
    conv2d_backward,
    conv2d_forward,
    conv2d_route,
    conv2d_tile,
    conv2d_weight_gradient_shifted,
    im2col,
)
from .dropout import dropout_backward, dropout_forward
from .loops import serial_twin, threads_pay
from .loss import softmax_cross_entropy, softmax_cross_entropy_backward
from .optim import adagrad_update, adam_update, rmsprop_update, sgd_update
from .pool import avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward
from .recurrent import (
    gate_sigmoid,
    gate_tanh,
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
    "conv2d_route",
    "conv2d_tile",
    "conv2d_weight_gradient_shifted",
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
    "gate_tanh",
    "gate_sigmoid",
    "serial_twin",
    "threads_pay",
]
