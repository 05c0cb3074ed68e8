"""NumPy reference kernels: the ground truth, written to be read.

One module per family of the contract (``kernels/contract.py``), named for it (``conv.py``,
``pool.py``, ...). Every function has a twin with the same name and signature in the module of
the same name in ``cpu/`` (Numba) and ``gpu/`` (CUDA). The package's names are the contract's
kernels, taken from those modules (``contract.tier_kernels``): ``reference.im2col`` is
``reference.conv.im2col``. The tests feed all tiers the same random inputs and require the same outputs,
so these files are the specification of what the fast tiers compute.

Conventions: images are NCHW, sequences (N, T, D); "in place" arguments are updated and
also documented as such; no function here allocates more than its outputs need.
"""

from ..contract import KERNELS, tier_kernels

globals().update(tier_kernels(__name__))  # every kernel of the contract, from its family's module

__all__ = list(KERNELS)
