"""The Numba tier: twins of ``reference/`` with the same names, signatures and results.

One module per family of the contract, each beside its reference twin (``cpu/conv.py``
mirrors ``reference/conv.py``, as minitorch's ``fast_ops.py`` mirrors its plain ops), and the
package's names are the contract's kernels taken from them (``contract.tier_kernels``), with the
convolution's routes and ``loops.py``'s helpers; ``loops.py`` says how their loop nests are
compiled (threads or not, reordered sums). Each
module says why its kernels are shaped as they are, and each kernel in one line.

``NUMBA_DISABLE_JIT=1`` turns every kernel back into plain Python for debugging. The
tunables live where they are read: ``cpu.loops.PARALLEL_MIN_ELEMENTS``,
``cpu.conv.CONV_TILE_BYTES``, ``cpu.conv.CONV_TILE_MAX_FILTERS`` (set them there).

Importing the tier runs OpenBLAS's products on Numba's threads: one pool (``kernels.blas_pool``).
"""

from .. import blas_pool
from ..contract import KERNELS, tier_kernels
from . import loops
from .conv import conv2d_route, conv2d_tile, conv2d_weight_gradient_shifted
from .loops import serial_twin, threads_pay

globals().update(tier_kernels(__name__))  # every kernel of the contract, from its family's module
if blas_pool.share():  # one pool, awake between kernels and products: smaller kernels pay for threads
    loops.PARALLEL_MIN_ELEMENTS = loops.SHARED_POOL_MIN_ELEMENTS

# the contract's kernels, then what this tier adds (the convolution's routes, chapter 10's subject)
__all__ = [*KERNELS, "conv2d_route", "conv2d_tile", "conv2d_weight_gradient_shifted", "serial_twin"]
__all__ += ["threads_pay"]
