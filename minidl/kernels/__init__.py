"""Kernels: the hot loops of minidl, in tiers that share one signature per function.

``contract.py`` declares every kernel (name, parameters, one line of math, family); each tier
below implements all of them, in a folder with one module per family (``reference/conv.py``
beside ``cpu/conv.py`` beside ``gpu/conv.py``), and ``tests/minidl/kernels/test_contract.py`` checks it.

* ``reference`` -- NumPy, written to be read; the ground truth every other tier is tested against.
* ``cpu``       -- Numba versions of the same functions (``njit``, ``parallel`` where it pays).
* ``gpu``       -- CuPy launchers of hand-written CUDA C in ``cuda/*.cu``.
* ``emulate``   -- runs those CUDA sources on the CPU so GPU code is tested without a GPU.

Layers never import a tier directly: they ask ``minidl.backend.kernels_for(x)``.
"""
